"""People a guardian authorised to collect a child, until a day, and whether the guardian revoked them,
from PickupPersonAuthorised and PickupPersonRevoked (R11, issue 16).

Revision ID: attendance_0005
"""
import sqlalchemy as sa
from alembic import op

revision = "attendance_0005"
down_revision = "attendance_0004"


def upgrade() -> None:
    op.create_table(
        "pickup_persons",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("pickup_person_id", sa.Text, primary_key=True),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pickup_persons")
