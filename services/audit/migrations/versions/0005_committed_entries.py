"""Audit schema 5: entry format 2 (issue 17 part 3; R24, R26, R27). Each new entry's personal fields are
salted commitments in its leaf; what opens them (the salt and the values) is kept here, beside the
entry, and never published. Existing (format 1) entries keep their bytes and have no opening. Disclosures are found by id
for their public page (R21). Both append-only like the other ledger tables.

Revision ID: audit_0005
"""
from alembic import op

revision = "audit_0005"
down_revision = "audit_0004"

OWNER = "audit_ledger_owner"
WRITER = "audit_writer"


def upgrade() -> None:
    # A new nullable column is a catalogue change only: no row is rewritten, and the append-only
    # triggers (which refuse UPDATE) stay as they are.
    op.execute("alter table ledger_entries add column opening bytea")
    op.execute("""
        create table ledger_disclosures (
          disclosure_id text primary key,
          seq bigint not null
        )
    """)
    op.execute("create trigger ledger_disclosures_no_change before update or delete on ledger_disclosures "
               "for each row execute function ledger_entries_append_only()")
    op.execute("create trigger ledger_disclosures_no_truncate before truncate on ledger_disclosures "
               "for each statement execute function ledger_entries_append_only()")
    # Disclosures recorded before this revision get their page too (their entries are of format 1, and a
    # disclosure names no one: only the school's figures).
    op.execute("""
        insert into ledger_disclosures (disclosure_id, seq)
        select convert_from(body, 'UTF8')::jsonb #>> '{payload,disclosure_id}', seq from ledger_entries
        where event_type = 'DisclosurePublished' order by seq
        on conflict (disclosure_id) do nothing
    """)
    op.execute(f"alter table ledger_disclosures owner to {OWNER}")
    op.execute("revoke all on ledger_disclosures from public")
    op.execute(f"grant select, insert on ledger_disclosures to {WRITER}")
