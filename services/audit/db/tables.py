"""Audit's tables as SQLAlchemy Core, mirroring migrations 0001-0005; no queries here.

They live in audit's own MetaData rather than SQLModel's process-wide one: other services also have
tables called programmes, fee_schedules or disclosures, and tests import several services at once.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()

# R24: one row per fee record, gap-free seq = leaf index; the writer role may only insert and read.
ledger_entries = Table(
    "ledger_entries", metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("school_id", Text, nullable=False),
    Column("district_id", Text),
    Column("student_id", Text),
    Column("category", Text, nullable=False),
    Column("subcategory", Text),
    Column("period", Text, nullable=False),
    Column("amount_fen", BigInteger),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True)),
    # Entry format 2 (migration 0005): `body` is the leaf with personal fields committed, and this is what
    # opens them (salt and values, compact JSON), never published; null for a format-1 entry, whose body
    # is the event as published.
    Column("opening", LargeBinary),
)

# Which entry each disclosure is (R21): its public page fetches it by disclosure id.
ledger_disclosures = Table(
    "ledger_disclosures", metadata,
    Column("disclosure_id", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

# Hashes of complete aligned subtrees of 256 leaves or more (tlog-tiles), written once.
ledger_nodes = Table(
    "ledger_nodes", metadata,
    Column("level", SmallInteger, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints", metadata,
    Column("tree_size", BigInteger, primary_key=True),
    Column("root_hash", LargeBinary, nullable=False),
    Column("peaks", LargeBinary, nullable=False),
    Column("signed_note", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
)

# Deliveries refused because their event id was already recorded with other bytes (R24).
ledger_conflicts = Table(
    "ledger_conflicts", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True)),
)

anomalies = Table(
    "anomalies", metadata,
    Column("anomaly_id", Text, primary_key=True),
    Column("dedup_key", Text, nullable=False, unique=True),
    Column("check_name", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("school_id", Text, nullable=False),
    Column("district_id", Text),
    Column("student_id", Text),
    Column("period", Text),
    Column("amount_fen", BigInteger),
    Column("subject_event_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("ledger_indexes", ARRAY(BigInteger), nullable=False),
    Column("ledger_tree_size", BigInteger),
    Column("detail", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
)

audit_cursor = Table(
    "audit_cursor", metadata,
    Column("id", Integer, primary_key=True),
    Column("checked_size", BigInteger, nullable=False),
)

school_books = Table(
    "school_books", metadata,
    Column("school_id", Text, primary_key=True),
    Column("books", JSONB, nullable=False),
    Column("as_of_size", BigInteger, nullable=False),
)

school_districts = Table(
    "school_districts", metadata,
    Column("school_id", Text, primary_key=True),
    Column("district_id", Text, nullable=False),
)

school_accounts = Table(
    "school_accounts", metadata,
    Column("school_id", Text, primary_key=True),
    Column("account", Text, primary_key=True),
)

programmes = Table(
    "programmes", metadata,
    Column("programme_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("district_id", Text),
    Column("fee_per_session_fen", BigInteger, nullable=False),
    Column("extended_care_fee_per_session_fen", BigInteger, nullable=False),
)

fee_schedules = Table(
    "fee_schedules", metadata,
    Column("fee_schedule_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("programme_id", Text, nullable=False),
    Column("items", JSONB, nullable=False),
    Column("effective_from", Date, nullable=False),
)

enrollments = Table(
    "enrollments", metadata,
    Column("student_id", Text, primary_key=True),
    Column("programme_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("hardship", Boolean, nullable=False),
    Column("withdrawn_on", Date),
)

sessions_held = Table(
    "sessions_held", metadata,
    Column("school_id", Text, primary_key=True),
    Column("programme_id", Text, primary_key=True),
    Column("session_date", Date, primary_key=True),
)

staff_sessions = Table(
    "staff_sessions", metadata,
    Column("school_id", Text, primary_key=True),
    Column("staff_id", Text, primary_key=True),
    Column("session_date", Date, primary_key=True),
)

waivers = Table(
    "waivers", metadata,
    Column("waiver_id", Text, primary_key=True),
    Column("charge_id", Text),
    Column("reason", Text, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
)

student_cash = Table(
    "student_cash", metadata,
    Column("school_id", Text, primary_key=True),
    Column("student_id", Text, primary_key=True),
    Column("deposited_fen", BigInteger, nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
)

disclosure_periods = Table(
    "disclosure_periods", metadata,
    Column("school_id", Text, primary_key=True),
    Column("period", Text, primary_key=True),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", Text, nullable=False),
)

disclosures = Table(
    "disclosures", metadata,
    Column("disclosure_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
)

# R20: the approved labour-fee rates each payout names (migration 0003).
distribution_plans = Table(
    "distribution_plans", metadata,
    Column("plan_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("per_session_fen", BigInteger, nullable=False),
    Column("extended_care_per_session_fen", BigInteger, nullable=False),
    Column("approval_ref", Text, nullable=False),
    Column("approved_on", Date, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("paid_from_account", Text, nullable=False),
)


# R1: applications schools entered on families' behalf, which the coercion check reads (migration 0006).
staff_entered_applications = Table(
    "staff_entered_applications", metadata,
    Column("application_id", Text, primary_key=True),
    Column("school_id", Text, nullable=False),
    Column("programme_id", Text, nullable=False),
    Column("submitted_by", Text, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
)
