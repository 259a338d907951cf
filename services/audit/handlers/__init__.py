"""Audit's use cases: recording fee records and the facts checks need (per event, or per run of events),
signing checkpoints, running the checks; plus the tables of which handler takes which event."""
from services.audit.domain import RECORD_TYPES
from services.audit.handlers.checkpoint import LedgerIntegrityError, publish_checkpoint
from services.audit.handlers.checks import CheckPolicy, run_checks
from services.audit.handlers.events import (
    compare_redelivery,
    record_applications,
    record_coercion_reports,
    record_distribution_plan,
    record_enrollments,
    record_fee_record,
    record_programme,
    record_sessions,
    record_withdrawals,
)
from services.audit.handlers.findings import record_findings

HANDLERS = {
    **{name: record_fee_record for name in RECORD_TYPES},
    "DistributionPlanRecorded": record_distribution_plan,
    "ProgrammePublished": record_programme,
    "EnrollmentFiled": record_enrollments,
    "ApplicationSubmitted": record_applications,
    "CoercionReported": record_coercion_reports,
    "EnrollmentWithdrawn": record_withdrawals,
    "StudentCheckedIn": record_sessions,
    "StudentCheckedOut": record_sessions,
    "ActivityRecorded": record_sessions,
    "ExtendedCareStarted": record_sessions,
}

# Redeliveries of fee records are compared with what the ledger recorded (R24).
DUPLICATE_HANDLERS = {name: compare_redelivery for name in RECORD_TYPES}

__all__ = ["DUPLICATE_HANDLERS", "HANDLERS", "CheckPolicy", "LedgerIntegrityError", "publish_checkpoint",
           "record_findings", "run_checks"]
