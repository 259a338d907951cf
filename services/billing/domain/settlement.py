"""Settlement on actuals: one student's statement for one month (R9, R13, R17).

Charges are the sessions the student actually attended times the approved rate; extended care is
charged per session at the approved rate to families who asked for it, never as a late fee (R8, R13);
a verified hardship student is charged nothing and the standard amount is waived (R9). Credit the
family holds (a prepayment for the month, an earlier over-payment) pays the statement first; what is
left was paid for sessions not delivered and is refunded (R17)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from services.billing.domain.books import Move, moves
from services.billing.domain.calendar import mask_until, period_mask
from services.billing.domain.schedule import Span


@dataclass(frozen=True)
class Account:
    """What settlement needs of a family's fee account."""

    hardship: bool
    extended_care: bool
    credit_fen: int = 0
    prepaid_period: str | None = None
    withdrawn_on: date | None = None


@dataclass(frozen=True)
class Usage:
    """Days of the month the student was present, and days they stayed in extended care."""

    attended_mask: int = 0
    extended_care_mask: int = 0


@dataclass(frozen=True)
class ChargeLine:
    fee_schedule_id: str
    category: str
    unit_price_fen: int
    quantity: int
    mask: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Statement:
    period: str
    hardship: bool
    sessions_provided: int
    sessions_attended: int
    extended_care_sessions: int
    lines: tuple[ChargeLine, ...]
    standard_fen: int
    waived_fen: int
    credit_applied_fen: int
    refund_due_fen: int
    refund_reason: str | None

    @cached_property  # read several times for each of a month-end's statements
    def charged_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @cached_property
    def outstanding_fen(self) -> int:
        return self.charged_fen - self.credit_applied_fen

    def charge_moves(self, line: ChargeLine) -> list[Move]:
        return moves(("parent_receivables", "fee_income", line.amount_fen))

    def waiver_moves(self) -> list[Move]:
        # The standard is earned and waived in the same breath: income nets to zero, and the
        # disclosure shows what hardship families were spared (R9, R21).
        return moves(("fee_waivers", "fee_income", self.waived_fen))

    def settlement_moves(self) -> list[Move]:
        return moves(("parent_credit", "parent_receivables", self.credit_applied_fen),
                     ("parent_credit", "refunds_payable", self.refund_due_fen))

    def refund_moves(self) -> list[Move]:
        return moves(("refunds_payable", "bank", self.refund_due_fen))

    def all_moves(self) -> list[Move]:
        out = [m for line in self.lines for m in self.charge_moves(line)]
        return out + self.waiver_moves() + self.settlement_moves() + self.refund_moves()


def settle(account: Account, usage: Usage, provided_mask: int, spans: list[Span], period: str) -> Statement:
    """The month's statement. `provided_mask` holds the days the school actually ran the session."""
    served = mask_until(account.withdrawn_on, period)  # R1: nothing on or after the withdrawal
    provided = provided_mask & served & period_mask(period)
    attended = usage.attended_mask & provided
    extended = usage.extended_care_mask & attended
    lines: list[ChargeLine] = []
    for span in spans:
        days = attended & span.mask
        if span.schedule.session_fen and days:
            lines.append(ChargeLine(span.schedule.fee_schedule_id, "session", span.schedule.session_fen,
                                    days.bit_count(), days))
        # R8/R13: extended care is charged to families who asked for it, at the approved rate per
        # session however late the pickup; a child kept past the end otherwise is cared for free.
        care = extended & span.mask
        if account.extended_care and span.schedule.extended_care_fen and care:
            lines.append(ChargeLine(span.schedule.fee_schedule_id, "extended_care", span.schedule.extended_care_fen,
                                    care.bit_count(), care))
    standard = sum(line.amount_fen for line in lines)
    if account.hardship:
        lines, waived = [], standard
    else:
        waived = 0
    charged = sum(line.amount_fen for line in lines)
    applied = min(account.credit_fen, charged)
    left = account.credit_fen - applied
    if left and account.withdrawn_on is not None:
        reason = "withdrawn"
    elif left and account.hardship:
        reason = "hardship"
    elif left and account.prepaid_period == period:
        reason = "session_not_provided"
    elif left:
        reason = "overpaid"
    else:
        reason = None
    return Statement(
        period=period,
        hardship=account.hardship,
        sessions_provided=provided.bit_count(),
        sessions_attended=attended.bit_count(),
        extended_care_sessions=extended.bit_count(),
        lines=tuple(lines),
        standard_fen=standard,
        waived_fen=waived,
        credit_applied_fen=applied,
        refund_due_fen=left,
        refund_reason=reason,
    )
