"""Notification schema: kit tables, contacts, messages (the delivery log and local sink).

Revision ID: notification_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.messaging.tables import create_kit_tables

revision = "notification_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "contacts",
        sa.Column("guardian_id", sa.Text, primary_key=True),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("phone_sealed", sa.Text, nullable=False),
        sa.Column("phone_masked", sa.Text, nullable=False),
        sa.Column("push_token_sealed", sa.Text),
        sa.Column("consent", sa.Boolean, nullable=False),
        sa.Column("student_ids", JSONB, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("to_masked", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("correlation_id", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "recipient_id", "channel"),
    )
    op.create_index("messages_awaiting", "messages", ["recipient_id"], postgresql_where=sa.text("status = 'awaiting_contact'"))
