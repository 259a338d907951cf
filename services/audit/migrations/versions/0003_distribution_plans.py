"""Audit schema 3: the staff labour-fee distribution plans (劳务费分配方案) billing publishes, which every
labour-fee payout is judged against (R20, R25).

Revision ID: audit_0003
"""
from alembic import op

revision = "audit_0003"
down_revision = "audit_0002"

WRITER = "audit_writer"


def upgrade() -> None:
    # Derived state like the other facts tables: rebuilt from billing.events, so the writer may change it.
    op.execute("""
        create table distribution_plans (
          plan_id text primary key,
          school_id text not null,
          per_session_fen bigint not null,
          extended_care_per_session_fen bigint not null,
          approval_ref text not null,
          approved_on date not null,
          effective_from date not null,
          paid_from_account text not null
        )
    """)
    op.execute(f"grant select, insert, update, delete on distribution_plans to {WRITER}")

