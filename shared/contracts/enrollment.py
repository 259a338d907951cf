"""Events the enrollment service publishes on enrollment.events; payload shapes only, no rules or I/O."""
from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from shared.contracts.common import LOCAL_TIME_PATTERN, ActivityTier, ActorRole, Part, Text, UtcDatetime, Weekday
from shared.contracts.envelope import Event
from shared.contracts.topics import ENROLLMENT_EVENTS


class SessionTime(Part):
    """A weekly session slot of a programme, in school-local time (R7, R8)."""

    weekdays: list[Weekday] = Field(
        min_length=1, description="Days of the week the session runs.", examples=[["mon", "tue", "wed", "thu", "fri"]]
    )
    starts_at_local: str = Field(
        pattern=LOCAL_TIME_PATTERN, description="Start, HH:MM school-local time (Asia/Shanghai).", examples=["15:30"]
    )
    ends_at_local: str = Field(
        pattern=LOCAL_TIME_PATTERN,
        description="End of the normal session, HH:MM school-local time; no earlier than local off-work time (R8).",
        examples=["17:30"],
    )


class ActivityOffer(Part):
    """One activity on offer in a programme, tiered by kind and level (R3, R7)."""

    activity_id: str = Field(description="Activity id, unique within the programme.", examples=["act-0042-07"])
    name: str = Field(min_length=1, description="Name shown to families.", examples=["校园足球"])
    tier: ActivityTier = Field(description="Kind of activity (R3).", examples=["sports"])
    level: str | None = Field(
        default=None, description="Level or grade band within the tier (分级), if any.", examples=["grades 3-4"]
    )
    staff_ids: list[str] = Field(
        description="Admitted staff or outside providers who run it (R28).", examples=[["stf-0311", "prv-0020"]]
    )
    capacity: int = Field(ge=1, description="Places in this activity.", examples=[40])


class InsuranceCover(Part):
    """The insurance in force for the programme's students (R7, R30)."""

    liability_policy_no: str = Field(description="School liability insurance policy number.", examples=["PL-2025-330100-0042"])
    accident_policy_no: str = Field(
        description="Student group accident insurance policy number.", examples=["GA-2025-330100-0042"]
    )
    insurer: str = Field(description="Insurer's name.", examples=["中国人民财产保险"])
    valid_from: date = Field(description="First day of cover, school-local date.", examples=["2025-09-01"])
    valid_until: date = Field(description="Last day of cover, school-local date.", examples=["2026-01-31"])


