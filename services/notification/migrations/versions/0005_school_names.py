"""Schools' names as families know them (ProgrammePublished.school_name), so disclosures and alerts name
the school instead of showing its id (issue 16, R23).

Revision ID: notification_0005
Revises: notification_0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notification_0005"
down_revision = "notification_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_names",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("school_names")
