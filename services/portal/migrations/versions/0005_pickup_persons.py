"""Who else may collect each child (PickupPersonAuthorised, PickupPersonRevoked; R11), for the parent's page
where they are named and revoked.

Revision ID: portal_0005
"""
import sqlalchemy as sa
from alembic import op

revision = "portal_0005"
down_revision = "portal_0004"


def upgrade() -> None:
    op.create_table(
        "pickup_persons",
        sa.Column("pickup_person_id", sa.Text, primary_key=True),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("guardian_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("relation", sa.Text, nullable=False),
        sa.Column("phone_masked", sa.Text, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("pickup_persons_student", "pickup_persons", ["student_id"])


def downgrade() -> None:
    op.drop_table("pickup_persons")
