"""Coercion reports (R1): a guardian reports pressure to enrol, anonymously. No guardian or student is stored;
the report id is derived from the guardian and their own key only so a resent report is the same report.

Revision ID: enrollment_0004
"""
from alembic import op

revision = "enrollment_0004"
down_revision = "enrollment_0003"


def upgrade() -> None:
    op.execute("""
        create table coercion_reports (
          report_id text primary key,
          school_id text not null,
          programme_id text,
          what_happened text not null,
          happened_on date not null,
          reported_at timestamptz not null
        )
    """)
    op.execute("create index coercion_reports_by_school on coercion_reports (school_id, reported_at)")


def downgrade() -> None:
    op.execute("drop table coercion_reports")
