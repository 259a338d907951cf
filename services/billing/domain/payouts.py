"""Staff labour fees under the school's approved distribution plan (劳务费分配方案), from sessions
each person actually ran (R19, R20): no session run, no pay; more sessions run, more pay."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.billing.domain.books import Move, moves


@dataclass(frozen=True)
class DistributionPlan:
    plan_id: str
    effective_from: date
    per_session_fen: int
    extended_care_per_session_fen: int


def payout_fen(plan: DistributionPlan, sessions: int, extended_care_sessions: int) -> int:
    """What one person earns for a month: each session run and each extended-care session supervised
    at the plan's rates (R20: pay leans toward those who take part)."""
    if sessions < 0 or extended_care_sessions < 0:
        raise ValueError("session counts cannot be negative")
    return sessions * plan.per_session_fen + extended_care_sessions * plan.extended_care_per_session_fen


def plan_in_force(plans: list[DistributionPlan], on: date) -> DistributionPlan | None:
    """The plan with the latest effective_from on or before `on`."""
    eligible = [p for p in plans if p.effective_from <= on]
    return max(eligible, key=lambda p: (p.effective_from, p.plan_id)) if eligible else None


def payout_moves(amount_fen: int) -> list[Move]:
    return moves(("staff_labour_fees", "bank", amount_fen))
