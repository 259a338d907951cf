"""A family's monthly statements (FeeSettled, R17) for the parent's page, with the event id audit's receipt
of each is asked by.

Revision ID: portal_0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "portal_0003"
down_revision = "portal_0002"


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("settlement_id", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),  # the ledger entry's event: its receipt
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("document", JSONB, nullable=False),  # FeeSettled's payload as published
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("statements_guardian", "statements", ["guardian_id", "period_start"])


def downgrade() -> None:
    op.drop_table("statements")