class ProgrammePublished(Event):
    """A school published (disclosed) its after-school programme for a term; applications may open
    only after this (R4, R7). Carries the sessions, tiered activities, staff, capacity, fee standard,
    safety measures and insurance, and the local off-work time the session end was set against (R8)."""

    type_name: ClassVar[str] = "ProgrammePublished"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "school_id"

    programme_id: str = Field(description="Programme id; one per school per term.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School running the programme.", examples=["sch-0042"])
    district_id: str = Field(description="District that owns the school (R27).", examples=["dst-07"])
    school_name: str | None = Field(
        default=None, description="The school's name as families know it, for messages (issue 16); null from "
        "publishers before it was carried.", examples=["实验小学"]
    )
    term: str = Field(
        pattern=r"^[0-9]{4}-(spring|autumn)$", description="School term, YYYY-spring or YYYY-autumn.", examples=["2025-autumn"]
    )
    name: str = Field(min_length=1, description="Programme name shown to families.", examples=["2025秋季课后服务"])
    sessions: list[SessionTime] = Field(
        min_length=1,
        description="Weekly session slots.",
        examples=[[{"weekdays": ["mon", "tue", "wed", "thu", "fri"], "starts_at_local": "15:30", "ends_at_local": "17:30"}]],
    )
    normal_off_work_local: str = Field(
        pattern=LOCAL_TIME_PATTERN,
        description="Local normal off-work time, HH:MM, that the session end must not precede (R8).",
        examples=["17:30"],
    )
    extended_care_until_local: str | None = Field(
        default=None,
        pattern=LOCAL_TIME_PATTERN,
        description="End of extended care (延时托管), HH:MM school-local time; null if not offered (R8, R13).",
        examples=["18:30"],
    )
    activities: list[ActivityOffer] = Field(
        min_length=1,
        description="Activities on offer, tiered (R3, R7).",
        examples=[
            [
                {
                    "activity_id": "act-0042-07",
                    "name": "校园足球",
                    "tier": "sports",
                    "level": "grades 3-4",
                    "staff_ids": ["stf-0311"],
                    "capacity": 40,
                }
            ]
        ],
    )
    capacity: int = Field(ge=1, description="Total places in the programme.", examples=[600])
    fee_per_session_fen: int = Field(
        ge=0, description="Disclosed fee standard per normal session, in fen (R4, R10).", examples=[1500]
    )
    extended_care_fee_per_session_fen: int = Field(
        ge=0, description="Disclosed fee standard per extended-care session, in fen (R8, R10).", examples=[800]
    )
    safety_measures: list[str] = Field(
        min_length=1,
        description="Safety measures disclosed to families (R4, R11).",
        examples=[["凭接送卡交接", "门卫登记", "每日两次点名"]],
    )
    insurance: InsuranceCover = Field(
        description="Insurance in force (R30).",
        examples=[
            {
                "liability_policy_no": "PL-2025-330100-0042",
                "accident_policy_no": "GA-2025-330100-0042",
                "insurer": "中国人民财产保险",
                "valid_from": "2025-09-01",
                "valid_until": "2026-01-31",
            }
        ],
    )
    applications_open_at: UtcDatetime = Field(
        description="When guardians may start applying (after publication, R7).", examples=["2025-08-25T00:00:00Z"]
    )
    applications_close_at: UtcDatetime = Field(
        description="When applications close.", examples=["2025-09-05T10:00:00Z"]
    )
    disclosure_url: str | None = Field(
        default=None, description="Public page where the disclosure can be read (R4).", examples=["https://edu.example.cn/sch-0042/khfw"]
    )
    published_by: str = Field(description="Who published it (R27).", examples=["stf-0001"])
    published_by_role: ActorRole = Field(description="Role of the publisher (R27).", examples=["principal"])
    published_at: UtcDatetime = Field(description="When it was published.", examples=["2025-08-20T02:00:00Z"])
    served: str | None = Field(
        default=None, description="Who is served (R4), in words; null if not stated.", examples=["本校1-6年级有需要的学生"]
    )
    delivery: str | None = Field(
        default=None,
        description="How the service is delivered (R4): own staff, outside providers; null if not stated.",
        examples=["本校教师为主，引进少年宫体育教练"],
    )
    parents_committee_agreed_on: date | None = Field(
        default=None, description="Day the parents' committee agreed the fee standard (R10).", examples=["2025-08-10"]
    )
    fee_reviewed_by: str | None = Field(
        default=None, description="District officer who reviewed the fee standard (R10).", examples=["off-0701"]
    )
    fee_reviewed_by_role: ActorRole | None = Field(
        default=None, description="Role of who reviewed the fee standard (R10, R27).", examples=["district_officer"]
    )


class GuardianRegistered(Event):
    """A guardian was registered for one or more students, with consent to messages and sealed contact
    details (R22). The plain phone number never travels; only its mask and its sealed form."""

    type_name: ClassVar[str] = "GuardianRegistered"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "guardian_id"

    guardian_id: str = Field(description="Guardian id.", examples=["gdn-000456"])
    school_id: str = Field(description="School where the guardian was registered.", examples=["sch-0042"])
    student_ids: list[str] = Field(description="Students this guardian is responsible for.", examples=[["stu-000123"]])
    name: str = Field(description="Guardian's name, for greetings and pickup records (R11).", examples=["王芳"])
    locale: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Language for messages.", examples=["zh-CN"])
    phone_masked: str = Field(
        pattern=r"\*",
        description="Phone with the middle digits masked; safe to show and log.",
        examples=["138****5678"],
    )
    phone_sealed: str = Field(
        description="Phone encrypted with the contact sealing key; only notification opens it. Never the plain number.",
        examples=["gAAAAABm3v2kZ8Q1sealedPhoneTokenExampleOnly=="],
    )
    push_token_sealed: str | None = Field(
        default=None,
        description="App push token encrypted with the contact sealing key; null if the app is not installed.",
        examples=["gAAAAABm3v2kP0sealedPushTokenExampleOnly=="],
    )
    consent: bool = Field(description="The guardian consented to receive messages (R22).", examples=[True])
    registered_by: str = Field(description="Who registered the guardian (R27).", examples=["gdn-000456"])
    registered_by_role: ActorRole | None = Field(
        default=None, description="Role of who registered the guardian (R27); null if not recorded.", examples=["guardian"]
    )
    registered_at: UtcDatetime | None = Field(
        default=None, description="When the guardian was registered; null if not recorded.", examples=["2025-08-26T11:20:00Z"]
    )


