"""Billing's pure rules (no I/O, no contracts): the school's books, fee schedules, settlement on
actuals, payments, payouts and disclosure, all in integer fen (R2, R9, R10, R16-R21)."""
from services.billing.domain.books import (
    ACCOUNTS,
    EXPENSE_ACCOUNTS,
    Move,
    balances,
    expense_moves,
    expense_refusal,
    is_balanced,
    moves,
    subsidy_moves,
)
from services.billing.domain.calendar import (
    days_in,
    mask_from,
    mask_until,
    parse_period,
    period_mask,
    period_of,
)
from services.billing.domain.disclosure import Figures, disclosure_figures
from services.billing.domain.payments import Allocation, allocate_payment
from services.billing.domain.payouts import DistributionPlan, payout_fen, payout_moves, plan_in_force
from services.billing.domain.schedule import (
    ApprovedSchedule,
    FeeItem,
    Span,
    effective_cap,
    schedule_problems,
    spans_for,
)
from services.billing.domain.settlement import Account, ChargeLine, Statement, Usage, settle


class DomainError(ValueError):
    """A command that breaks a billing rule; `reasons` says each way it does, for a 4xx reply."""

    def __init__(self, reasons: list[str] | str, *, status: int = 422) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        self.status = status
        super().__init__("; ".join(self.reasons))


def chargeable(hardship: bool) -> bool:
    """Families in verified hardship are served free of charge (R9, R16)."""
    return not hardship


__all__ = [
    "ACCOUNTS", "EXPENSE_ACCOUNTS", "Account", "Allocation", "ApprovedSchedule", "ChargeLine",
    "DistributionPlan", "DomainError", "FeeItem", "Figures", "Move", "Span", "Statement", "Usage",
    "allocate_payment", "balances", "chargeable", "days_in", "disclosure_figures", "effective_cap",
    "expense_moves", "expense_refusal", "is_balanced", "mask_from", "mask_until", "moves", "parse_period",
    "payout_fen", "payout_moves", "period_mask", "period_of", "plan_in_force", "schedule_problems", "settle",
    "spans_for", "subsidy_moves",
]  # fmt: skip
