"""Attendance's pure rules (no I/O, no contracts): schedules, ingest decisions, timers and exercise.

R11 handover, R12 absence, R13 extended care, R14 exercise, R15 school-system records, R28 admitted staff.
"""
from services.attendance.domain.access import submission_refusal
from services.attendance.domain.exercise import DAILY_EXERCISE_MINUTES, SchoolCompliance, StudentExercise, compliance
from services.attendance.domain.ingest import (
    Activity,
    CheckIn,
    CheckOut,
    DayState,
    Decision,
    Duplicate,
    Enrollment,
    Outcome,
    Refusal,
    Rejection,
    apply,
    decide,
    resolve_enrollment,
    screen,
)
from services.attendance.domain.records import KINDS, STAFF_ROLES, Limits, Record
from services.attendance.domain.schedule import Schedule, SessionWindow, Slot
from services.attendance.domain.timers import absence_due, escalation_contacts, escalation_due, extended_care_due
from shared.time import SCHOOL_TZ as LOCAL_TZ
from shared.time import local_day, parse_hhmm

__all__ = [
    "DAILY_EXERCISE_MINUTES", "KINDS", "LOCAL_TZ", "STAFF_ROLES", "Activity", "CheckIn", "CheckOut", "DayState",
    "Decision", "Duplicate", "Enrollment", "Limits", "Outcome", "Record", "Refusal", "Rejection", "Schedule", "SchoolCompliance",
    "SessionWindow", "Slot", "StudentExercise", "absence_due", "apply", "compliance", "decide", "escalation_contacts",
    "escalation_due", "extended_care_due", "local_day", "parse_hhmm", "resolve_enrollment", "screen",
    "submission_refusal",
]
