"""Verifiable fee ledger primitives: RFC 9162 Merkle trees and C2SP signed checkpoints."""
