"""Emergency broadcasts (issue 16): who sent which notice to which school, district or the city and why,
with the fan-out cursor that lets a city-wide broadcast resume after a crash; and which district each
school belongs to, so a district's broadcast finds its families.

Revision ID: notification_0003
Revises: notification_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "notification_0003"
down_revision = "notification_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("broadcast_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("scope_id", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        sa.Column("issued_by_role", sa.Text, nullable=False),
        sa.Column("issuer_school_id", sa.Text),
        sa.Column("issuer_district_id", sa.Text),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.Text),
        sa.Column("cursor", sa.Text),
        sa.Column("fanned_out", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True)),
        # A retried POST (same caller, same key) finds the broadcast it already made.
        sa.UniqueConstraint("issued_by", "idempotency_key"),
    )
    op.create_index("broadcasts_open", "broadcasts", ["issued_at"], postgresql_where=sa.text("fanned_out_at is null"))
    # A school's (or a district's schools') contacts in id order, so each chunk of a fan-out is read off the
    # index from its cursor instead of filtering the city's contacts (contacts_school holds guardians only).
    op.create_index("contacts_school_recipient", "contacts", ["school_id", "recipient_id"])
    op.create_table(
        "school_districts",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("district_id", sa.Text, nullable=False),
    )
    op.create_index("school_districts_district", "school_districts", ["district_id"])


def downgrade() -> None:
    op.drop_index("contacts_school_recipient", table_name="contacts")
    op.drop_table("school_districts")
    op.drop_table("broadcasts")
