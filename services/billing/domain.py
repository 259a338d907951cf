"""Billing's pure rules (no I/O): who pays, in integer fen (R9, R16)."""
from __future__ import annotations


def chargeable(hardship: bool) -> bool:
    """Families in verified hardship are served free of charge (R9, R16)."""
    return not hardship
