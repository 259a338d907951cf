"""Billing's tables (SQLModel rows); the migration in migrations/versions creates the same shapes."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from shared.messaging.tables import service_tables


def _at() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True)))


def _fen(default: int = 0) -> Any:
    return Field(default=default, sa_column=Column(BigInteger, nullable=False, server_default=str(default)))


BillingTable = service_tables()


class SchoolRow(BillingTable, table=True):
    """A school and the district responsible for it (R27), learnt from enrollment's events."""

    __tablename__ = "schools"

    school_id: str = Field(primary_key=True)
    district_id: str | None = None


class ProgrammeRow(BillingTable, table=True):
    """A published programme and its disclosed fee standard (R4, R7)."""

    __tablename__ = "programmes"

    programme_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    district_id: str
    term: str
    name: str
    fee_per_session_fen: int = _fen()
    extended_care_fee_per_session_fen: int = _fen()
    published_at: datetime | None = _at()


class HardshipVerificationRow(BillingTable, table=True):
    """Who verified a family's hardship status on which application (R9)."""

    __tablename__ = "hardship_verifications"

    application_id: str = Field(primary_key=True)
    student_id: str
    verified_by: str | None = None
    verified_by_role: str | None = None


class FeeAccountRow(BillingTable, table=True):
    """One per filed enrollment: what the family owes and holds is settled against it (R17)."""

    __tablename__ = "fee_accounts"

    student_id: str = Field(primary_key=True)
    programme_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    district_id: str | None = None
    guardian_id: str = Field(index=True)
    enrollment_id: str | None = None
    application_id: str | None = None
    hardship: bool
    chargeable: bool
    extended_care: bool = False
    outstanding_fen: int = _fen()
    credit_fen: int = _fen()
    credit_payment_id: str | None = None
    prepaid_period: str | None = None
    active: bool = True
    withdrawn_on: date | None = None
    opened_at: datetime | None = _at()


class AttendanceMonthRow(BillingTable, table=True):
    """A student's month of presence as bit masks (bit d-1 = day d); facts only ever OR in (R15, R17)."""

    __tablename__ = "attendance_months"

    programme_id: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    student_id: str = Field(primary_key=True)
    school_id: str
    attended_mask: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    extended_care_mask: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class StaffMonthRow(BillingTable, table=True):
    """The sessions a staff member actually ran in a month, as bit masks (R20, R28)."""

    __tablename__ = "staff_months"

    school_id: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    staff_id: str = Field(primary_key=True)
    programme_id: str = Field(primary_key=True)
    session_mask: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    extended_care_mask: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class FeeCapRow(BillingTable, table=True):
    """A cap per session set by the city ("city") or a district (its id) (R2, R10)."""

    __tablename__ = "fee_caps"

    scope: str = Field(primary_key=True)
    cap_per_session_fen: int = _fen()
    set_by: str
    set_by_role: str
    set_at: datetime | None = _at()


class FeeScheduleRow(BillingTable, table=True):
    """A school's proposed fee standard and its review by the district (R10)."""

    __tablename__ = "fee_schedules"

    fee_schedule_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    district_id: str
    programme_id: str = Field(index=True)
    items: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    parents_committee_agreed_on: date
    parents_committee_ref: str
    effective_from: date
    status: str = "submitted"
    submitted_by: str
    submitted_by_role: str
    submitted_at: datetime | None = _at()
    reviewed_by: str | None = None
    reviewed_by_role: str | None = None
    reviewed_at: datetime | None = _at()
    review_reason: str | None = None
    cap_per_session_fen: int | None = Field(default=None, sa_column=Column(BigInteger))


class DistributionPlanRow(BillingTable, table=True):
    """The school's labour-fee distribution plan (劳务费分配方案) (R20), proposed until the district of the
    school reviews it (R10): approved, or returned with the reason. Payouts follow approved plans only."""

    __tablename__ = "distribution_plans"

    plan_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    per_session_fen: int = _fen()
    extended_care_per_session_fen: int = _fen()
    approval_ref: str
    approved_on: date
    effective_from: date
    paid_from_account: str
    recorded_by: str
    recorded_by_role: str
    recorded_at: datetime | None = _at()
    review_status: str = "proposed"
    district_id: str | None = None
    reviewed_by: str | None = None
    reviewed_by_role: str | None = None
    reviewed_at: datetime | None = _at()
    review_reason: str | None = None


