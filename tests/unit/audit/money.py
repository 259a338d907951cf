"""Builders of the events audit tests feed: fee records, enrollments and attendance, with every field a
valid value from the contracts' examples unless a test says otherwise. Money moves in the current
quarter by default, so no disclosure is due yet."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.audit.ledger.books import SCHOOL_TZ
from shared.contracts import attendance, billing, enrollment
from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.contracts.registry import encode, event_type
from shared.contracts.schema import example_payload
from shared.messaging.consumer import RawRecord

TODAY = datetime.now(SCHOOL_TZ).date()
# A day earlier this month (or today on the 1st): its quarter is the current one.
DAY = TODAY.replace(day=max(1, TODAY.day - 1))


def at(day: date, hour: int = 10) -> datetime:
    """A UTC instant on a school-local day."""
    return datetime.combine(day, time(hour), SCHOOL_TZ).astimezone(UTC)


def _build(cls: type[Event], fields: dict[str, Any], overrides: dict[str, Any]) -> Event:
    """The contract's example payload, with the builder's fields, then the test's own overrides."""
    return cls.model_validate({**example_payload(cls), **fields, **overrides})


def _postings(debit: str, credit: str, amount: int) -> list[dict]:
    return [{"debit": debit, "credit": credit, "amount_fen": amount}]


