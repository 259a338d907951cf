"""The district's latest admission decision per staff member, from StaffAdmissionChanged (R28, issue 16):
a suspended or removed staff member is refused for every record from the next one on, whatever the
published programme lists.

Revision ID: attendance_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "attendance_0004"
down_revision = "attendance_0003"


def upgrade() -> None:
    op.create_table(
        "staff_admissions",
        sa.Column("staff_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("admission", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff_admissions")
