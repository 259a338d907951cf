"""Billing schema: schedules, caps, attendance months, statements, payments, refunds, payouts,
expenses, subsidies, refusals, the journal, disclosures and settlement runs (R9, R10, R16-R21).

Revision ID: billing_0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "billing_0002"
down_revision = "billing_0001"


def _fen(name: str, nullable: bool = False) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.BigInteger)
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True))


def upgrade() -> None:
    op.drop_column("fee_accounts", "balance_fen")
    for column in (
        sa.Column("district_id", sa.Text),
        sa.Column("enrollment_id", sa.Text),
        sa.Column("application_id", sa.Text),
        sa.Column("extended_care", sa.Boolean, nullable=False, server_default=sa.false()),
        _fen("outstanding_fen"),
        _fen("credit_fen"),
        sa.Column("credit_payment_id", sa.Text),
        sa.Column("prepaid_period", sa.Text),
        sa.Column("withdrawn_on", sa.Date),
    ):
        op.add_column("fee_accounts", column)
    op.create_index("ix_fee_accounts_guardian_id", "fee_accounts", ["guardian_id"])
    op.create_index("ix_fee_accounts_programme_student", "fee_accounts", ["programme_id", "student_id"])

    op.create_table("schools", sa.Column("school_id", sa.Text, primary_key=True), sa.Column("district_id", sa.Text))
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("term", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        _fen("fee_per_session_fen"),
        _fen("extended_care_fee_per_session_fen"),
        _at("published_at"),
    )
    op.create_table(
        "hardship_verifications",
        sa.Column("application_id", sa.Text, primary_key=True),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("verified_by", sa.Text),
        sa.Column("verified_by_role", sa.Text),
    )
    # One row per student and month; the primary key leads with the programme so that a school's
    # settlement reads its students in key order and bit_or over a programme is an index range.
    op.create_table(
        "attendance_months",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("attended_mask", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extended_care_mask", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "staff_months",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("staff_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("session_mask", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extended_care_mask", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "fee_caps",
        sa.Column("scope", sa.Text, primary_key=True),
        _fen("cap_per_session_fen"),
        sa.Column("set_by", sa.Text, nullable=False),
        sa.Column("set_by_role", sa.Text, nullable=False),
        _at("set_at"),
    )
    op.create_table(
        "fee_schedules",
        sa.Column("fee_schedule_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("programme_id", sa.Text, nullable=False, index=True),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("parents_committee_agreed_on", sa.Date, nullable=False),
        sa.Column("parents_committee_ref", sa.Text, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_by_role", sa.Text, nullable=False),
        _at("submitted_at"),
        sa.Column("reviewed_by", sa.Text),
        sa.Column("reviewed_by_role", sa.Text),
        _at("reviewed_at"),
        sa.Column("review_reason", sa.Text),
        _fen("cap_per_session_fen", nullable=True),
    )
    op.create_table(
        "distribution_plans",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        _fen("per_session_fen"),
        _fen("extended_care_per_session_fen"),
        sa.Column("approval_ref", sa.Text, nullable=False),
        sa.Column("approved_on", sa.Date, nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("paid_from_account", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_by_role", sa.Text, nullable=False),
        _at("recorded_at"),
    )
    op.create_table(
        "statements",
        sa.Column("settlement_id", sa.Text, primary_key=True),
        sa.Column("student_id", sa.Text, nullable=False, index=True),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("hardship", sa.Boolean, nullable=False),
        sa.Column("sessions_provided", sa.Integer, nullable=False),
        sa.Column("sessions_attended", sa.Integer, nullable=False),
        sa.Column("extended_care_sessions", sa.Integer, nullable=False),
        _fen("charged_fen"),
        _fen("waived_fen"),
        _fen("paid_fen"),
        _fen("refund_due_fen"),
        _fen("outstanding_fen"),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("charge_ids", ARRAY(sa.Text), nullable=False),
        _at("settled_at"),
        # A month is settled once per student and programme: a second run finds the row and emits nothing.
        sa.UniqueConstraint("programme_id", "period", "student_id", name="uq_statements_month"),
    )
    op.create_index("ix_statements_school_period", "statements", ["school_id", "period"])
    op.create_index("ix_statements_charge_ids", "statements", ["charge_ids"], postgresql_using="gin")
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("external_ref", sa.Text, nullable=False, unique=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("student_id", sa.Text, nullable=False, index=True),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        _fen("amount_fen"),
        _fen("applied_fen"),
        _fen("credit_fen"),
        _fen("refunded_fen"),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("prepaid_period", sa.Text),
        sa.Column("deposited_to_account", sa.Text, nullable=False),
        sa.Column("applied", JSONB, nullable=False),
        _at("received_at"),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_by_role", sa.Text, nullable=False),
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False, index=True),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("settlement_id", sa.Text),
        _fen("amount_fen"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("paid_from_account", sa.Text, nullable=False),
        _at("issued_at"),
    )
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("staff_id", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("plan_id", sa.Text, nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("extended_care_sessions", sa.Integer, nullable=False),
        _fen("amount_fen"),
        _at("issued_at"),
        sa.UniqueConstraint("school_id", "period", "staff_id", name="uq_payouts_month"),
    )
    op.create_table(
        "expenses",
        sa.Column("expense_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("expense_ref", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        _fen("amount_fen"),
        sa.Column("payee", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("invoice_ref", sa.Text),
        sa.Column("spent_on", sa.Date, nullable=False),
        sa.Column("paid_from_account", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_by_role", sa.Text, nullable=False),
        _at("recorded_at"),
    )
    op.create_table(
        "subsidies",
        sa.Column("subsidy_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("subsidy_ref", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        _fen("amount_fen"),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("deposited_to_account", sa.Text, nullable=False),
        sa.Column("granted_by", sa.Text, nullable=False),
        sa.Column("granted_by_role", sa.Text, nullable=False),
        _at("granted_at"),
    )
    op.create_table(
        "refusals",
        sa.Column("refusal_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("district_id", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_by_role", sa.Text, nullable=False),
        _at("refused_at"),
    )
    op.create_table(
        "journal",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("posted_on", sa.Date, primary_key=True),
        sa.Column("event_type", sa.Text, primary_key=True),
        sa.Column("debit", sa.Text, primary_key=True),
        sa.Column("credit", sa.Text, primary_key=True),
        _fen("amount_fen"),
        sa.Column("entries", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "disclosures",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _at("published_at"),
    )
    op.create_table(
        "settlement_runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_by_role", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("summary", JSONB, nullable=False),
        _at("started_at"),
        _at("finished_at"),
    )
