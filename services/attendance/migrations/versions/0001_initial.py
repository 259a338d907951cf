"""Attendance schema: kit tables and the roster.

Revision ID: attendance_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.messaging.tables import create_kit_tables

revision = "attendance_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "roster",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("student_name", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("authorised_pickup_ids", JSONB, nullable=False),
        sa.Column("extended_care", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True)),
    )
