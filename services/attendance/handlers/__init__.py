"""Attendance's use cases: handlers of consumed events, school-system ingest (R15), excusals and the timer
sweep (R12, R13), group commit of HTTP batches, plus the table of which handler takes which event."""
from __future__ import annotations

from collections.abc import Sequence

from services.attendance.db import AttendanceUoW
from services.attendance.handlers.excusals import Excused, excuse_student
from services.attendance.handlers.group_commit import GroupCommit, Stopping
from services.attendance.handlers.ingest import Submitted, event_id_for, ingest, record_from_topic, topic_ingest_handler
from services.attendance.handlers.policy import Policy, utc_now
from services.attendance.handlers.roster import (
    apply_enrollment_changes,
    apply_pickup_persons,
    apply_staff_admissions,
    store_programme,
)
from services.attendance.handlers.timers import SweepReport, sweep, timer_event_id
from shared.auth import TokenVerifier
from shared.messaging.consumer import BatchHandler, Item, batch_handler

ENROLLMENT_CHANGES = ("GuardianRegistered", "EnrollmentFiled", "EnrollmentWithdrawn")
PICKUP_PERSONS = ("PickupPersonAuthorised", "PickupPersonRevoked")
SCHOOL_RECORDS = ("SchoolCheckInRecorded", "SchoolCheckOutRecorded", "SchoolActivityRecorded")


def handler_table(policy: Policy, authority: TokenVerifier | None = None) -> dict[str, BatchHandler]:
    """Which handler takes which consumed event type; the policy carries the clock and limits, `authority`
    verifies the tokens school systems sign their ingest records with (without one, every such record is
    refused as unauthorised). Every type
    goes to one batch handler, so a consumed batch is applied with a few set-based statements, and the
    programmes, staff, roster and guardians it brings are in place before its school records are judged
    (R11, R22, R28): a check-out and the registration of the guardian collecting the child may arrive
    together, on different topics, in either order."""
    ingest_school_records = topic_ingest_handler(policy, authority)

    @batch_handler
    async def apply_consumed(uow: AttendanceUoW, items: Sequence[Item]) -> None:
        for item in items:
            if item.envelope.type == "ProgrammePublished":
                await store_programme(uow, item.envelope, item.event)
        admissions = [item.event for item in items if item.envelope.type == "StaffAdmissionChanged"]
        if admissions:
            await apply_staff_admissions(uow, admissions)
        pickups = [item.event for item in items if item.envelope.type in PICKUP_PERSONS]
        if pickups:
            await apply_pickup_persons(uow, pickups)
        changes = [item for item in items if item.envelope.type in ENROLLMENT_CHANGES]
        if changes:
            await apply_enrollment_changes(uow, changes)
        records = [item for item in items if item.envelope.type in SCHOOL_RECORDS]
        if records:
            await ingest_school_records(uow, records)

    return {name: apply_consumed for name in ("ProgrammePublished", "StaffAdmissionChanged", *PICKUP_PERSONS, *ENROLLMENT_CHANGES,
                                       *SCHOOL_RECORDS)}


__all__ = [
    "Excused", "GroupCommit", "Policy", "Stopping", "Submitted", "SweepReport", "apply_enrollment_changes",
    "apply_pickup_persons", "apply_staff_admissions", "event_id_for", "excuse_student",
    "handler_table", "ingest", "record_from_topic", "store_programme", "sweep",
    "timer_event_id", "utc_now",
]
