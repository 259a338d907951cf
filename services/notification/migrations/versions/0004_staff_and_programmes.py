"""Staff who answer for a child's safety (class teachers, programme leads, school safety contacts) with the
district's latest admission decision, and programme names, so alerts reach the responsible people and
messages name things instead of showing ids (issue 16, R11-R13, R22). Staff phone numbers and push tokens
live sealed in contacts, like guardians'.

Revision ID: notification_0004
Revises: notification_0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "notification_0004"
down_revision = "notification_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("staff_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("roles", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("class_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("programme_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        # Null until the district decides; suspended and removed staff get no alerts (R28).
        sa.Column("admission", sa.Text),
        sa.Column("admission_at", sa.DateTime(timezone=True)),
    )
    op.create_index("staff_school", "staff", ["school_id"])
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("programmes")
    op.drop_table("staff")