class StatementRow(BillingTable, table=True):
    """A student's monthly statement on actuals (R17); outstanding_fen falls as payments arrive."""

    __tablename__ = "statements"

    settlement_id: str = Field(primary_key=True)
    student_id: str = Field(index=True)
    programme_id: str
    period: str
    school_id: str
    guardian_id: str
    period_start: date
    period_end: date
    hardship: bool
    sessions_provided: int
    sessions_attended: int
    extended_care_sessions: int
    charged_fen: int = _fen()
    waived_fen: int = _fen()
    paid_fen: int = _fen()
    refund_due_fen: int = _fen()
    outstanding_fen: int = _fen()
    lines: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    charge_ids: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    settled_at: datetime | None = _at()


class PaymentRow(BillingTable, table=True):
    """A payment, recorded once per provider reference (R19, R22)."""

    __tablename__ = "payments"

    payment_id: str = Field(primary_key=True)
    external_ref: str = Field(unique=True)
    school_id: str = Field(index=True)
    student_id: str = Field(index=True)
    programme_id: str
    guardian_id: str
    amount_fen: int = _fen()
    applied_fen: int = _fen()
    credit_fen: int = _fen()
    refunded_fen: int = _fen()
    method: str
    prepaid_period: str | None = None
    deposited_to_account: str
    applied: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    received_at: datetime | None = _at()
    recorded_by: str
    recorded_by_role: str


class RefundRow(BillingTable, table=True):
    """Money returned to a family (R9, R17)."""

    __tablename__ = "refunds"

    refund_id: str = Field(primary_key=True)
    school_id: str
    student_id: str = Field(index=True)
    guardian_id: str
    payment_id: str
    settlement_id: str | None = None
    amount_fen: int = _fen()
    reason: str
    paid_from_account: str
    issued_at: datetime | None = _at()


class PayoutRow(BillingTable, table=True):
    """A staff member's labour fee for a month under the distribution plan (R20)."""

    __tablename__ = "payouts"

    payout_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    staff_id: str
    period: str
    plan_id: str
    sessions: int
    extended_care_sessions: int
    amount_fen: int = _fen()
    issued_at: datetime | None = _at()


class ExpenseRow(BillingTable, table=True):
    """Spending of fee income in an R19 category, once per school voucher reference."""

    __tablename__ = "expenses"

    expense_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    expense_ref: str
    category: str
    amount_fen: int = _fen()
    payee: str
    details: str
    invoice_ref: str | None = None
    spent_on: date
    paid_from_account: str
    recorded_by: str
    recorded_by_role: str
    recorded_at: datetime | None = _at()


class SubsidyRow(BillingTable, table=True):
    """Government money granted to a school, once per budget document reference (R16)."""

    __tablename__ = "subsidies"

    subsidy_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    subsidy_ref: str
    district_id: str
    amount_fen: int = _fen()
    purpose: str
    period: str
    deposited_to_account: str
    granted_by: str
    granted_by_role: str
    granted_at: datetime | None = _at()


class RefusalRow(BillingTable, table=True):
    """A refused money request (a management fee, spending outside R19), kept for the district (R19, R25)."""

    __tablename__ = "refusals"

    refusal_id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    school_id: str = Field(index=True)
    district_id: str | None = None
    kind: str
    reason: str
    request: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    requested_by: str
    requested_by_role: str
    refused_at: datetime | None = _at()


class JournalRow(BillingTable, table=True):
    """The school's books, summed per day, event type and pair of accounts (R19, R21, R24)."""

    __tablename__ = "journal"

    school_id: str = Field(primary_key=True)
    posted_on: date = Field(primary_key=True)
    event_type: str = Field(primary_key=True)
    debit: str = Field(primary_key=True)
    credit: str = Field(primary_key=True)
    amount_fen: int = _fen()
    entries: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class DisclosureRow(BillingTable, table=True):
    """A published income and spending disclosure (公示), as published (R21)."""

    __tablename__ = "disclosures"

    disclosure_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    period_start: date
    period_end: date
    body: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    published_at: datetime | None = _at()


class SettlementRunRow(BillingTable, table=True):
    """One month-end settlement of one school: who asked, when, and what it produced (R17, R27)."""

    __tablename__ = "settlement_runs"

    run_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    period: str
    trigger: str
    requested_by: str
    requested_by_role: str
    status: str
    summary: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    started_at: datetime | None = _at()
    finished_at: datetime | None = _at()
