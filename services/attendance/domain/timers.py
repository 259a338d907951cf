"""Time-driven rules: absence after start plus grace (R12), extended care at the session end (R8, R13) and
escalation at the extended-care end (R13). Pure: the clock is an argument."""
from __future__ import annotations

from datetime import datetime, timedelta

from services.attendance.domain.ingest import DayState, Enrollment
from services.attendance.domain.schedule import Schedule, SessionWindow


def absence_due(enrollment: Enrollment, window: SessionWindow, state: DayState, grace: timedelta, now: datetime) -> bool:
    """An enrolled student not checked in by the start plus the grace raises one absence (R12). No false
    alarm for a late arrival inside the grace, an excused student, or one enrolled after the start."""
    if now < window.absence_due_at(grace):
        return False
    if not enrollment.covers(window.session_date):
        return False
    if enrollment.filed_at is not None and enrollment.filed_at > window.starts_at:
        return False
    return state.checked_in_at is None and state.checked_out_at is None and not state.excused and state.absent_at is None


def extended_care_due(window: SessionWindow, state: DayState, now: datetime) -> bool:
    """A child still on site at the normal end moves into extended care, once (R8, R13)."""
    return (
        window.extended_care_ends_at is not None
        and now >= window.ends_at
        and state.on_site
        and state.extended_care_started_at is None
    )


def escalation_due(window: SessionWindow, state: DayState, now: datetime) -> bool:
    """A child still on site at the end of extended care (or at the normal end where none is offered) is
    escalated to the school, once (R13)."""
    return now >= window.escalation_due_at and state.on_site and state.escalated_at is None


def escalation_contacts(schedule: Schedule, enrollment: Enrollment) -> list[str]:
    """Who besides the guardians hears of an escalation: the person first responsible for the programme
    (R27) and the class teacher if known."""
    contacts = [schedule.responsible_id]
    if enrollment.class_teacher_id and enrollment.class_teacher_id not in contacts:
        contacts.append(enrollment.class_teacher_id)
    return contacts
