"""Billing schema: kit tables and fee accounts.

Revision ID: billing_0001
"""
import sqlalchemy as sa
from alembic import op

from shared.messaging.tables import create_kit_tables

revision = "billing_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "fee_accounts",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("hardship", sa.Boolean, nullable=False),
        sa.Column("chargeable", sa.Boolean, nullable=False),
        sa.Column("balance_fen", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
    )
