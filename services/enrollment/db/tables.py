"""Enrollment's tables (SQLModel): reference data, programmes, guardians and applications."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class EnrollmentTable(SQLModel, registry=registry()):
    """Base of enrollment's tables: their own metadata, so that other services' tables of the same
    name (each service owns its schema) never clash with these when imported in one process."""


def _at(nullable: bool = True, **kw) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, **kw)


def _updated() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class DistrictRow(EnrollmentTable, table=True):
    __tablename__ = "districts"

    district_id: str = Field(primary_key=True)
    name: str
    off_work_local: str | None = None  # R8; the service default applies when empty
    row_digest: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class SchoolRow(EnrollmentTable, table=True):
    __tablename__ = "schools"

    school_id: str = Field(primary_key=True)
    district_id: str = Field(index=True)
    name: str
    kind: str = "urban"  # R5: urban or rural
    row_digest: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class ClassRow(EnrollmentTable, table=True):
    __tablename__ = "classes"

    class_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    grade: int
    name: str
    class_teacher_id: str | None = None
    row_digest: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class StaffRow(EnrollmentTable, table=True):
    __tablename__ = "staff"

    staff_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    name: str
    kind: str = "staff"  # staff or provider (R18, R28)
    position: str | None = None
    organisation: str | None = None
    admission: str = "pending"  # admitted, pending, removed (R28)
    admission_checked_on: date | None = Field(default=None, sa_column=Column(Date))
    admission_changed_by: str | None = None
    row_digest: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class StudentRow(EnrollmentTable, table=True):
    __tablename__ = "students"

    student_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    class_id: str | None = None
    name: str
    grade: int
    eligible: bool = True  # counted in participation (R29)
    row_digest: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class GuardianRow(EnrollmentTable, table=True):
    __tablename__ = "guardians"

    guardian_id: str = Field(primary_key=True)
    school_id: str
    name: str
    student_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    locale: str = "zh-CN"
    phone_sealed: str  # encrypted at rest (R22 privacy); only notification opens it, to send
    phone_masked: str
    push_token_sealed: str | None = None
    consent: bool
    registered_by: str
    # Keyed digest of the plain record, so a re-import recognises an unchanged guardian without
    # opening sealed fields (sealing is randomised) and without storing anything guessable.
    row_digest: str | None = None
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


class ProgrammeRow(EnrollmentTable, table=True):
    __tablename__ = "programmes"
    __table_args__ = (Index("programmes_school_term", "school_id", "term", unique=True),)

    programme_id: str = Field(primary_key=True)
    school_id: str
    district_id: str
    term: str
    status: str = "draft"  # draft, published (R4, R7)
    spec: dict = Field(sa_column=Column(JSONB, nullable=False))  # the ProgrammeSpec as proposed
    capacity: int
    off_work_local: str  # the local off-work time the sessions were checked against (R8)
    agreed_fees: list[int] | None = Field(default=None, sa_column=Column(JSONB))  # R10 parents' committee
    agreed_on: date | None = Field(default=None, sa_column=Column(Date))
    agreement_ref: str | None = None
    agreement_recorded_by: str | None = None
    reviewed_fees: list[int] | None = Field(default=None, sa_column=Column(JSONB))  # R10 district review
    review_decision: str | None = None
    review_note: str | None = None
    reviewed_by: str | None = None
    reviewed_by_role: str | None = None
    reviewed_at: datetime | None = Field(default=None, sa_column=_at())
    applications_open_at: datetime | None = Field(default=None, sa_column=_at())
    applications_close_at: datetime | None = Field(default=None, sa_column=_at())
    published_by: str | None = None
    published_by_role: str | None = None
    published_at: datetime | None = Field(default=None, sa_column=_at())
    updated_by: str
    updated_at: datetime | None = Field(default=None, sa_column=_updated())


ACTIVE_STATUSES = "('submitted', 'waitlisted', 'approved', 'reported', 'filed')"


class ApplicationRow(EnrollmentTable, table=True):
    __tablename__ = "applications"
    __table_args__ = (
        # R1/R6: one live application per child and programme, even under racing requests.
        Index("applications_one_active", "student_id", "programme_id", unique=True,
              postgresql_where=text(f"status in {ACTIVE_STATUSES}")),
    )

    application_id: str = Field(primary_key=True)
    idempotency_key: str = Field(sa_column=Column(String, unique=True, nullable=False))
    request_digest: str
    programme_id: str = Field(index=True)
    school_id: str = Field(index=True)
    district_id: str | None = None
    class_id: str | None = None
    student_id: str = Field(index=True)
    student_name: str
    guardian_id: str
    status: str = "submitted"
    on_behalf: bool = False  # entered by staff for the guardian (R1 coercion signal)
    consent: bool
    consent_evidence: str | None = None
    hardship: bool = False  # claimed by the family (R9)
    wants_extended_care: bool = False
    activity_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    submitted_by: str
    submitted_by_role: str | None = None
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    decided_by: str | None = None
    decided_by_role: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=_at())
    hardship_verified: bool = False  # R9: served free once verified, by whom
    hardship_verified_by: str | None = None
    hardship_verified_by_role: str | None = None
    extended_care: bool = False
    waitlisted_at: datetime | None = Field(default=None, sa_column=_at())
    approved_at: datetime | None = Field(default=None, sa_column=_at())
    reject_reason_code: str | None = None
    reject_reason: str | None = None
    reported_by: str | None = None
    reported_by_role: str | None = None
    reported_at: datetime | None = Field(default=None, sa_column=_at())
    enrollment_id: str | None = None
    filed_by: str | None = None
    filed_by_role: str | None = None
    filed_at: datetime | None = Field(default=None, sa_column=_at())
    withdrawn_by: str | None = None
    withdrawn_by_role: str | None = None
    withdrawn_at: datetime | None = Field(default=None, sa_column=_at())
    withdraw_reason: str | None = None
    effective_on: date | None = Field(default=None, sa_column=Column(Date))
