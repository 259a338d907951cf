"""Audit schema 4: the checkpoints the witnesses' quorum cosigned (issue 17; R26), kept so a restarted
audit process serves the newest cosigned checkpoint at once on /checkpoint and /v1/ledger/witnesses,
instead of nothing until the witnesses answer again. Append-only like the other ledger tables.

Revision ID: audit_0004
"""
from alembic import op

revision = "audit_0004"
down_revision = "audit_0003"

OWNER = "audit_ledger_owner"
WRITER = "audit_writer"


def upgrade() -> None:
    op.execute("""
        create table ledger_cosigned (
          tree_size bigint primary key,
          cosigned_note text not null,
          witnesses text[] not null,
          cosigned_at timestamptz not null default now()
        )
    """)
    op.execute("create trigger ledger_cosigned_no_change before update or delete on ledger_cosigned "
               "for each row execute function ledger_entries_append_only()")
    op.execute("create trigger ledger_cosigned_no_truncate before truncate on ledger_cosigned "
               "for each statement execute function ledger_entries_append_only()")
    op.execute(f"alter table ledger_cosigned owner to {OWNER}")
    op.execute(f"grant select, insert on ledger_cosigned to {WRITER}")
