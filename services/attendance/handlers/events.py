"""Handlers of consumed events: enrollment's (the roster, R6, R11; programme schedules and admitted staff,
R7, R8, R28; guardians' names for pickup messages, R22) and school systems' records on attendance.ingest
(judged as ingest.py judges an HTTP batch, R15), all taken by one batch handler."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.attendance.db import AttendanceUoW, Filing
from services.attendance.handlers.ingest import topic_ingest_handler
from services.attendance.handlers.policy import Policy
from shared.auth import TokenVerifier
from shared.contracts.enrollment import (
    EnrollmentFiled,
    EnrollmentWithdrawn,
    GuardianRegistered,
    PickupPersonAuthorised,
    PickupPersonRevoked,
    ProgrammePublished,
    StaffAdmissionChanged,
)
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import BatchHandler, Item, batch_handler


@dataclass(frozen=True)
class _Withdrawal:
    student_id: str
    programme_id: str
    effective_on: date


@batch_handler
async def apply_enrollment_changes(uow: AttendanceUoW, items: Sequence[Item]) -> None:
    """A run of consumed GuardianRegistered, EnrollmentFiled and EnrollmentWithdrawn events, applied with a
    few set-based statements (a term start files a whole city: 557,000 students and their guardians,
    interleaved). A filing puts the student on the school's roster with who may collect them (R6, R11); a
    withdrawal (always possible, R1) takes them off from its effective day; a registered guardian may
    collect their children and is named in pickup messages (R11, R22). Guardianships do not depend on the
    roster, so they are applied apart from it; roster changes keep their order."""
    guardians: list[GuardianRegistered] = []
    changes: list[Filing | _Withdrawal] = []
    for item in items:
        event = item.event
        if isinstance(event, GuardianRegistered):
            guardians.append(event)
        elif isinstance(event, EnrollmentFiled):
            changes.append(Filing(
                student_id=event.student_id, programme_id=event.programme_id, school_id=event.school_id,
                district_id=event.district_id, student_name=event.student_name, guardian_id=event.guardian_id,
                authorised_pickup_ids=tuple(event.authorised_pickup_ids), class_teacher_id=event.class_teacher_id,
                extended_care=event.extended_care, filed_at=event.filed_at,
            ))
        elif isinstance(event, EnrollmentWithdrawn):
            changes.append(_Withdrawal(event.student_id, event.programme_id, event.effective_on))
    if guardians:
        await _apply_guardians(uow, guardians)
    if changes:
        await _apply_roster_changes(uow, changes)


async def _apply_roster_changes(uow: AttendanceUoW, changes: list[Filing | _Withdrawal]) -> None:
    """In the order they were consumed; a run of filings of distinct students is one statement (a term
    start files a whole city, 557,000 students)."""
    run: dict[tuple[str, str], Filing] = {}
    for change in changes:
        key = (change.student_id, change.programme_id)
        if isinstance(change, Filing) and key not in run:
            run[key] = change
            continue
        await uow.save_enrollments(list(run.values()))
        run = {}
        if isinstance(change, Filing):
            run[key] = change
        else:
            await uow.withdraw(change.student_id, change.programme_id, change.effective_on)
    await uow.save_enrollments(list(run.values()))


async def store_programme(uow: AttendanceUoW, envelope: Envelope, event: ProgrammePublished) -> None:
    """Session times drive absence and extended care (R8, R12, R13); the staff who run the activities
    are the programme's admitted staff (R28); the publisher is first responsible (R27); an activity record
    must name one of the activities, with its tier (R3, R7)."""
    staff = {staff_id for activity in event.activities for staff_id in activity.staff_ids}
    await uow.save_programme(
        programme_id=event.programme_id, school_id=event.school_id, district_id=event.district_id,
        sessions=[s.model_dump() for s in event.sessions], extended_care_until_local=event.extended_care_until_local,
        staff_ids=sorted(staff), responsible_id=event.published_by, published_at=event.published_at,
        activities={activity.activity_id: activity.tier for activity in event.activities},
    )


async def apply_staff_admissions(uow: AttendanceUoW, events: Sequence[StaffAdmissionChanged]) -> None:
    """The district's decisions (R28, issue 16): a suspended or removed staff member's next check-in,
    check-out, handover or activity record is refused with staff_not_admitted. The latest decision per
    staff member in the batch is kept; the table keeps the latest overall."""
    latest: dict[str, StaffAdmissionChanged] = {}
    for event in events:
        if event.staff_id not in latest or latest[event.staff_id].effective_at <= event.effective_at:
            latest[event.staff_id] = event
    await uow.save_staff_admissions(
        [(e.staff_id, e.school_id, e.admission, e.decided_by, e.effective_at) for e in latest.values()])


async def apply_pickup_persons(uow: AttendanceUoW, events: Sequence[PickupPersonAuthorised | PickupPersonRevoked]) -> None:
    """People a guardian named to collect the child (R11, issue 16): an authorised one may collect until
    valid_until; a revoked one is refused as pickup_revoked. The latest decision per person wins."""
    latest: dict[tuple[str, str], PickupPersonAuthorised | PickupPersonRevoked] = {}
    for event in events:
        key = (event.student_id, event.pickup_person_id)
        if key not in latest or latest[key].decided_at <= event.decided_at:
            latest[key] = event
    await uow.save_pickup_persons([(e.student_id, e.pickup_person_id, e.valid_until, isinstance(e, PickupPersonRevoked),
                                    e.decided_at) for e in latest.values()])


async def _apply_guardians(uow: AttendanceUoW, events: list[GuardianRegistered]) -> None:
    """Each registration replaces the guardian's student list, so the last one of the batch wins."""
    latest = {e.guardian_id: (e.guardian_id, e.name, e.school_id, sorted(set(e.student_ids))) for e in events}
    await uow.save_guardians(list(latest.values()))


ENROLLMENT_CHANGES = ("GuardianRegistered", "EnrollmentFiled", "EnrollmentWithdrawn")
PICKUP_PERSONS = ("PickupPersonAuthorised", "PickupPersonRevoked")
SCHOOL_RECORDS = ("SchoolCheckInRecorded", "SchoolCheckOutRecorded", "SchoolActivityRecorded")
CONSUMED = ("ProgrammePublished", "StaffAdmissionChanged", *PICKUP_PERSONS, *ENROLLMENT_CHANGES, *SCHOOL_RECORDS)


def apply_consumed(policy: Policy, authority: TokenVerifier | None) -> BatchHandler:
    """The one handler of every consumed type, so the programmes, staff, roster and guardians a batch
    brings are in place before its school records are judged (R11, R22, R28): a check-out and the
    registration of the guardian collecting the child may arrive together, on different topics, in
    either order."""
    ingest_school_records = topic_ingest_handler(policy, authority)

    @batch_handler
    async def apply(uow: AttendanceUoW, items: Sequence[Item]) -> None:
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

    return apply
