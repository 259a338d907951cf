"""Portal schema: kit tables and the read models the pages are served from (issue 18): programmes and
disclosures (public), the newest checkpoint, enrollments and today's check-ins and check-outs (the parent's
view), anomalies (the auditor's console).

Revision ID: portal_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.messaging.tables import create_kit_tables

revision = "portal_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("school_name", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("term", sa.Text, nullable=False),
        sa.Column("document", JSONB, nullable=False),  # ProgrammePublished as published
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("programmes_school", "programmes", ["school_id"])
    op.create_index("programmes_district", "programmes", ["district_id", "school_id"])
    op.create_table(
        "disclosures",
        sa.Column("disclosure_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("document", JSONB, nullable=False),  # DisclosurePublished as published
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("disclosures_school", "disclosures", ["school_id", "period_end"])
    op.create_table(
        "checkpoints",
        sa.Column("log_id", sa.Text, primary_key=True),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.Text, nullable=False),
        sa.Column("signed_note", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "enrollments",
        sa.Column("enrollment_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("student_name", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("extended_care", sa.Boolean, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_on", sa.Date),
    )
    op.create_index("enrollments_guardian", "enrollments", ["guardian_id"])
    op.create_index("enrollments_student", "enrollments", ["student_id"])
    op.create_table(
        "days",  # a student's check-in and check-out of one session day
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("session_date", sa.Date, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True)),
        sa.Column("checked_out_at", sa.DateTime(timezone=True)),
        sa.Column("collected_by_name", sa.Text),
        sa.Column("collected_by_relation", sa.Text),
        sa.Column("handed_over_by", sa.Text),
        sa.Column("extended_care_minutes", sa.Integer),
    )
    op.create_table(
        "staff",  # names for the parent's view: who handed a child over (never an id)
        sa.Column("staff_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "anomalies",
        sa.Column("anomaly_id", sa.Text, primary_key=True),
        sa.Column("check", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("district_id", sa.Text),
        sa.Column("amount_fen", sa.BigInteger),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("ledger_indexes", ARRAY(sa.BigInteger), nullable=False),
        sa.Column("ledger_tree_size", sa.BigInteger),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("anomalies_detected", "anomalies", ["detected_at"])


def downgrade() -> None:
    for table in ("anomalies", "staff", "days", "enrollments", "checkpoints", "disclosures", "programmes"):
        op.drop_table(table)
