"""A school's books: the named accounts, balanced moves between them, and the R19 spending rule.

Every money event carries moves (debit one account, credit another, same amount), so each event
balances on its own and the per-school books balance whatever order events arrive in (R24, R25)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

# Debit-normal (assets, costs) and credit-normal (liabilities, income) accounts of one school.
ACCOUNTS: tuple[str, ...] = (
    "bank",  # the school's unified financial account: all income goes in, all spending out (R19)
    "parent_receivables",  # owed by families on their statements (R17)
    "parent_credit",  # prepayments and over-payments held for families until their next statement
    "refunds_payable",  # refunds found due and not yet paid out (R17)
    "fee_income",  # staff labour fees charged to families at the approved standard (R16)
    "fee_waivers",  # the standard fee of verified hardship students, waived (R9)
    "government_subsidy",  # budget money for utilities, materials and staff subsidies (R16)
    "staff_labour_fees",  # labour fees, subsidies and other staff remuneration paid (R19, R20)
    "overtime_operating_costs",  # operating costs caused by the extra hours (R19)
    "insurance",  # the students' group accident insurance (R19, R30)
)

# R19: fee income may be spent on these three things only; there is no "management fee" account.
EXPENSE_ACCOUNTS: dict[str, str] = {
    "staff_remuneration": "staff_labour_fees",
    "extra_hours_operating": "overtime_operating_costs",
    "group_accident_insurance": "insurance",
}

_FORBIDDEN = {
    "management_fee": "skimming a management fee (提取管理费) from fee income is forbidden (R19)",
    "管理费": "skimming a management fee (提取管理费) from fee income is forbidden (R19)",
}


class Move(NamedTuple):
    """amount_fen leaves `credit` and arrives in `debit`; both are accounts of the same school."""

    debit: str
    credit: str
    amount_fen: int


def moves(*candidates: tuple[str, str, int]) -> list[Move]:
    """The non-zero moves among candidates (a zero move carries no information)."""
    out = []
    for debit, credit, amount in candidates:
        if amount < 0:
            raise ValueError(f"a move of {amount} fen from {credit} to {debit} is negative")
        if amount:
            out.append(Move(debit, credit, amount))
    return out


def balances(all_moves: Iterable[Move]) -> dict[str, int]:
    """Each account's balance, debits positive and credits negative, in fen."""
    out = dict.fromkeys(ACCOUNTS, 0)
    for move in all_moves:
        out[move.debit] += move.amount_fen
        out[move.credit] -= move.amount_fen
    return out


def is_balanced(all_moves: Iterable[Move]) -> bool:
    """Debits equal credits: the balances of all accounts sum to zero (double entry)."""
    return sum(balances(all_moves).values()) == 0


def expense_refusal(category: str) -> str | None:
    """Why spending in `category` is refused, or None if it is one R19 allows."""
    if category in EXPENSE_ACCOUNTS:
        return None
    key = category.strip().lower().replace(" ", "_").replace("-", "_")
    if key in _FORBIDDEN or "management" in key or "管理费" in category:
        return _FORBIDDEN["management_fee"]
    allowed = ", ".join(EXPENSE_ACCOUNTS)
    return f"fee income may be spent only on {allowed} (R19); {category!r} is not one of them"


def subsidy_moves(amount_fen: int) -> list[Move]:
    """Budget money lands in the school's account, booked apart from parents' fees (R16)."""
    return moves(("bank", "government_subsidy", amount_fen))


def expense_moves(category: str, amount_fen: int) -> list[Move]:
    """Spending in an R19 category; raises for any other (callers check expense_refusal first)."""
    reason = expense_refusal(category)
    if reason:
        raise ValueError(reason)
    return moves((EXPENSE_ACCOUNTS[category], "bank", amount_fen))
