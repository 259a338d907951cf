"""Events the attendance service publishes on attendance.events; payload shapes only, no rules or I/O."""
from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.common import ActivityTier, ActorRole, UtcDatetime
from shared.contracts.envelope import Event
from shared.contracts.topics import ATTENDANCE_EVENTS

# How a record reached the platform: a staff member's app, or a school system (R15).
Source = Literal["staff_app", "school_system"]


class _SessionFact(Event):
    """Something about one student at one day's session of a programme; keyed by student so that a
    student's check-in, extended care and check-out stay in order."""

    topic: ClassVar[str] = ATTENDANCE_EVENTS
    key_field: ClassVar[str] = "student_id"

    student_id: str = Field(description="Student concerned.", examples=["stu-000123"])
    school_id: str = Field(description="School running the session.", examples=["sch-0042"])
    programme_id: str = Field(description="Programme the session belongs to.", examples=["prg-0042-2025a"])
    session_date: date = Field(description="School-local (Asia/Shanghai) day of the session.", examples=["2025-09-12"])


class StudentCheckedIn(_SessionFact):
    """A student was checked in to the day's session by a named staff member (R11, R22)."""

    type_name: ClassVar[str] = "StudentCheckedIn"
    version: ClassVar[int] = 1

    checked_in_at: UtcDatetime = Field(description="When the student was checked in.", examples=["2025-09-12T07:31:00Z"])
    checked_in_by: str = Field(description="Admitted staff member who checked the student in (R11, R28).", examples=["stf-0311"])
    checked_in_by_role: ActorRole = Field(description="Role of who checked in (R27).", examples=["school_staff"])
    source: Source = Field(description="How the record reached the platform (R15).", examples=["staff_app"])
    source_record_id: str | None = Field(
        default=None, description="The school system's own record id, if it came from one (R15).", examples=["gate-20250912-00017"]
    )


class StudentCheckedOut(_SessionFact):
    """A student was handed over by a named staff member to a guardian or authorised pickup person
    (R11). Says who collected the child, when, and who handed over, for the pickup message (R22);
    extended care used past the session end is settled on actuals (R13, R17)."""

    type_name: ClassVar[str] = "StudentCheckedOut"
    version: ClassVar[int] = 1

    checked_out_at: UtcDatetime = Field(description="When the child was handed over.", examples=["2025-09-12T09:42:00Z"])
    handed_over_by: str = Field(description="Admitted staff member who handed the child over (R11, R28).", examples=["stf-0311"])
    handed_over_by_role: ActorRole = Field(description="Role of who handed over (R27).", examples=["school_staff"])
    collected_by_id: str = Field(description="Guardian or authorised pickup person who collected the child.", examples=["gdn-000456"])
    collected_by_name: str = Field(description="Their name, as told to the guardians (R22).", examples=["王芳"])
    collected_by_relation: Literal["guardian", "authorised_pickup"] = Field(
        description="Whether the collector is a guardian or another authorised person (R11).", examples=["guardian"]
    )
    extended_care: bool = Field(
        default=False, description="The child was collected from extended care, after the session end (R13).", examples=[False]
    )
    extended_care_minutes: int = Field(
        default=0, ge=0, description="Minutes spent in extended care past the session end (R13, R17).", examples=[0]
    )
    source: Source = Field(description="How the record reached the platform (R15).", examples=["staff_app"])
    source_record_id: str | None = Field(
        default=None, description="The school system's own record id, if it came from one (R15).", examples=["gate-20250912-00311"]
    )


class StudentAbsent(_SessionFact):
    """An enrolled student was not checked in by the session start plus the grace period; guardians
    and the class teacher are alerted (R12, R22)."""

    type_name: ClassVar[str] = "StudentAbsent"
    version: ClassVar[int] = 1

    session_starts_at: UtcDatetime = Field(description="When the session started.", examples=["2025-09-12T07:30:00Z"])
    grace_minutes: int = Field(ge=0, description="Grace period allowed after the start (R12).", examples=[10])
    class_teacher_id: str | None = Field(
        default=None, description="Class teacher to alert (R12); null if unknown.", examples=["stf-0107"]
    )
    detected_by: str = Field(description="Who raised the alert; the attendance service for the timer (R27).", examples=["attendance"])
    detected_by_role: ActorRole = Field(description="Role of who raised the alert (R27).", examples=["platform"])
    detected_at: UtcDatetime = Field(description="When the absence was detected.", examples=["2025-09-12T07:40:00Z"])


class ExtendedCareStarted(_SessionFact):
    """A child not collected by the session end moved into extended care, under a named supervisor;
    the guardian is told (R8, R13, R22)."""

    type_name: ClassVar[str] = "ExtendedCareStarted"
    version: ClassVar[int] = 1

    session_ended_at: UtcDatetime = Field(description="When the normal session ended.", examples=["2025-09-12T09:30:00Z"])
    extended_care_ends_at: UtcDatetime = Field(description="When extended care ends (R13).", examples=["2025-09-12T10:30:00Z"])
    supervising_staff_id: str = Field(description="Admitted staff member now looking after the child (R11, R28).", examples=["stf-0312"])
    started_by: str = Field(description="Who moved the child into extended care (R27).", examples=["attendance"])
    started_by_role: ActorRole = Field(description="Role of who moved the child (R27).", examples=["platform"])
    started_at: UtcDatetime = Field(description="When extended care started.", examples=["2025-09-12T09:30:00Z"])