class ApplicationSubmitted(Event):
    """A guardian applied for a place in a school's programme for a student; only this enrolls (R1, R6).
    When staff entered it on the guardian's behalf, on_behalf is true so coercion can be spotted (R1);
    a claimed hardship status is recorded for verification (R9)."""

    type_name: ClassVar[str] = "ApplicationSubmitted"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    application_id: str = Field(description="Application id.", examples=["app-000789"])
    programme_id: str = Field(description="Programme applied for.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School running the programme.", examples=["sch-0042"])
    student_id: str = Field(description="Student the application is for.", examples=["stu-000123"])
    student_name: str = Field(description="Student's name, for messages to the guardian.", examples=["李小明"])
    guardian_id: str = Field(description="Guardian who applies.", examples=["gdn-000456"])
    submitted_by: str = Field(description="Who entered the application (R27).", examples=["gdn-000456"])
    on_behalf: bool = Field(
        default=False, description="Entered by school staff on the guardian's behalf (R1).", examples=[False]
    )
    consent: bool = Field(description="The guardian consents to the service and its terms (R1).", examples=[True])
    hardship: bool = Field(
        default=False, description="The family claims economic hardship; served free once verified (R9).", examples=[False]
    )
    submitted_at: UtcDatetime = Field(description="When the application was submitted.", examples=["2025-08-27T12:00:00Z"])
    submitted_by_role: ActorRole | None = Field(
        default=None, description="Role of who entered the application (R27); null if not recorded.", examples=["guardian"]
    )
    wants_extended_care: bool = Field(
        default=False, description="The family asks for extended care past the session end (R8).", examples=[False]
    )
    activity_ids: list[str] = Field(
        default_factory=list, description="Activities the family prefers, from the programme (R3).", examples=[["act-0042-07"]]
    )


class ApplicationApproved(Event):
    """A school approved an application (R6). If the family's hardship status was verified, it says who
    verified it (R9); such a student is served free of charge."""

    type_name: ClassVar[str] = "ApplicationApproved"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    application_id: str = Field(description="Application approved.", examples=["app-000789"])
    programme_id: str = Field(description="Programme applied for.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School that approved.", examples=["sch-0042"])
    student_id: str = Field(description="Student the application is for.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who applied.", examples=["gdn-000456"])
    hardship: bool = Field(description="Hardship status verified: the student is served free (R9).", examples=[False])
    hardship_verified_by: str | None = Field(
        default=None, description="Who verified the hardship status (R9); required when hardship is true.", examples=["stf-0002"]
    )
    hardship_verified_by_role: ActorRole | None = Field(
        default=None, description="Role of who verified the hardship status (R9, R27).", examples=["school_staff"]
    )
    extended_care: bool = Field(description="Extended care was granted (R8).", examples=[False])
    approved_by: str = Field(description="Who approved (R27).", examples=["stf-0001"])
    approved_by_role: ActorRole = Field(description="Role of who approved (R27).", examples=["principal"])
    approved_at: UtcDatetime = Field(description="When it was approved.", examples=["2025-08-29T03:00:00Z"])
    promoted_from_waitlist: bool = Field(
        default=False,
        description="The school had approved it while the programme was full; a place freed and it moved up.",
        examples=[False],
    )

    @model_validator(mode="after")
    def _hardship_names_its_verifier(self) -> ApplicationApproved:
        if self.hardship and not self.hardship_verified_by:
            raise ValueError("hardship_verified_by is required when hardship is true (R9)")
        return self


