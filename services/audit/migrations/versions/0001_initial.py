"""Audit schema: kit tables, the append-only ledger and its head.

Revision ID: audit_0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from shared.messaging.tables import create_kit_tables

revision = "audit_0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ledger_head_single_row"),
    )
    op.execute("insert into ledger_head (id, size) values (1, 0)")
    # R24: entries are never changed or removed, by anyone, through any role.
    op.execute(
        """
        create function ledger_entries_append_only() returns trigger language plpgsql as $$
        begin
          raise exception 'the fee ledger is append-only: % refused', tg_op using errcode = '42501';
        end $$;
        """
    )
    op.execute(
        "create trigger ledger_entries_no_change before update or delete on ledger_entries "
        "for each row execute function ledger_entries_append_only()"
    )
    op.execute(
        "create trigger ledger_entries_no_truncate before truncate on ledger_entries "
        "for each statement execute function ledger_entries_append_only()"
    )
