"""Audit's pure rules (no I/O): which events are money events, and what a ledger leaf is (R24)."""
from __future__ import annotations

from shared.contracts.envelope import Envelope
from shared.contracts.registry import encode

# Every money event becomes exactly one ledger entry (R24).
MONEY_EVENTS = (
    "FeeCharged",
    "FeeWaived",
    "SubsidyGranted",
    "PaymentReceived",
    "FeeSettled",
    "RefundIssued",
    "PayoutIssued",
    "ExpenseRecorded",
)


def leaf_bytes(envelope: Envelope) -> bytes:
    """The bytes hashed into the Merkle tree: the event exactly as published, canonical JSON."""
    return encode(envelope)
