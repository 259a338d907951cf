"""Audit schema 7: the facts table of filed enrollments is called `enrollments`, the project's one spelling
(issue 19). A rename only: its rows, indexes and the writer's grants stay as they are.

Revision ID: audit_0007
"""
from alembic import op

revision = "audit_0007"
down_revision = "audit_0006"


def upgrade() -> None:
    op.execute("alter table if exists enrolments rename to enrollments")


def downgrade() -> None:
    op.execute("alter table if exists enrollments rename to enrolments")
