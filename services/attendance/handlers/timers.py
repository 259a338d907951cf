"""The timer sweep: absence after start plus grace (R12), extended care at the session end (R8, R13) and
escalation at the extended-care end (R13). Each event is raised once: a conditional write decides, and
event ids derive from (rule, student, programme, day), so two sweeping replicas cannot double it."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from services.attendance.db import AttendanceUoW
from services.attendance.domain import (
    DayState,
    Enrollment,
    Schedule,
    SessionWindow,
    absence_due,
    escalation_contacts,
    escalation_due,
    extended_care_due,
    local_day,
)
from services.attendance.handlers.ingest import EVENT_IDS
from services.attendance.handlers.policy import Policy
from shared.contracts.attendance import ExtendedCareEscalated, ExtendedCareStarted, StudentAbsent

PLATFORM = "attendance"


def timer_event_id(rule: str, student_id: str, programme_id: str, day: date) -> uuid.UUID:
    return EVENT_IDS(f"{rule}/{student_id}/{programme_id}/{day.isoformat()}")


@dataclass
class SweepReport:
    absent: int = 0
    extended_care: int = 0
    escalated: int = 0


async def sweep(uow_factory: Callable[[], AttendanceUoW], policy: Policy) -> SweepReport:
    """One pass over today's sessions (school-local day of the policy's clock)."""
    now = policy.clock()
    day = local_day(now)
    async with uow_factory() as uow:
        schedules = await uow.schedules()
        absence_done = await uow.swept(day, "absence")
    windows = {pid: w for pid, s in schedules.items() if (w := s.window(day)) is not None}
    report = SweepReport()
    report.absent = await _absences(uow_factory, policy, now, day, windows, absence_done)
    report.extended_care = await _on_site(uow_factory, policy, now, day, schedules, windows, "extended_care")
    report.escalated = await _on_site(uow_factory, policy, now, day, schedules, windows, "escalation")
    return report


async def _absences(uow_factory: Callable[[], AttendanceUoW], policy: Policy, now: datetime, day: date,
                    windows: dict[str, SessionWindow], done: set[str]) -> int:
    due = {pid: w.starts_at for pid, w in windows.items() if pid not in done and now >= w.absence_due_at(policy.grace)}
    raised = 0
    while due:
        async with uow_factory() as uow:
            candidates = await uow.absence_candidates(due, day, policy.sweep_batch)
            confirmed = [e for e in candidates if absence_due(e, windows[e.programme_id], DayState(), policy.grace, now)]
            marked = await uow.mark_absent(confirmed, day, now)
            for e in confirmed:
                if (e.student_id, e.programme_id) not in marked:
                    continue
                w = windows[e.programme_id]
                uow.publish(
                    StudentAbsent(student_id=e.student_id, school_id=e.school_id, programme_id=e.programme_id,
                                  session_date=day, session_starts_at=w.starts_at,
                                  grace_minutes=int(policy.grace.total_seconds() // 60), class_teacher_id=e.class_teacher_id,
                                  detected_by=PLATFORM, detected_by_role="platform", detected_at=now),
                    event_id=timer_event_id("absent", e.student_id, e.programme_id, day),
                    correlation_id=f"sweep/absence/{day.isoformat()}",
                )
                raised += 1
            finished = len(candidates) < policy.sweep_batch or not marked
            if finished:
                # Once a programme's day is swept, later sweeps skip it: the session has started, so
                # nobody new is expected (a student filed after the start is not).
                await uow.mark_swept(due, day, "absence")
            await uow.commit()
        if finished:
            break
    return raised


async def _on_site(uow_factory: Callable[[], AttendanceUoW], policy: Policy, now: datetime, day: date,
                   schedules: dict[str, Schedule], windows: dict[str, SessionWindow], rule: str) -> int:
    if rule == "extended_care":
        due = [pid for pid, w in windows.items() if w.extended_care_ends_at is not None and now >= w.ends_at]
    else:
        due = [pid for pid, w in windows.items() if now >= w.escalation_due_at]
    raised = 0
    while due:
        async with uow_factory() as uow:
            candidates = await uow.on_site_candidates(due, day, rule, policy.sweep_batch)
            check = extended_care_due if rule == "extended_care" else escalation_due
            confirmed = [(e, s) for e, s in candidates if check(windows[e.programme_id], s, now)]
            marked = await uow.mark_on_site(rule, [(e.student_id, e.programme_id) for e, _ in confirmed], day, now)
            for enrollment, state in confirmed:
                if (enrollment.student_id, enrollment.programme_id) in marked:
                    uow.publish(_timer_event(rule, enrollment, state, schedules[enrollment.programme_id],
                                             windows[enrollment.programme_id], day, now),
                                event_id=timer_event_id(rule, enrollment.student_id, enrollment.programme_id, day),
                                correlation_id=f"sweep/{rule}/{day.isoformat()}")
                    raised += 1
            await uow.commit()
        if len(candidates) < policy.sweep_batch or not marked:
            break
    return raised


def _timer_event(rule: str, enrollment: Enrollment, state: DayState, schedule: Schedule, window: SessionWindow,
                 day: date, now: datetime) -> ExtendedCareStarted | ExtendedCareEscalated:
    common = dict(student_id=enrollment.student_id, school_id=enrollment.school_id, programme_id=enrollment.programme_id,
                  session_date=day)
    # The staff member who checked the child in stays responsible until someone hands the child over (R11).
    supervisor = state.checked_in_by or schedule.responsible_id
    if rule == "extended_care":
        assert window.extended_care_ends_at is not None
        return ExtendedCareStarted(**common, session_ended_at=window.ends_at, extended_care_ends_at=window.extended_care_ends_at,
                                   supervising_staff_id=supervisor, started_by=PLATFORM, started_by_role="platform",
                                   started_at=window.ends_at)
    return ExtendedCareEscalated(**common, extended_care_ended_at=window.escalation_due_at, supervising_staff_id=supervisor,
                                 escalated_to=escalation_contacts(schedule, enrollment), escalated_by=PLATFORM,
                                 escalated_by_role="platform", escalated_at=now)
