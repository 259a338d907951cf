"""Enrollment schema: kit tables, guardians, applications.

Revision ID: enrollment_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.messaging.tables import create_kit_tables

revision = "enrollment_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "guardians",
        sa.Column("guardian_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("student_ids", JSONB, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("phone_sealed", sa.Text, nullable=False),
        sa.Column("phone_masked", sa.Text, nullable=False),
        sa.Column("push_token_sealed", sa.Text),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("registered_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "applications",
        sa.Column("application_id", sa.Text, primary_key=True),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("request_digest", sa.Text, nullable=False),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False, index=True),
        sa.Column("student_name", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("on_behalf", sa.Boolean, nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("hardship", sa.Boolean, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    )
