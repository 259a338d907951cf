"""The read models the pages are served from, kept from the events (issue 18): a page never asks another
service, so a city-wide burst of parents opening the same link costs the portal alone. Programmes (R4, R7)
and disclosures (R21) are public; statements (R17) and the messages sent (R22) are the family's own;
enrollments, pickup persons and the day's check-ins and check-outs serve the parent's view (R11, R12) and the
bureau's day (exercise R14, extended care R13); anomalies the auditor's console (R25); the newest checkpoint
says how far the ledger reaches."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from services.portal.db import PortalUoW
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import Item, batch_handler


async def record_programme(uow: PortalUoW, envelope: Envelope, event) -> None:
    await uow.save_programme(event.model_dump(mode="json"))


async def record_disclosure(uow: PortalUoW, envelope: Envelope, event) -> None:
    await uow.save_disclosure(event.model_dump(mode="json"))


@batch_handler
async def record_statements(uow: PortalUoW, items: Sequence[Item]) -> None:
    """A family's monthly statement (R17), with the event id its ledger entry's receipt is asked by."""
    await uow.save_statements([
        (item.event.settlement_id, item.envelope.event_id, item.event.guardian_id, item.event.student_id,
         item.event.school_id, item.event.period_start, item.event.model_dump(mode="json"), item.event.settled_at)
        for item in items])


@batch_handler
async def record_messages(uow: PortalUoW, items: Sequence[Item]) -> None:
    """The messages sent to guardians (R22, R23): what about, which channel, when; not their text, which
    notification keeps to itself."""
    rows = [(e.notification_id, e.recipient_id, e.kind, e.channel, e.student_id, e.school_id, e.sent_at)
            for e in (item.event for item in items) if e.recipient_role == "guardian"]
    if rows:
        await uow.save_messages(rows)


@batch_handler
async def record_pickup_persons(uow: PortalUoW, items: Sequence[Item]) -> None:
    """Who else may collect a child (R11): named by a guardian until a day, or revoked."""
    named = [(e.pickup_person_id, e.student_id, e.guardian_id, e.name, e.relation, e.phone_masked, e.valid_until)
             for e in (i.event for i in items if i.envelope.type == "PickupPersonAuthorised")]
    revoked = [(i.event.pickup_person_id, i.event.decided_at) for i in items if i.envelope.type == "PickupPersonRevoked"]
    if named:
        await uow.save_pickup_persons(named)
    if revoked:
        await uow.revoke_pickup_persons(revoked)


async def record_checkpoint(uow: PortalUoW, envelope: Envelope, event) -> None:
    await uow.save_checkpoint(event.log_id, event.tree_size, event.root_hash, event.signed_note, event.published_at)


async def record_staff(uow: PortalUoW, envelope: Envelope, event) -> None:
    await uow.save_staff(event.staff_id, event.name)


async def record_anomaly(uow: PortalUoW, envelope: Envelope, event) -> None:
    await uow.save_anomaly(event.model_dump(mode="json"))


@batch_handler
async def record_enrollments(uow: PortalUoW, items: Sequence[Item]) -> None:
    """Filings and withdrawals in their order: a withdrawal after its filing in the same run applies to it."""
    filed: list[tuple] = []
    withdrawn: list[tuple[str, date]] = []
    for item in items:
        e = item.event
        if item.envelope.type == "EnrollmentFiled":
            filed.append((e.enrollment_id, e.programme_id, e.school_id, e.district_id, e.student_id, e.student_name,
                          e.guardian_id, e.extended_care, e.filed_at))
        else:
            if filed:
                await uow.save_enrollments(filed)
                filed = []
            withdrawn.append((e.enrollment_id, e.effective_on))
    if filed:
        await uow.save_enrollments(filed)
    if withdrawn:
        await uow.withdraw_enrollments(withdrawn)


@batch_handler
async def record_days(uow: PortalUoW, items: Sequence[Item]) -> None:
    """Check-ins, activities' exercise minutes and check-outs, a run at a time (the pickup surge is 310 a
    second)."""
    ins: list[tuple[str, date, str, datetime]] = []
    outs: list[tuple] = []
    exercise: list[tuple[str, date, str, int]] = []
    for item in items:
        e = item.event
        if item.envelope.type == "StudentCheckedIn":
            ins.append((e.student_id, e.session_date, e.school_id, e.checked_in_at))
        elif item.envelope.type == "ActivityRecorded":
            if e.exercise_minutes:
                exercise.append((e.student_id, e.session_date, e.school_id, e.exercise_minutes))
        else:
            outs.append((e.student_id, e.session_date, e.school_id, e.checked_out_at, e.collected_by_name,
                         e.collected_by_relation, e.handed_over_by, e.extended_care_minutes))
    if ins:
        await uow.save_check_ins(ins)
    if outs:
        await uow.save_check_outs(outs)
    if exercise:
        await uow.add_exercise(exercise)


HANDLERS = {
    "ProgrammePublished": record_programme,
    "DisclosurePublished": record_disclosure,
    "FeeSettled": record_statements,
    "NotificationSent": record_messages,
    "LedgerCheckpointPublished": record_checkpoint,
    "AnomalyDetected": record_anomaly,
    "StaffRegistered": record_staff,
    "PickupPersonAuthorised": record_pickup_persons,
    "PickupPersonRevoked": record_pickup_persons,
    "EnrollmentFiled": record_enrollments,
    "EnrollmentWithdrawn": record_enrollments,
    "StudentCheckedIn": record_days,
    "StudentCheckedOut": record_days,
    "ActivityRecorded": record_days,
}
