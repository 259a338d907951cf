"""Verifiable fee ledger primitives, standard library and `cryptography` only, shared by the service
and the offline verifier: RFC 9162 Merkle trees (merkle), incremental integration and planned proofs
(tree), C2SP signed checkpoints (checkpoint), what an entry says about money (books), and the
receipt, consistency and export formats with their checks (bundles)."""