class ExtendedCareEscalated(_SessionFact):
    """A child was still present at the end of extended care, so it was escalated (R13)."""

    type_name: ClassVar[str] = "ExtendedCareEscalated"
    version: ClassVar[int] = 1

    extended_care_ended_at: UtcDatetime = Field(description="When extended care ended.", examples=["2025-09-12T10:30:00Z"])
    supervising_staff_id: str = Field(description="Staff member still with the child (R11).", examples=["stf-0312"])
    escalated_to: list[str] = Field(
        min_length=1,
        description="People alerted besides the guardians: principal, class teacher, on-duty officer.",
        examples=[["stf-0001", "stf-0107"]],
    )
    escalated_by: str = Field(description="Who escalated (R27).", examples=["attendance"])
    escalated_by_role: ActorRole = Field(description="Role of who escalated (R27).", examples=["platform"])
    escalated_at: UtcDatetime = Field(description="When it was escalated.", examples=["2025-09-12T10:31:00Z"])


class ActivityRecorded(_SessionFact):
    """A student's participation in an activity was recorded, making daily exercise measurable per
    student and school (R3, R14)."""

    type_name: ClassVar[str] = "ActivityRecorded"
    version: ClassVar[int] = 1

    activity_id: str = Field(description="Activity from the programme.", examples=["act-0042-07"])
    tier: ActivityTier = Field(description="Kind of activity (R3).", examples=["sports"])
    started_at: UtcDatetime = Field(description="When the activity started.", examples=["2025-09-12T07:45:00Z"])
    minutes: int = Field(ge=1, le=600, description="Minutes the student took part.", examples=[45])
    exercise_minutes: int = Field(
        ge=0, le=600, description="Of those, minutes of physical exercise (R14: at least 30 a day).", examples=[45]
    )
    recorded_by: str = Field(description="Staff member or provider who ran it (R27, R28).", examples=["stf-0311"])
    recorded_by_role: ActorRole = Field(description="Role of who recorded it (R27).", examples=["school_staff"])
    recorded_at: UtcDatetime = Field(description="When it was recorded.", examples=["2025-09-12T08:35:00Z"])
    source: Source = Field(description="How the record reached the platform (R15).", examples=["staff_app"])
    source_record_id: str | None = Field(
        default=None, description="The school system's own record id, if it came from one (R15).", examples=["act-20250912-0042-77"]
    )


class UnauthorisedPickupRefused(_SessionFact):
    """Staff refused to release a child to someone not authorised to collect them; the child stayed
    (R11). Guardians and the school are alerted (R22)."""

    type_name: ClassVar[str] = "UnauthorisedPickupRefused"
    version: ClassVar[int] = 1

    reason: Literal["not_on_pickup_list", "identity_not_verified", "pickup_revoked"] = Field(
        description="Why the person was refused.", examples=["not_on_pickup_list"]
    )
    claimant_name: str | None = Field(default=None, description="Name the person gave, if any.", examples=["张三"])
    claimant_id: str | None = Field(
        default=None, description="Their person id if known to the platform (e.g. a revoked pickup).", examples=["pku-000031"]
    )
    note: str | None = Field(default=None, description="Staff member's note.", examples=["自称叔叔，无接送卡"])
    refused_by: str = Field(description="Staff member who refused (R11, R27).", examples=["stf-0311"])
    refused_by_role: ActorRole = Field(description="Role of who refused (R27).", examples=["school_staff"])
    refused_at: UtcDatetime = Field(description="When it happened.", examples=["2025-09-12T09:35:00Z"])


class StaffShiftHandedOver(Event):
    """A staff member going off shift handed the children still on site to a colleague (交接班, R11): from
    whom, to whom, when, which children. Both were admitted to run the programme (R28). Keyed by school, so a
    school's handovers stay in order."""

    type_name: ClassVar[str] = "StaffShiftHandedOver"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ATTENDANCE_EVENTS
    key_field: ClassVar[str] = "school_id"

    handover_id: str = Field(description="The school system's id for the handover; a resent one is the same.",
                             examples=["hov-0042-20250912-1"])
    school_id: str = Field(description="School running the session.", examples=["sch-0042"])
    programme_id: str = Field(description="Programme the session belongs to.", examples=["prg-0042-2025a"])
    session_date: date = Field(description="School-local day of the session.", examples=["2025-09-12"])
    from_staff_id: str = Field(description="Staff member going off shift.", examples=["stf-0311"])
    to_staff_id: str = Field(description="Staff member taking over the children.", examples=["stf-0312"])
    handed_over_at: UtcDatetime = Field(description="When the children were handed over.",
                                        examples=["2025-09-12T09:30:00Z"])
    student_ids: list[str] = Field(description="The children handed over, each checked in and not yet collected.",
                                   examples=[["stu-000123", "stu-000124"]])
    recorded_by: str = Field(description="Who recorded it (R27): the school's system.", examples=["sys-0042"])
    recorded_by_role: ActorRole = Field(description="Role of who recorded it (R27).", examples=["school_system"])


EVENTS: tuple[type[Event], ...] = (
    StudentCheckedIn,
    StudentCheckedOut,
    StudentAbsent,
    ExtendedCareStarted,
    ExtendedCareEscalated,
    ActivityRecorded,
    UnauthorisedPickupRefused,
    StaffShiftHandedOver,
)
