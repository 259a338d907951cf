"""The rules a school system's record must pass before it becomes an attendance fact (R11, R14, R15, R28).

Each function is pure: given what the service knows (enrollments, the programme's schedule and staff,
the student's day so far) it returns a decision. The caller applies a batch's decisions in time order
to an in-memory DayState, so records arriving together, twice, or out of order are judged consistently.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.attendance.domain.records import STAFF_ROLES, Limits, Record
from services.attendance.domain.schedule import Schedule, SessionWindow
from shared.time import local_day


@dataclass(frozen=True)
class Enrollment:
    """A filed enrollment of a student in a programme, and who may collect the student (R6, R11)."""

    student_id: str
    programme_id: str
    school_id: str
    student_name: str
    guardian_ids: frozenset[str]
    authorised_pickup_ids: frozenset[str]
    revoked_pickup_ids: frozenset[str] = frozenset()
    class_teacher_id: str | None = None
    active: bool = True
    withdrawn_from: date | None = None
    filed_at: datetime | None = None

    def covers(self, day: date) -> bool:
        """On the roster that day: filed and not withdrawn, or withdrawn only from a later day (R1, R6)."""
        return self.active or (self.withdrawn_from is not None and day < self.withdrawn_from)


@dataclass
class DayState:
    """One student's day in one programme, as far as the service knows it."""

    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    checked_out_at: datetime | None = None
    excused: bool = False
    absent_at: datetime | None = None
    extended_care_started_at: datetime | None = None
    escalated_at: datetime | None = None

    @property
    def on_site(self) -> bool:
        return self.checked_in_at is not None and self.checked_out_at is None

    @property
    def status(self) -> Literal["collected", "on_site", "excused", "absent", "expected"]:
        """Where the student stands: handed over, on site, excused, absent (alert raised), or not here yet."""
        if self.checked_out_at is not None:
            return "collected"
        if self.checked_in_at is not None:
            return "on_site"
        if self.excused:
            return "excused"
        return "absent" if self.absent_at is not None else "expected"


@dataclass(frozen=True)
class Rejection:
    """The record is not accepted; `code` is stable for programs, `reason` is for people (R15)."""

    code: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """The record restates something already known; nothing changes."""

    code: str
    reason: str


@dataclass(frozen=True)
class CheckIn:
    record: Record
    enrollment: Enrollment


@dataclass(frozen=True)
class CheckOut:
    """A valid handover: the child left with a guardian or authorised person, from an admitted staff member."""

    record: Record
    enrollment: Enrollment
    relation: Literal["guardian", "authorised_pickup"]
    collector_name: str
    extended_care_minutes: int


@dataclass(frozen=True)
class Refusal:
    """The named collector may not take the child: the child stays, guardians and school are alerted (R11)."""

    record: Record
    enrollment: Enrollment
    reason: Literal["not_on_pickup_list", "pickup_revoked"]


@dataclass(frozen=True)
class Activity:
    record: Record
    enrollment: Enrollment


Decision = CheckIn | CheckOut | Refusal | Activity | Rejection | Duplicate


def screen(record: Record, now: datetime, limits: Limits) -> Rejection | None:
    """Checks that need nothing but the record and the clock."""
    if record.staff_role not in STAFF_ROLES:
        return Rejection(
            "staff_role_not_allowed",
            f"staff_role {record.staff_role!r} may not check children in or out; one of {', '.join(sorted(STAFF_ROLES))} (R11)",
        )
    if local_day(record.at) != record.session_date:
        return Rejection(
            "time_not_on_session_date",
            f"at {record.at.isoformat()} is on {local_day(record.at)} in Asia/Shanghai, not on session_date {record.session_date}",
        )
    if record.at > now + limits.future_tolerance:
        return Rejection("in_future", f"at {record.at.isoformat()} is in the future (now {now.isoformat()})")
    if record.session_date < local_day(now - limits.max_age):
        return Rejection(
            "too_old", f"session_date {record.session_date} is more than {limits.max_age.days} days ago; records that late are not accepted"
        )
    if record.kind == "activity" and (record.exercise_minutes or 0) > (record.minutes or 0):
        return Rejection(
            "exercise_exceeds_minutes",
            f"exercise_minutes {record.exercise_minutes} exceeds the activity's minutes {record.minutes} (R14)",
        )
    return None


def resolve_enrollment(
    school_id: str,
    student_id: str,
    programme_id: str | None,
    day: date,
    enrollments: list[Enrollment],
    schedules: dict[str, Schedule],
) -> tuple[Enrollment, Schedule, SessionWindow] | Rejection:
    """The one enrollment of this student at this school with a session that day (roster rule, R6, R11).
    A record may name its programme; if it does not, it must be unambiguous."""
    mine = [e for e in enrollments if e.school_id == school_id and e.student_id == student_id]
    if programme_id is not None:
        mine = [e for e in mine if e.programme_id == programme_id]
    if not mine:
        where = f" in programme {programme_id}" if programme_id else ""
        return Rejection("unknown_student", f"student {student_id} is not enrolled at school {school_id}{where}")
    current = [e for e in mine if e.covers(day)]
    if not current:
        return Rejection("withdrawn", f"student {student_id} was withdrawn and is not on the roster on {day}")
    known = [e for e in current if e.programme_id in schedules]
    if not known:
        return Rejection(
            "programme_unknown",
            f"programme {current[0].programme_id} has not been published to attendance yet, so its sessions and staff are unknown",
        )
    running = [(e, schedules[e.programme_id]) for e in known if schedules[e.programme_id].window(day) is not None]
    if not running:
        return Rejection("no_session", f"programme {known[0].programme_id} has no session on {day} ({day.strftime('%A')})")
    if len(running) > 1:
        names = ", ".join(sorted(e.programme_id for e, _ in running))
        return Rejection("ambiguous_programme", f"student {student_id} has sessions in {names} on {day}; give programme_id")
    enrollment, schedule = running[0]
    window = schedule.window(day)
    assert window is not None
    return enrollment, schedule, window