class ApplicationWaitlisted(Event):
    """A school approved an application while the programme was full, so it waits for a place (R6, R7);
    it is promoted (ApplicationApproved with promoted_from_waitlist) when one frees, in waitlist order."""

    type_name: ClassVar[str] = "ApplicationWaitlisted"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    application_id: str = Field(description="Application waitlisted.", examples=["app-000789"])
    programme_id: str = Field(description="Programme applied for.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School that decided.", examples=["sch-0042"])
    student_id: str = Field(description="Student the application is for.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who applied.", examples=["gdn-000456"])
    position: int = Field(ge=1, description="Place in the waitlist when it joined (1 = next).", examples=[3])
    waitlisted_by: str = Field(description="Who decided (R27).", examples=["stf-0001"])
    waitlisted_by_role: ActorRole = Field(description="Role of who decided (R27).", examples=["principal"])
    waitlisted_at: UtcDatetime = Field(description="When it joined the waitlist.", examples=["2025-08-29T03:00:00Z"])


class ApplicationRejected(Event):
    """A school rejected an application, with a reason the guardian is told (R6, R22)."""

    type_name: ClassVar[str] = "ApplicationRejected"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    application_id: str = Field(description="Application rejected.", examples=["app-000789"])
    programme_id: str = Field(description="Programme applied for.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School that rejected.", examples=["sch-0042"])
    student_id: str = Field(description="Student the application was for.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who applied.", examples=["gdn-000456"])
    reason_code: Literal["capacity_full", "not_eligible", "incomplete", "duplicate", "other"] = Field(
        description="Kind of reason, for reports.", examples=["capacity_full"]
    )
    reason: str = Field(min_length=1, description="The reason in words, shown to the guardian (R6).", examples=["名额已满"])
    rejected_by: str = Field(description="Who rejected (R27).", examples=["stf-0001"])
    rejected_by_role: ActorRole = Field(description="Role of who rejected (R27).", examples=["principal"])
    rejected_at: UtcDatetime = Field(description="When it was rejected.", examples=["2025-08-29T03:00:00Z"])


class ApplicationReported(Event):
    """A school reported an approved application upward to its district (上报申请, R6)."""

    type_name: ClassVar[str] = "ApplicationReported"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    application_id: str = Field(description="Application reported.", examples=["app-000789"])
    programme_id: str = Field(description="Programme applied for.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School that reported.", examples=["sch-0042"])
    district_id: str = Field(description="District it was reported to.", examples=["dst-07"])
    student_id: str = Field(description="Student the application is for.", examples=["stu-000123"])
    reported_by: str = Field(description="Who reported (R27).", examples=["stf-0002"])
    reported_by_role: ActorRole = Field(description="Role of who reported (R27).", examples=["school_staff"])
    reported_at: UtcDatetime = Field(description="When it was reported.", examples=["2025-08-30T02:00:00Z"])


class EnrollmentFiled(Event):
    """A district filed (备案) a reported application: from now the student is enrolled in the programme
    (R6). Carries what rosters and fee accounts need: hardship exemption (R9) and extended care (R8)."""

    type_name: ClassVar[str] = "EnrollmentFiled"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    enrollment_id: str = Field(description="Enrollment id.", examples=["enr-000789"])
    application_id: str = Field(description="Application that led to it.", examples=["app-000789"])
    programme_id: str = Field(description="Programme enrolled in.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School running the programme.", examples=["sch-0042"])
    district_id: str = Field(description="District that filed it.", examples=["dst-07"])
    student_id: str = Field(description="Student enrolled.", examples=["stu-000123"])
    student_name: str = Field(description="Student's name, for rosters and messages.", examples=["李小明"])
    guardian_id: str = Field(description="Guardian who applied.", examples=["gdn-000456"])
    hardship: bool = Field(description="Verified hardship: the student is never charged (R9, R16).", examples=[False])
    extended_care: bool = Field(description="Extended care was granted (R8).", examples=[False])
    activity_ids: list[str] = Field(
        default_factory=list, description="Activities the student takes part in (R3).", examples=[["act-0042-07"]]
    )
    class_teacher_id: str | None = Field(
        default=None, description="Class teacher told of absences (R12); null if unknown.", examples=["stf-0107"]
    )
    authorised_pickup_ids: list[str] = Field(
        default_factory=list,
        description="People besides the guardians who may collect the student (R11).",
        examples=[["pku-000031"]],
    )
    filed_by: str = Field(description="Who filed it (R27).", examples=["off-0701"])
    filed_by_role: ActorRole = Field(description="Role of who filed it (R27).", examples=["district_officer"])
    filed_at: UtcDatetime = Field(description="When it was filed.", examples=["2025-09-01T01:00:00Z"])


