"""Records are checked against what they claim (issue 14): a programme's activities, and what each record
that took effect first said, so a resend with other content is a conflict kept for review (R15).

Revision ID: attendance_0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "attendance_0003"
down_revision = "attendance_0002"


def upgrade() -> None:
    # {activity_id: tier} from ProgrammePublished; null for a programme stored before activities were kept
    # (its activity records are judged without the activity check until it is published again).
    op.add_column("programmes", sa.Column("activities", JSONB))
    # What the record claimed when it first took effect; null for records received before this revision
    # (a resend of those stays "already received").
    op.add_column("ingest_records", sa.Column("content", JSONB))
    op.create_table(
        "record_conflicts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("first_content", JSONB, nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resent_content", JSONB, nullable=False),
        sa.Column("resent_sha256", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # A gate retrying the same differing record is one case to review, not one per retry.
        sa.UniqueConstraint("school_id", "record_id", "resent_sha256", name="record_conflicts_once"),
    )
    op.create_index("record_conflicts_school_received", "record_conflicts", ["school_id", "received_at"])
