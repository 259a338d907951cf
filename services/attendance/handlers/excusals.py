"""Excusing a student from a day's session (sick leave, a family matter): no absence alert follows (R12)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.attendance.db import AttendanceUoW
from services.attendance.domain import Rejection, resolve_enrollment


@dataclass(frozen=True)
class Excused:
    student_id: str
    programme_id: str
    session_date: date


async def excuse_student(uow: AttendanceUoW, *, school_id: str, student_id: str, day: date, programme_id: str | None,
                         reason: str) -> Excused | Rejection:
    """Record the excuse; the caller commits. Only a student on that school's roster with a session that
    day can be excused, so a typo is a clear rejection, not a silent no-op."""
    enrollments, _ = await uow.enrollments([(school_id, student_id)])
    schedules = await uow.schedules({e.programme_id for e in enrollments})
    resolved = resolve_enrollment(school_id, student_id, programme_id, day, enrollments, schedules)
    if isinstance(resolved, Rejection):
        return resolved
    enrollment = resolved[0]
    await uow.excuse((student_id, enrollment.programme_id, day), school_id, reason)
    return Excused(student_id, enrollment.programme_id, day)
