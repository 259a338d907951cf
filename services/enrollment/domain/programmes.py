"""Programme rules (R3, R4, R7, R8, R10, R28, R30): what a school may offer, and when it may publish.
Pure: the caller supplies the off-work time, the admitted staff and the clock."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.enrollment.domain.errors import Problem
from services.enrollment.domain.values import Id, Instant, LocalTime, LongText, Text
from shared.contracts.common import ActivityTier, Weekday

TIERS: tuple[str, ...] = get_args(ActivityTier)

# R3: after-school time must not become new collective classroom teaching (集体授课, 上新课), however
# it is labelled. The tier names and words below are how that shows up in school systems.
COLLECTIVE_TEACHING_TIERS = frozenset({"collective_teaching", "classroom_teaching", "collective_classroom_teaching",
                                       "new_lessons", "lecture", "class_teaching"})
COLLECTIVE_TEACHING_WORDS = ("集体授课", "集体教学", "上新课", "讲新课", "新课讲授", "统一授课", "collective classroom",
                             "collective teaching", "new lesson")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionIn(Strict):
    """A weekly session slot, school-local time (R7, R8)."""

    weekdays: list[Weekday] = Field(min_length=1, max_length=7, examples=[["mon", "tue", "wed", "thu", "fri"]])
    starts_at_local: LocalTime = Field(examples=["15:30"])
    ends_at_local: LocalTime = Field(description="No earlier than the local off-work time (R8).", examples=["17:30"])


class ActivityIn(Strict):
    """An activity on offer, tiered (R3); run by admitted staff or providers (R28)."""

    activity_id: Id = Field(examples=["act-0042-07"])
    name: Text = Field(examples=["校园足球"])
    tier: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description=f"One of {', '.join(TIERS)}. Collective classroom teaching is not allowed (R3).", examples=["sports"])
    level: Text | None = Field(None, examples=["grades 3-4"])
    staff_ids: list[Id] = Field(min_length=1, max_length=50, examples=[["stf-0311"]])
    capacity: int = Field(ge=1, le=10_000, examples=[40])


class InsuranceIn(Strict):
    """School liability and student group accident insurance in force (R30)."""

    liability_policy_no: Text = Field(examples=["PL-2025-330100-0042"])
    accident_policy_no: Text = Field(examples=["GA-2025-330100-0042"])
    insurer: Text = Field(examples=["中国人民财产保险"])
    valid_from: date = Field(examples=["2025-09-01"])
    valid_until: date = Field(examples=["2026-01-31"])


class ProgrammeSpec(Strict):
    """What a school proposes to disclose for a term (R4, R7); checked by `programme_problems`."""

    school_id: Id = Field(examples=["sch-0042"])
    term: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(spring|autumn)$")] = Field(examples=["2026-spring"])
    name: Text = Field(examples=["2026春季课后服务"])
    served: LongText | None = Field(None, description="Who is served (R4).", examples=["本校1-6年级有需要的学生"])
    delivery: LongText | None = Field(None, description="How it is delivered (R4).", examples=["本校教师为主"])
    sessions: list[SessionIn] = Field(min_length=1, max_length=14)
    extended_care_until_local: LocalTime | None = Field(
        None, description="End of extended care (延时托管); it must be offered (R8).", examples=["18:30"])
    activities: list[ActivityIn] = Field(min_length=1, max_length=100)
    capacity: int = Field(ge=1, le=20_000, description="Places in the programme.", examples=[600])
    fee_per_session_fen: int = Field(ge=0, le=100_000, examples=[1500])
    extended_care_fee_per_session_fen: int = Field(ge=0, le=100_000, examples=[800])
    safety_measures: list[Text] = Field(min_length=1, max_length=30, examples=[["凭接送卡交接", "每日两次点名"]])
    insurance: InsuranceIn
    applications_open_at: Instant | None = Field(
        None, description="When applications open; never before publication (R4, R7).", examples=["2026-02-20T00:00:00Z"])
    applications_close_at: Instant = Field(examples=["2026-03-05T10:00:00Z"])
    disclosure_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s\x00-\x1f]{1,500}$")] | None = Field(
        None, examples=["https://edu.example.cn/sch-0042/khfw"])

    @property
    def fees(self) -> tuple[int, int]:
        return (self.fee_per_session_fen, self.extended_care_fee_per_session_fen)


def is_collective_teaching(tier: str, name: str) -> bool:
    """R3: a tier or a name that says the time is spent on collective classroom teaching."""
    label = tier.strip().lower().replace("-", "_").replace(" ", "_")
    text = name.lower()
    return label in COLLECTIVE_TEACHING_TIERS or any(word in text for word in COLLECTIVE_TEACHING_WORDS)


def programme_problems(spec: ProgrammeSpec, *, off_work_local: str, admitted_staff: frozenset[str]) -> list[Problem]:
    """Every reason the programme may not be offered as proposed; empty when it may."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, act in enumerate(spec.activities):
        at = ("body", "activities", i)
        if is_collective_teaching(act.tier, act.name):
            problems.append(Problem(at + ("tier",), f"activity {act.activity_id!r} is collective classroom teaching, "
                                    "which after-school time must not become (R3)", "R3"))
        elif act.tier not in TIERS:
            problems.append(Problem(at + ("tier",), f"tier {act.tier!r} is not one of {', '.join(TIERS)} (R3)", "R3"))
        if act.activity_id in seen:
            problems.append(Problem(at + ("activity_id",), f"activity id {act.activity_id!r} appears twice", "R7"))
        seen.add(act.activity_id)
        for j, staff in enumerate(act.staff_ids):
            if staff not in admitted_staff:
                problems.append(Problem(at + ("staff_ids", j), f"{staff} has not passed the admission check for "
                                        f"school {spec.school_id}, or was removed (R28)", "R28"))
    latest_end = "00:00"
    for i, session in enumerate(spec.sessions):
        at = ("body", "sessions", i)
        if session.ends_at_local <= session.starts_at_local:
            problems.append(Problem(at + ("ends_at_local",), "a session must end after it starts", "R7"))
        if session.ends_at_local < off_work_local:
            problems.append(Problem(at + ("ends_at_local",), f"the normal session ends at {session.ends_at_local}, "
                                    f"before the local off-work time {off_work_local} (R8)", "R8"))
        latest_end = max(latest_end, session.ends_at_local)
    if spec.extended_care_until_local is None:
        problems.append(Problem(("body", "extended_care_until_local"),
                                "extended care (延时托管) must be offered to families who need it (R8)", "R8"))
    elif spec.extended_care_until_local <= latest_end:
        problems.append(Problem(("body", "extended_care_until_local"), f"extended care must run past the end of the "
                                f"normal session ({latest_end}) (R8)", "R8"))
    if spec.insurance.valid_until < spec.insurance.valid_from:
        problems.append(Problem(("body", "insurance", "valid_until"), "insurance cover ends before it starts (R30)", "R30"))
    if spec.applications_open_at and spec.applications_close_at <= spec.applications_open_at:
        problems.append(Problem(("body", "applications_close_at"), "applications must close after they open", "R7"))
    return problems


FeeReview = Literal["approved", "returned"]


def publish_problems(spec: ProgrammeSpec, *, agreed_fees: tuple[int, int] | None, reviewed_fees: tuple[int, int] | None,
                     today_local: date, now: datetime) -> list[Problem]:
    """R10: a fee standard needs the parents' committee's agreement and the district's review of those
    very fees; R30: insurance in force; applications must still be able to open."""
    problems: list[Problem] = []
    charges = spec.fees != (0, 0)
    if charges and agreed_fees != spec.fees:
        problems.append(Problem(("body", "fee_per_session_fen"), "the fee standard has no parents' committee agreement "
                                "on record for these fees (R10)", "R10"))
    if charges and reviewed_fees != spec.fees:
        problems.append(Problem(("body", "fee_per_session_fen"), "the fee standard has not been reviewed by the "
                                "district for these fees (R10)", "R10"))
    if spec.insurance.valid_until < today_local:
        problems.append(Problem(("body", "insurance", "valid_until"), f"insurance cover ended on "
                                f"{spec.insurance.valid_until}; it must be in force (R30)", "R30"))
    if spec.applications_close_at <= now:
        problems.append(Problem(("body", "applications_close_at"), "applications would close before they open", "R7"))
    return problems
