"""Distribution plans are reviewed by the district (R10): a plan a school records is proposed until the
district of the school approves it or returns it with a reason; payouts follow approved plans only (R20).
Plans recorded before this review existed were already in force and stay approved.

Revision ID: billing_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "billing_0003"
down_revision = "billing_0002"


def upgrade() -> None:
    # Existing rows were in force before review existed: they start approved; new rows start proposed.
    op.add_column("distribution_plans", sa.Column("review_status", sa.Text, nullable=False, server_default="approved"))
    op.alter_column("distribution_plans", "review_status", server_default="proposed")
    op.add_column("distribution_plans", sa.Column("district_id", sa.Text))
    op.add_column("distribution_plans", sa.Column("reviewed_by", sa.Text))
    op.add_column("distribution_plans", sa.Column("reviewed_by_role", sa.Text))
    op.add_column("distribution_plans", sa.Column("reviewed_at", sa.DateTime(timezone=True)))
    op.add_column("distribution_plans", sa.Column("review_reason", sa.Text))
    op.create_check_constraint("distribution_plans_review_status", "distribution_plans",
                               "review_status in ('proposed', 'approved', 'returned')")


def downgrade() -> None:
    op.drop_constraint("distribution_plans_review_status", "distribution_plans")
    for column in ("review_reason", "reviewed_at", "reviewed_by_role", "reviewed_by", "district_id", "review_status"):
        op.drop_column("distribution_plans", column)
