"""Enrollment schema: reference data, programmes, and the application workflow's columns.

Revision ID: enrollment_0002
"""
from alembic import op

revision = "enrollment_0002"
down_revision = "enrollment_0001"

_UPDATED = "updated_at timestamptz not null default now()"

STATEMENTS = [
    f"""create table districts (
        district_id text primary key, name text not null, off_work_local text,
        row_digest text not null, {_UPDATED})""",
    f"""create table schools (
        school_id text primary key, district_id text not null, name text not null, kind text not null,
        row_digest text not null, {_UPDATED})""",
    "create index schools_district on schools (district_id)",
    f"""create table classes (
        class_id text primary key, school_id text not null, grade integer not null, name text not null,
        class_teacher_id text, row_digest text not null, {_UPDATED})""",
    "create index classes_school on classes (school_id)",
    f"""create table staff (
        staff_id text primary key, school_id text not null, name text not null, kind text not null,
        position text, organisation text, admission text not null, admission_checked_on date,
        admission_changed_by text, row_digest text not null, {_UPDATED})""",
    "create index staff_school on staff (school_id)",
    f"""create table students (
        student_id text primary key, school_id text not null, class_id text, name text not null,
        grade integer not null, eligible boolean not null, row_digest text not null, {_UPDATED})""",
    "create index students_school on students (school_id)",
    "alter table guardians add column row_digest text",
    f"alter table guardians add column {_UPDATED}",
    # Who else may collect a child (R11) is every guardian listing the child: a containment lookup.
    "create index guardians_students on guardians using gin (student_ids jsonb_path_ops)",
    f"""create table programmes (
        programme_id text primary key, school_id text not null, district_id text not null, term text not null,
        status text not null, spec jsonb not null, capacity integer not null, off_work_local text not null,
        agreed_fees jsonb, agreed_on date, agreement_ref text, agreement_recorded_by text,
        reviewed_fees jsonb, review_decision text, review_note text, reviewed_by text, reviewed_by_role text,
        reviewed_at timestamptz, applications_open_at timestamptz, applications_close_at timestamptz,
        published_by text, published_by_role text, published_at timestamptz, updated_by text not null, {_UPDATED})""",
    "create unique index programmes_school_term on programmes (school_id, term)",
    """alter table applications
        add column district_id text, add column class_id text, add column consent_evidence text,
        add column wants_extended_care boolean not null default false,
        add column activity_ids jsonb not null default '[]',
        add column submitted_by_role text,
        add column decided_by text, add column decided_by_role text, add column decided_at timestamptz,
        add column hardship_verified boolean not null default false,
        add column hardship_verified_by text, add column hardship_verified_by_role text,
        add column extended_care boolean not null default false,
        add column waitlisted_at timestamptz, add column approved_at timestamptz,
        add column reject_reason_code text, add column reject_reason text,
        add column reported_by text, add column reported_by_role text, add column reported_at timestamptz,
        add column enrollment_id text,
        add column filed_by text, add column filed_by_role text, add column filed_at timestamptz,
        add column withdrawn_by text, add column withdrawn_by_role text, add column withdrawn_at timestamptz,
        add column withdraw_reason text, add column effective_on date""",
    "create index applications_programme on applications (programme_id)",
    "create index applications_school on applications (school_id)",
    # R1/R6: one live application per child and programme, even when two requests race.
    """create unique index applications_one_active on applications (student_id, programme_id)
        where status in ('submitted', 'waitlisted', 'approved', 'reported', 'filed')""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
