"""Audit schema 6: applications schools entered on families' behalf, the facts the R1 coercion check
(coerced_applications) reads: a run of them by one staff member for one programme within minutes.

Revision ID: audit_0006
"""
from alembic import op

revision = "audit_0006"
down_revision = "audit_0005"

WRITER = "audit_writer"


def upgrade() -> None:
    # Derived state like the other facts tables: rebuilt from enrollment.events, so the writer may change it.
    op.execute("""
        create table staff_entered_applications (
          application_id text primary key,
          school_id text not null,
          programme_id text not null,
          submitted_by text not null,
          submitted_at timestamptz not null,
          event_id uuid not null
        )
    """)
    op.execute("create index staff_entered_applications_by_staff on staff_entered_applications "
               "(school_id, programme_id, submitted_by, submitted_at)")
    op.execute(f"grant select, insert, update, delete on staff_entered_applications to {WRITER}")


def downgrade() -> None:
    op.execute("drop table staff_entered_applications")