class EnrollmentWithdrawn(Event):
    """A student was withdrawn from a programme; withdrawal is always possible (R1). Charges stop and
    unused prepaid sessions are refunded (R17)."""

    type_name: ClassVar[str] = "EnrollmentWithdrawn"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    enrollment_id: str = Field(description="Enrollment ended.", examples=["enr-000789"])
    programme_id: str = Field(description="Programme left.", examples=["prg-0042-2025a"])
    school_id: str = Field(description="School running the programme.", examples=["sch-0042"])
    student_id: str = Field(description="Student withdrawn.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian of the student.", examples=["gdn-000456"])
    effective_on: date = Field(
        description="First school-local day the student is no longer served or charged.", examples=["2025-10-08"]
    )
    reason: str | None = Field(default=None, description="Reason given, if any; none is needed (R1).", examples=["家中有人接送"])
    withdrawn_by: str = Field(description="Who withdrew the student (R27).", examples=["gdn-000456"])
    withdrawn_by_role: ActorRole = Field(description="Role of who withdrew the student (R27).", examples=["guardian"])
    withdrawn_at: UtcDatetime = Field(description="When the withdrawal was recorded.", examples=["2025-09-30T08:00:00Z"])


StaffAdmission = Literal["admitted", "suspended", "removed"]
StaffRole = Literal["class_teacher", "programme_lead", "safety_contact"]


class StaffAdmissionChanged(Event):
    """The district admitted, suspended or removed a staff member or outside provider (R28). A school
    may propose; only the district decides. Attendance refuses a suspended or removed staff member's
    records from the next one on."""

    type_name: ClassVar[str] = "StaffAdmissionChanged"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "staff_id"

    staff_id: str = Field(description="Staff member or outside provider.", examples=["stf-0311"])
    school_id: str = Field(description="School the staff member works at.", examples=["sch-0042"])
    admission: StaffAdmission = Field(description="The district's decision (R28).", examples=["removed"])
    decided_by: str = Field(description="Who decided (R27).", examples=["off-0701"])
    decided_by_role: ActorRole = Field(description="Role of who decided (R27).", examples=["district_officer"])
    reason: Text | None = Field(default=None, description="Reason in words, if given.", examples=["资质到期"])
    effective_at: UtcDatetime = Field(description="From when the decision applies.", examples=["2025-10-08T06:00:00Z"])


class StaffRegistered(Event):
    """A staff member's contact details and responsibilities, sealed like a guardian's (R22): class
    teachers, programme leads and school safety contacts are who notification reaches (R11, R12)."""

    type_name: ClassVar[str] = "StaffRegistered"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "staff_id"

    staff_id: str = Field(description="Staff member.", examples=["stf-0107"])
    school_id: str = Field(description="School the staff member works at.", examples=["sch-0042"])
    name: Text = Field(min_length=1, description="Staff member's name.", examples=["张老师"])
    roles: list[StaffRole] = Field(
        default_factory=list, description="Responsibilities messages are routed by.", examples=[["class_teacher"]]
    )
    class_ids: list[str] = Field(
        default_factory=list, description="Classes the staff member is class teacher of.", examples=[["cls-0042-3-2"]]
    )
    programme_ids: list[str] = Field(
        default_factory=list, description="Programmes the staff member leads.", examples=[["prg-0042-2025a"]]
    )
    phone_masked: str = Field(
        pattern=r"\*", description="Phone with the middle digits masked; safe to show and log.", examples=["139****1234"]
    )
    phone_sealed: str = Field(
        description="Phone encrypted with the contact sealing key; only notification opens it. Never the plain number.",
        examples=["gAAAAABm3v2kZ8Q1sealedPhoneTokenExampleOnly=="],
    )
    push_token_sealed: str | None = Field(
        default=None,
        description="App push token encrypted with the contact sealing key; null if the app is not installed.",
        examples=["gAAAAABm3v2kP0sealedPushTokenExampleOnly=="],
    )
    locale: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Language for messages.", examples=["zh-CN"])
    registered_by: str = Field(description="Who registered the contact (R27).", examples=["stf-0001"])
    registered_by_role: ActorRole = Field(description="Role of who registered the contact (R27).", examples=["principal"])
    registered_at: UtcDatetime = Field(description="When it was registered.", examples=["2025-08-26T11:20:00Z"])


