"""Attendance schema: programme schedules and admitted staff, guardians, the day's attendance, ingested
records (the dedupe table), activities (exercise) and the timer sweep's marks.

Revision ID: attendance_0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "attendance_0002"
down_revision = "attendance_0001"


def upgrade() -> None:
    # The roster learns what handover (R11), absence (R12) and withdrawal dates (R1) need.
    op.add_column("roster", sa.Column("district_id", sa.Text))
    op.add_column("roster", sa.Column("class_teacher_id", sa.Text))
    op.add_column("roster", sa.Column("revoked_pickup_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    op.add_column("roster", sa.Column("withdrawn_from", sa.Date))
    op.create_index("roster_school_student", "roster", ["school_id", "student_id"])
    op.create_index("roster_programme", "roster", ["programme_id"])

    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False, index=True),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("sessions", JSONB, nullable=False),
        sa.Column("extended_care_until_local", sa.Text),
        sa.Column("staff_ids", JSONB, nullable=False),
        sa.Column("responsible_id", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "guardianships",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("guardian_id", sa.Text, primary_key=True),
        sa.Column("guardian_name", sa.Text, nullable=False),
        sa.Column("school_id", sa.Text, nullable=False),
    )
    op.create_index("guardianships_guardian", "guardianships", ["guardian_id"])
    op.create_table(
        "attendance_days",
        sa.Column("student_id", sa.Text, primary_key=True),
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("session_date", sa.Date, primary_key=True),
        sa.Column("school_id", sa.Text, nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True)),
        sa.Column("checked_in_by", sa.Text),
        sa.Column("checked_out_at", sa.DateTime(timezone=True)),
        sa.Column("handed_over_by", sa.Text),
        sa.Column("collected_by_id", sa.Text),
        sa.Column("collected_by_name", sa.Text),
        sa.Column("collected_by_relation", sa.Text),
        sa.Column("extended_care_minutes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("excused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("excuse_reason", sa.Text),
        sa.Column("absent_at", sa.DateTime(timezone=True)),
        sa.Column("extended_care_started_at", sa.DateTime(timezone=True)),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("attendance_days_school_date", "attendance_days", ["school_id", "session_date"])
    # The timer sweep looks for children still on site; after pickup that is a small part of the day.
    op.create_index("attendance_days_on_site", "attendance_days", ["session_date", "programme_id"],
                    postgresql_where=sa.text("checked_out_at is null"))
    op.create_table(
        "ingest_records",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason_code", sa.Text),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "activities",
        sa.Column("school_id", sa.Text, primary_key=True),
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("student_id", sa.Text, nullable=False),
        sa.Column("programme_id", sa.Text, nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("activity_id", sa.Text, nullable=False),
        sa.Column("tier", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("exercise_minutes", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
    )
    op.create_index("activities_school_date", "activities", ["school_id", "session_date"])
    op.create_table(
        "sweep_marks",
        sa.Column("programme_id", sa.Text, primary_key=True),
        sa.Column("session_date", sa.Date, primary_key=True),
        sa.Column("rule", sa.Text, primary_key=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
