"""People a guardian authorised to collect a child (R11, issue 16): name, relation, masked phone, valid
until; revoked_at set when the guardian revokes them.

Revision ID: enrollment_0003
"""
from alembic import op

revision = "enrollment_0003"
down_revision = "enrollment_0002"


def upgrade() -> None:
    op.execute("""create table pickup_persons (
        pickup_person_id text primary key, student_id text not null, guardian_id text not null, name text not null,
        relation text not null, phone_masked text not null, valid_until date not null,
        decided_at timestamptz not null, revoked_at timestamptz)""")
    op.execute("create index pickup_persons_student on pickup_persons (student_id)")


def downgrade() -> None:
    op.execute("drop table pickup_persons")