class School:
    """One school's ids, unique per test, and builders for its events."""

    def __init__(self, tag: str) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.school_id = f"sch-{tag}-{suffix}"
        self.district_id = f"dst-{tag}-{suffix}"
        self.programme_id = f"prg-{tag}-{suffix}"
        self.schedule_id = f"fsc-{tag}-{suffix}"
        self.account = f"acct-{tag}-{suffix}-main"
        self.plan_id = f"dpl-{tag}-{suffix}"
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self.school_id[4:]}-{self._n:04d}"

    def student(self) -> str:
        return self._id("stu")

    # -- the school's standards and facts --------------------------------------------------------
    def schedule(self, session_fen: int = 1500, extended_fen: int = 800, **kw: Any) -> Event:
        return _build(billing.FeeScheduleApproved, dict(
            fee_schedule_id=self.schedule_id, school_id=self.school_id, district_id=self.district_id,
            programme_id=self.programme_id, effective_from=(DAY - timedelta(days=60)).isoformat(),
            items=[{"category": "session", "amount_fen": session_fen, "unit": "per_session"},
                   {"category": "extended_care", "amount_fen": extended_fen, "unit": "per_session"}]), kw)

    def programme(self, session_fen: int = 1500, extended_fen: int = 800, **kw: Any) -> Event:
        return _build(enrollment.ProgrammePublished, dict(
            programme_id=self.programme_id, school_id=self.school_id, district_id=self.district_id,
            fee_per_session_fen=session_fen, extended_care_fee_per_session_fen=extended_fen), kw)

    def plan(self, per_session_fen: int = 1500, extended_fen: int = 800, **kw: Any) -> Event:
        """The school's labour-fee distribution plan (R20); payouts name it by default."""
        return _build(billing.DistributionPlanRecorded, dict(
            plan_id=self.plan_id, school_id=self.school_id, per_session_fen=per_session_fen,
            extended_care_per_session_fen=extended_fen, effective_from=(DAY - timedelta(days=60)).isoformat(),
            paid_from_account=self.account, recorded_at=at(DAY - timedelta(days=60))), kw)

    def enrollment(self, student: str, hardship: bool = False, **kw: Any) -> Event:
        return _build(enrollment.EnrollmentFiled, dict(
            enrollment_id=self._id("enr"), programme_id=self.programme_id, school_id=self.school_id,
            district_id=self.district_id, student_id=student, hardship=hardship), kw)

    def withdrawal(self, student: str, effective_on: date, **kw: Any) -> Event:
        return _build(enrollment.EnrollmentWithdrawn, dict(
            enrollment_id=self._id("enr"), programme_id=self.programme_id, school_id=self.school_id,
            student_id=student, effective_on=effective_on.isoformat()), kw)

    def check_in(self, student: str, day: date = DAY, staff: str = "stf-0311", **kw: Any) -> Event:
        return _build(attendance.StudentCheckedIn, dict(
            student_id=student, school_id=self.school_id, programme_id=self.programme_id,
            session_date=day.isoformat(), checked_in_at=at(day, 15), checked_in_by=staff), kw)

    def subsidy(self, amount: int = 500000, day: date = DAY, **kw: Any) -> Event:
        return _build(billing.SubsidyGranted, dict(
            subsidy_id=self._id("sub"), school_id=self.school_id, district_id=self.district_id, amount_fen=amount,
            deposited_to_account=self.account, period=f"{day.year:04d}-{day.month:02d}", granted_at=at(day),
            postings=_postings("bank", "government_subsidy", amount)), kw)

    # -- money --------------------------------------------------------------------------------------
    def charge(self, student: str, days: list[date] | None = None, unit_fen: int = 1500, quantity: int | None = None,
               amount: int | None = None, **kw: Any) -> Event:
        days = [DAY] if days is None else days
        quantity = quantity if quantity is not None else max(1, len(days))
        amount = amount if amount is not None else unit_fen * quantity
        first = min(days) if days else DAY
        return _build(billing.FeeCharged, dict(
            charge_id=self._id("chg"), school_id=self.school_id, programme_id=self.programme_id, student_id=student,
            fee_schedule_id=self.schedule_id, category="session", unit_price_fen=unit_fen, quantity=quantity,
            amount_fen=amount, period_start=first.replace(day=1).isoformat(),
            period_end=(max(days) if days else DAY).isoformat(), session_dates=[d.isoformat() for d in days],
            charged_at=at(DAY, 18), settlement_id=None,
            postings=_postings("parent_receivables", "fee_income", amount)), kw)

    def waiver(self, student: str, charge_id: str, amount: int, reason: str = "hardship", **kw: Any) -> Event:
        return _build(billing.FeeWaived, dict(
            waiver_id=self._id("wvr"), school_id=self.school_id, programme_id=self.programme_id, student_id=student,
            charge_id=charge_id, amount_fen=amount, reason=reason, waived_at=at(DAY, 19),
            postings=_postings("fee_waivers", "fee_income", amount)), kw)

    def payment(self, student: str, amount: int, **kw: Any) -> Event:
        return _build(billing.PaymentReceived, dict(
            payment_id=self._id("pay"), school_id=self.school_id, student_id=student, programme_id=self.programme_id,
            amount_fen=amount, deposited_to_account=self.account, received_at=at(DAY, 20), prepaid_period=None,
            postings=_postings("bank", "parent_receivables", amount)), kw)

    def settlement(self, student: str, paid: int, charged: int | None = None, **kw: Any) -> Event:
        charged = paid if charged is None else charged
        return _build(billing.FeeSettled, dict(
            settlement_id=self._id("stl"), school_id=self.school_id, programme_id=self.programme_id,
            student_id=student, period_start=DAY.replace(day=1).isoformat(), period_end=DAY.isoformat(),
            charged_fen=charged, waived_fen=0, paid_fen=paid, refund_due_fen=0, outstanding_fen=max(0, charged - paid),
            settled_at=at(DAY, 21), period=f"{DAY.year:04d}-{DAY.month:02d}", postings=[]), kw)

    def refund(self, student: str, amount: int, **kw: Any) -> Event:
        return _build(billing.RefundIssued, dict(
            refund_id=self._id("rfd"), school_id=self.school_id, student_id=student, amount_fen=amount,
            paid_from_account=self.account, issued_at=at(DAY, 21),
            postings=_postings("refunds_payable", "bank", amount)), kw)

    def payout(self, staff: str = "stf-0311", amount: int = 3000, sessions: int = 2, **kw: Any) -> Event:
        return _build(billing.PayoutIssued, dict(
            payout_id=self._id("pyo"), school_id=self.school_id, staff_id=staff, amount_fen=amount,
            category="labour_fee", distribution_plan_id=self.plan_id, period=f"{DAY.year:04d}-{DAY.month:02d}", sessions_delivered=sessions,
            paid_from_account=self.account, issued_at=at(DAY, 21), extended_care_sessions=None,
            postings=_postings("staff_labour_fees", "bank", amount)), kw)

    def expense(self, amount: int = 45000, category: str = "group_accident_insurance", **kw: Any) -> Event:
        account = {"staff_remuneration": "staff_labour_fees", "extra_hours_operating": "overtime_operating_costs",
                   "group_accident_insurance": "insurance"}[category]
        return _build(billing.ExpenseRecorded, dict(
            expense_id=self._id("exp"), school_id=self.school_id, category=category, amount_fen=amount,
            payee="中国人民财产保险", details="学生团体意外险", spent_on=DAY.isoformat(),
            paid_from_account=self.account, recorded_at=at(DAY, 21), postings=_postings(account, "bank", amount)), kw)

    def disclosure(self, start: date, end: date, **kw: Any) -> Event:
        zero = {k: 0 for k in ("students_served", "fee_income_fen", "subsidy_income_fen", "waived_fen", "refunded_fen",
                               "payouts_fen", "staff_remuneration_fen", "extra_hours_operating_fen",
                               "group_accident_insurance_fen", "balance_fen")}
        return _build(billing.DisclosurePublished, dict(
            disclosure_id=self._id("dsc"), school_id=self.school_id, district_id=self.district_id,
            period_start=start.isoformat(), period_end=end.isoformat(), ledger_tree_size=None, charged_fen=None,
            outstanding_fen=None, **zero), kw)


def envelope(event: Event, event_id: uuid.UUID | None = None, producer: str | None = None) -> Envelope:
    return new_envelope(event, producer=producer or event.topic.split(".")[0], event_id=event_id)


def record(item: Event | Envelope, offset: int = 0) -> RawRecord:
    """The Kafka record a producer would have written for the event."""
    env = item if isinstance(item, Envelope) else envelope(item)
    return RawRecord(event_type(env.type, env.version).topic, 0, offset, env.key.encode(), encode(env))
