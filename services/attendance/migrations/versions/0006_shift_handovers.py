"""Staff shift handovers (交接班, R11): from whom to whom, when, which children.

Revision ID: attendance_0006
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "attendance_0006"
down_revision = "attendance_0005"


def upgrade() -> None:
    op.create_table(
        "shift_handovers",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("handover_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("from_staff_id", sa.Text, nullable=False),
        sa.Column("to_staff_id", sa.Text, nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("student_ids", ARRAY(sa.Text), nullable=False),
        sa.Column("refused", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
    )
    op.create_index("shift_handovers_by_day", "shift_handovers", ["school_id", "session_date"])


def downgrade() -> None:
    op.drop_table("shift_handovers")