def decide(
    record: Record,
    enrollment: Enrollment,
    schedule: Schedule,
    window: SessionWindow,
    state: DayState,
    guardian_names: dict[str, str] | None = None,
) -> Decision:
    """Judge one record against the student's day so far. Does not change `state`; see `apply`."""
    if record.kind == "check_in":
        if state.checked_in_at is not None:
            return Duplicate(
                "already_checked_in", f"student {record.student_id} was already checked in at {state.checked_in_at.isoformat()}"
            )
        if not schedule.admits(record.staff_id):
            return _not_admitted(record, schedule)
        return CheckIn(record, enrollment)

    if record.kind == "check_out":
        if state.checked_out_at is not None:
            return Duplicate(
                "already_checked_out", f"student {record.student_id} was already checked out at {state.checked_out_at.isoformat()}"
            )
        if state.checked_in_at is None:
            return Rejection(
                "not_checked_in",
                f"student {record.student_id} has no check-in on {record.session_date}; send the check-in first or in the same batch (R11)",
            )
        if record.at < state.checked_in_at:
            return Rejection(
                "check_out_before_check_in",
                f"check-out at {record.at.isoformat()} is before the check-in at {state.checked_in_at.isoformat()}",
            )
        collector = record.collected_by_id or ""
        if collector in enrollment.guardian_ids:
            relation: Literal["guardian", "authorised_pickup"] = "guardian"
        elif collector in enrollment.authorised_pickup_ids:
            relation = "authorised_pickup"
        else:
            # R11: a child is never released to an unauthorised person, whatever else is wrong.
            reason = "pickup_revoked" if collector in enrollment.revoked_pickup_ids else "not_on_pickup_list"
            return Refusal(record, enrollment, reason)
        if not schedule.admits(record.staff_id):
            return _not_admitted(record, schedule)
        name = (guardian_names or {}).get(collector) or record.collected_by_name or collector
        return CheckOut(record, enrollment, relation, name, window.minutes_past_end(record.at))

    if not schedule.admits(record.staff_id):
        return _not_admitted(record, schedule)
    return _activity(record, enrollment, schedule, state)


def _activity(record: Record, enrollment: Enrollment, schedule: Schedule, state: DayState) -> Activity | Rejection:
    """An activity is one of the programme's, of the tier it has there (R3, R7), and the child was on site
    when it started: checked in, and not yet handed over (R11, R14)."""
    if schedule.activities is not None:
        tier = schedule.tier_of(record.activity_id or "")
        if tier is None:
            offered = ", ".join(sorted(a for a, _ in schedule.activities)) or "none"
            return Rejection(
                "unknown_activity",
                f"activity_id {record.activity_id!r} is not an activity of programme {schedule.programme_id} (it offers: {offered})",
            )
        if tier != record.tier:
            return Rejection(
                "wrong_tier", f"activity {record.activity_id} is a {tier} activity of programme {schedule.programme_id}, not {record.tier}"
            )
    if state.checked_in_at is None:
        return Rejection(
            "not_checked_in",
            f"student {record.student_id} was not checked in when the activity started ({record.at.isoformat()});"
            " send the check-in first or in the same batch",
        )
    if record.at < state.checked_in_at or (state.checked_out_at is not None and record.at > state.checked_out_at):
        until = f" to {state.checked_out_at.isoformat()}" if state.checked_out_at is not None else ""
        return Rejection(
            "not_on_site",
            f"activity at {record.at.isoformat()} is outside the student's time on site ({state.checked_in_at.isoformat()}{until})",
        )
    return Activity(record, enrollment)


def apply(decision: Decision, state: DayState) -> None:
    """Carry an accepted decision into the student's day, so later records in the batch see it."""
    if isinstance(decision, CheckIn):
        state.checked_in_at = decision.record.at
        state.checked_in_by = decision.record.staff_id
    elif isinstance(decision, CheckOut):
        state.checked_out_at = decision.record.at


def _not_admitted(record: Record, schedule: Schedule) -> Rejection:
    return Rejection(
        "staff_not_admitted",
        f"staff member {record.staff_id} is not admitted to run programme {schedule.programme_id} (R28)",
    )


@dataclass
class Outcome:
    """The per-record answer to a school system: accepted, duplicate, rejected, or conflict (the record id
    was received before with other content; this resend is kept for review, not applied), with a reason."""

    status: Literal["accepted", "duplicate", "rejected", "conflict"]
    reason_code: str | None = None
    reason: str | None = None
    event_id: str | None = None
