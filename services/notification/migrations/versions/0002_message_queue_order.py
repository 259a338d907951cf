"""The sender's queue in claim order (urgent first, then oldest), so a claim reads a round's rows off
the index instead of sorting every pending message (the evening surge, R22).

Revision ID: notification_0002
Revises: notification_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notification_0002"
down_revision = "notification_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("messages_queue", "messages", [sa.text("urgent desc"), "id"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("messages_queue", table_name="messages")
