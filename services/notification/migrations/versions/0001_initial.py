"""Notification schema: kit tables, contacts, student links, students, preferences, messages (the
delivery log and local sink, also the sender's queue) and per-number daily send counts.

Revision ID: notification_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.messaging.tables import create_kit_tables

revision = "notification_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "contacts",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False, server_default="guardian"),
        sa.Column("locale", sa.Text, nullable=False, server_default="zh-CN"),
        sa.Column("name", sa.Text),
        sa.Column("school_id", sa.Text),
        sa.Column("district_id", sa.Text),
        sa.Column("phone_sealed", sa.Text),
        sa.Column("phone_masked", sa.Text),
        sa.Column("push_token_sealed", sa.Text),
        sa.Column("consent", sa.Boolean, nullable=False),
    )
    op.create_index("contacts_school", "contacts", ["school_id"], postgresql_where=sa.text("role = 'guardian'"))
    op.create_index("contacts_auditors", "contacts", ["district_id"], postgresql_where=sa.text("role = 'auditor'"))
    op.create_table(
        "student_guardians",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("guardian_id", sa.Text, primary_key=True),
    )
    op.create_index("student_guardians_guardian", "student_guardians", ["guardian_id"])
    op.create_table(
        "students",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
    )
    op.create_table(
        "preferences",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("channels", sa.Text, nullable=False),
        sa.Column("quiet_start", sa.Text),
        sa.Column("quiet_end", sa.Text),
        sa.Column("locale", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("out_id", sa.Text, nullable=False),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("recipient_role", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text),
        sa.Column("school_id", sa.Text),
        sa.Column("cause_event_type", sa.Text, nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.Text),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("plan", ARRAY(sa.Text), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("provider", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("channel_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("in_doubt", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("claim_token", UUID(as_uuid=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("push_cid", sa.Text),
        sa.Column("provider_message_id", sa.Text),
        sa.Column("to_masked", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("event_id", "recipient_id"),
    )
    op.create_index("messages_awaiting", "messages", ["recipient_id"], postgresql_where=sa.text("status = 'awaiting_contact'"))
    # The sender's queue: due messages, and claims whose lease may run out.
    op.create_index("messages_due", "messages", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_index("messages_claimed", "messages", ["lease_until"], postgresql_where=sa.text("status = 'sending'"))
    op.create_table(
        "send_counts",
        sa.Column("recipient_id", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False, server_default="0"),
    )
