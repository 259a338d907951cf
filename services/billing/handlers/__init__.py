"""Billing's use cases: handlers of consumed events and the table of which takes which (here),
commands about schedules (schedules.py) and money (money.py), month-end settlement (settlement.py)
and the read-only month so far (month_to_date.py)."""
from services.billing.handlers.events import (
    apply_enrollments,
    record_activity,
    record_check_in,
    record_check_out,
    record_escalation,
    record_extended_care,
    record_programme,
)

HANDLERS = {
    "ProgrammePublished": record_programme,
    # One batch handler for the three, so a run of them interleaved student by student stays one run.
    "ApplicationApproved": apply_enrollments,
    "EnrollmentFiled": apply_enrollments,
    "EnrollmentWithdrawn": apply_enrollments,
    "StudentCheckedIn": record_check_in,
    "StudentCheckedOut": record_check_out,
    "ExtendedCareStarted": record_extended_care,
    "ExtendedCareEscalated": record_escalation,
    "ActivityRecorded": record_activity,
}

__all__ = ["HANDLERS"]
