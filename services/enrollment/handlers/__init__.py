"""Enrollment's use cases: one async function per command, each one transaction with its events;
and the table of consumed events (enrollment consumes none: it is where enrollment starts)."""
from services.enrollment.handlers.applications import (
    SubmitApplication,
    approve_application,
    file_application,
    forbid_bulk,
    promote_from_waitlist,
    reject_application,
    report_application,
    submit_application,
    withdraw_application,
)
from services.enrollment.handlers.guardians import register_guardian
from services.enrollment.handlers.programmes import (
    SaveProgramme,
    disclosure,
    publish_programme,
    record_fee_agreement,
    review_fees,
    save_programme,
)
from services.enrollment.handlers.reference import (
    ImportReport,
    RowError,
    digest_key,
    import_records,
    register_staff_contact,
    set_admission,
)

# Enrollment publishes the workflow's events and consumes none (topics.CONSUMES["enrollment"] is empty).
HANDLERS: dict = {}

__all__ = [
    "HANDLERS", "ImportReport", "RowError", "SaveProgramme", "SubmitApplication", "approve_application", "digest_key",
    "disclosure", "file_application", "forbid_bulk", "import_records", "promote_from_waitlist", "publish_programme",
    "record_fee_agreement", "register_guardian", "reject_application", "report_application", "review_fees",
    "register_staff_contact", "save_programme", "set_admission", "submit_application", "withdraw_application",
]
