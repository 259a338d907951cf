"""The messages sent to each guardian (NotificationSent, R22, R23), what each was about and by which
channel, the newest 30 days, for the parent's page.

Revision ID: portal_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "portal_0004"
down_revision = "portal_0003"


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("notification_id", sa.Text, primary_key=True),
        sa.Column("recipient_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text),
        sa.Column("school_id", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("messages_recipient", "messages", ["recipient_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("messages")
