"""A day's exercise minutes per student (R14: 30 a day), for the bureau's dashboard.

Revision ID: portal_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "portal_0002"
down_revision = "portal_0001"


def upgrade() -> None:
    op.add_column("days", sa.Column("exercise_minutes", sa.Integer, nullable=False, server_default="0"))
    op.create_index("days_date_school", "days", ["session_date", "school_id"])


def downgrade() -> None:
    op.drop_index("days_date_school", "days")
    op.drop_column("days", "exercise_minutes")
