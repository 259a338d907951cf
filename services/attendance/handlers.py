"""Attendance's use cases: one handler per consumed event, plus the table of which takes which."""
from __future__ import annotations

from shared.contracts.enrollment import EnrollmentFiled, EnrollmentWithdrawn
from shared.contracts.envelope import Envelope
from services.attendance.db import AttendanceUoW, RosterRow


async def add_to_roster(uow: AttendanceUoW, envelope: Envelope, event: EnrollmentFiled) -> None:
    """A filed enrolment puts the student on the school's roster (R6, R11)."""
    row = await uow.roster_entry(event.student_id, event.programme_id) or RosterRow(
        student_id=event.student_id, programme_id=event.programme_id, school_id=event.school_id,
        student_name=event.student_name, guardian_id=event.guardian_id, authorised_pickup_ids=[],
    )
    row.authorised_pickup_ids = sorted({event.guardian_id, *event.authorised_pickup_ids})
    row.extended_care = event.extended_care
    row.active = True
    row.filed_at = envelope.occurred_at
    uow.session.add(row)


async def remove_from_roster(uow: AttendanceUoW, envelope: Envelope, event: EnrollmentWithdrawn) -> None:
    """A withdrawal (always possible, R1) takes the student off the roster."""
    row = await uow.roster_entry(event.student_id, event.programme_id)
    if row is not None:
        row.active = False
        uow.session.add(row)


HANDLERS = {
    "EnrollmentFiled": add_to_roster,
    "EnrollmentWithdrawn": remove_from_roster,
}