class PickupPersonAuthorised(Event):
    """A guardian authorised a named person (a grandparent, relative, neighbour) to collect a student
    until a day (R11). The plain phone number never travels."""

    type_name: ClassVar[str] = "PickupPersonAuthorised"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    pickup_person_id: str = Field(description="Pickup person id.", examples=["pku-000031"])
    student_id: str = Field(description="Student they may collect.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who authorised them.", examples=["gdn-000456"])
    name: Text = Field(min_length=1, description="Name checked at the gate (R11).", examples=["李建国"])
    relation: Text = Field(min_length=1, description="Relation to the student.", examples=["祖父"])
    phone_masked: str = Field(pattern=r"\*", description="Phone with the middle digits masked.", examples=["137****4321"])
    valid_until: date = Field(description="Last school-local day they may collect.", examples=["2026-01-31"])
    decided_by: str = Field(description="Who decided (R27): the guardian, or staff on their behalf.", examples=["gdn-000456"])
    decided_by_role: ActorRole = Field(description="Role of who decided (R27).", examples=["guardian"])
    decided_at: UtcDatetime = Field(description="When the guardian authorised them.", examples=["2025-09-02T08:00:00Z"])


class PickupPersonRevoked(Event):
    """A guardian revoked a pickup person; from now they may not collect the student (R11)."""

    type_name: ClassVar[str] = "PickupPersonRevoked"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "student_id"

    pickup_person_id: str = Field(description="Pickup person revoked.", examples=["pku-000031"])
    student_id: str = Field(description="Student concerned.", examples=["stu-000123"])
    guardian_id: str = Field(description="Guardian who revoked.", examples=["gdn-000456"])
    name: Text = Field(min_length=1, description="Name of the person revoked.", examples=["李建国"])
    relation: Text = Field(min_length=1, description="Relation to the student.", examples=["祖父"])
    phone_masked: str = Field(pattern=r"\*", description="Phone with the middle digits masked.", examples=["137****4321"])
    valid_until: date = Field(description="Last day the authorisation would have run.", examples=["2026-01-31"])
    decided_by: str = Field(description="Who decided (R27): the guardian, or staff on their behalf.", examples=["gdn-000456"])
    decided_by_role: ActorRole = Field(description="Role of who decided (R27).", examples=["guardian"])
    decided_at: UtcDatetime = Field(description="When the guardian revoked them.", examples=["2025-10-02T08:00:00Z"])


class CoercionReported(Event):
    """A guardian reported being pressed to enroll a child (R1: enrollment is voluntary; signs of coercion are
    reportable). Anonymous: no guardian or student is named, so neither the school nor anyone reading the
    topic learns who reported. Audit raises coerced_applications on it."""

    type_name: ClassVar[str] = "CoercionReported"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = ENROLLMENT_EVENTS
    key_field: ClassVar[str] = "school_id"

    report_id: str = Field(description="Opaque id of the report; it identifies no person.", examples=["rpt-3f9a0c1e2b7d4a55"])
    school_id: str = Field(description="School the pressure came from.", examples=["sch-0042"])
    programme_id: str | None = Field(None, description="Programme concerned, if the guardian named one.",
                                     examples=["prg-0042-2025a"])
    what_happened: str = Field(description="The guardian's account, phone and ID numbers masked.",
                               examples=["班主任在家长群要求全班必须报名课后服务，不报名要写说明"])
    happened_on: date = Field(description="School-local day it happened.", examples=["2025-08-26"])
    reported_at: UtcDatetime = Field(description="When it was reported.", examples=["2025-08-27T12:00:00Z"])
    reported_by: Literal["anonymous"] = Field("anonymous", description="Who reported (R27): always anonymous, "
                                              "by design (R1).", examples=["anonymous"])
    reported_by_role: ActorRole = Field("guardian", description="Role of who reported (R27): a guardian.",
                                        examples=["guardian"])


EVENTS: tuple[type[Event], ...] = (
    ProgrammePublished,
    GuardianRegistered,
    ApplicationSubmitted,
    ApplicationApproved,
    ApplicationWaitlisted,
    ApplicationRejected,
    ApplicationReported,
    EnrollmentFiled,
    EnrollmentWithdrawn,
    StaffAdmissionChanged,
    StaffRegistered,
    PickupPersonAuthorised,
    PickupPersonRevoked,
    CoercionReported,
)
