"""Raw records that trusted school systems publish on attendance.ingest (R15); shapes only, no rules or I/O."""
from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from shared.contracts.common import ActivityTier, ActorRole, CollectorName, Text, UtcDatetime
from shared.contracts.envelope import Event
from shared.contracts.topics import ATTENDANCE_INGEST

# These are claims by a school's own gate or student-information system. The attendance service
# checks them (roster, authorised pickup, admitted staff) and publishes what it accepts as
# attendance events; school_id must be the producing system's own school. School systems retry
# and replay, so record_id is their idempotency key.


class _SchoolRecord(Event):
    """A record from one school system about one student on one school day."""

    topic: ClassVar[str] = ATTENDANCE_INGEST
    key_field: ClassVar[str] = "student_id"

    record_id: Text = Field(
        description="The school system's own id for this record; the same record sent twice has the same id (R15).",
        examples=["gate-20250912-00017"],
    )
    system_id: Text = Field(description="School system that produced the record.", examples=["sys-0042-gate"])
    school_id: Text = Field(description="School the record is about; must be the system's own school.", examples=["sch-0042"])
    student_id: Text = Field(description="Student concerned.", examples=["stu-000123"])
    session_date: date = Field(description="School-local (Asia/Shanghai) day of the session.", examples=["2025-09-12"])
    programme_id: Text | None = Field(
        default=None, description="Programme, if the system knows it; otherwise resolved from enrollment.", examples=["prg-0042-2025a"]
    )


class SchoolCheckInRecorded(_SchoolRecord):
    """A school system recorded that a staff member checked a student in (R11, R15)."""

    type_name: ClassVar[str] = "SchoolCheckInRecorded"
    version: ClassVar[int] = 1

    checked_in_at: UtcDatetime = Field(description="When the student was checked in.", examples=["2025-09-12T07:31:00+08:00"])
    checked_in_by: Text = Field(description="Staff member who checked the student in (R11).", examples=["stf-0311"])
    checked_in_by_role: ActorRole = Field(description="Role of that person (R27).", examples=["school_staff"])


class SchoolCheckOutRecorded(_SchoolRecord):
    """A school system recorded that a staff member handed a student over to someone (R11, R15)."""

    type_name: ClassVar[str] = "SchoolCheckOutRecorded"
    version: ClassVar[int] = 1

    checked_out_at: UtcDatetime = Field(description="When the child was handed over.", examples=["2025-09-12T17:42:00+08:00"])
    handed_over_by: Text = Field(description="Staff member who handed the child over (R11).", examples=["stf-0311"])
    handed_over_by_role: ActorRole = Field(description="Role of that person (R27).", examples=["school_staff"])
    collected_by_id: Text = Field(
        description="Guardian or authorised pickup person who collected the child, as known to the platform.",
        examples=["gdn-000456"],
    )
    # A phone or ID number in the name is masked, the check-out kept (issue 15, CollectorName).
    collected_by_name: CollectorName | None = Field(
        default=None,
        description="Name of the person collecting, as the gate recorded it; used when the platform has no name "
        "for them (an authorised pickup person) and in refusal alerts (R11, R22).",
        examples=["王芳"],
    )


class SchoolActivityRecorded(_SchoolRecord):
    """A school system recorded a student's participation in an activity (R3, R14, R15)."""

    type_name: ClassVar[str] = "SchoolActivityRecorded"
    version: ClassVar[int] = 1

    activity_id: Text = Field(description="Activity from the programme.", examples=["act-0042-07"])
    tier: ActivityTier = Field(description="Kind of activity (R3).", examples=["sports"])
    started_at: UtcDatetime = Field(description="When the activity started.", examples=["2025-09-12T15:45:00+08:00"])
    minutes: int = Field(ge=1, le=600, description="Minutes the student took part.", examples=[45])
    exercise_minutes: int = Field(ge=0, le=600, description="Of those, minutes of physical exercise (R14).", examples=[45])
    recorded_by: Text = Field(description="Staff member or provider who ran the activity (R27, R28).", examples=["stf-0311"])
    recorded_by_role: ActorRole = Field(description="Role of that person (R27).", examples=["school_staff"])


EVENTS: tuple[type[Event], ...] = (SchoolCheckInRecorded, SchoolCheckOutRecorded, SchoolActivityRecorded)
