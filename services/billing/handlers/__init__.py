"""Billing's use cases: handlers of consumed events and the table of which takes which (here),
commands about schedules (schedules.py) and money (money.py), month-end settlement (settlement.py)
and the read-only month so far (month_to_date.py)."""
from services.billing.handlers.events import (
    close_fee_account,
    open_fee_account,
    record_activity,
    record_check_in,
    record_check_out,
    record_escalation,
    record_extended_care,
    record_hardship_verification,
    record_programme,
)

HANDLERS = {
    "ProgrammePublished": record_programme,
    "ApplicationApproved": record_hardship_verification,
    "EnrollmentFiled": open_fee_account,
    "EnrollmentWithdrawn": close_fee_account,
    "StudentCheckedIn": record_check_in,
    "StudentCheckedOut": record_check_out,
    "ExtendedCareStarted": record_extended_care,
    "ExtendedCareEscalated": record_escalation,
    "ActivityRecorded": record_activity,
}

__all__ = ["HANDLERS"]
