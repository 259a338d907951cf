"""Payments: how a family's money is applied to its statements, held as credit or refunded (R9, R17, R19)."""
from __future__ import annotations

from dataclasses import dataclass

from services.billing.domain.books import Move, moves


@dataclass(frozen=True)
class Allocation:
    """Where one payment went: statements it paid (oldest first), credit kept, and any refund."""

    applied: tuple[tuple[str, int], ...]
    to_credit_fen: int
    to_refund_fen: int

    @property
    def applied_fen(self) -> int:
        return sum(fen for _, fen in self.applied)

    def payment_moves(self) -> list[Move]:
        # All of it goes into the school's unified account first (R19), then is owed back or held.
        return moves(("bank", "parent_receivables", self.applied_fen),
                     ("bank", "parent_credit", self.to_credit_fen),
                     ("bank", "refunds_payable", self.to_refund_fen))

    def refund_moves(self) -> list[Move]:
        return moves(("refunds_payable", "bank", self.to_refund_fen))


def allocate_payment(amount_fen: int, open_statements: list[tuple[str, int]], *, hardship: bool,
                     preferred: frozenset[str] = frozenset()) -> Allocation:
    """Apply `amount_fen` to open statements ((id, outstanding_fen), oldest first; those the payer
    named in `preferred` first of all). What is left is held as credit for the next statement,
    whose settlement refunds any of it not used (R17). A hardship family owes nothing, so its
    money goes straight back (R9)."""
    if amount_fen <= 0:
        raise ValueError(f"a payment of {amount_fen} fen is not a payment")
    if hardship:
        return Allocation((), 0, amount_fen)
    ordered = [s for s in open_statements if s[0] in preferred] + [s for s in open_statements if s[0] not in preferred]
    left = amount_fen
    applied: list[tuple[str, int]] = []
    for statement_id, outstanding in ordered:
        if left == 0:
            break
        take = min(left, outstanding)
        if take > 0:
            applied.append((statement_id, take))
            left -= take
    return Allocation(tuple(applied), left, 0)
