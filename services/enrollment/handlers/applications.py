"""Application use cases (R1, R6, R9): apply, approve (or waitlist), reject, report, file, withdraw.
Each is one transaction with its event; repeating a command that was done changes nothing."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date

from services.enrollment.db import ApplicationRow, EnrollmentUoW, ProgrammeRow
from services.enrollment.domain import (
    HOLDS_PLACE,
    Actor,
    Conflict,
    DomainError,
    NotFound,
    Problem,
    check_applications_open,
    check_consent,
    hardship_status,
    place,
    require_own_child,
    require_role,
    require_school_scope,
    step,
)
from services.enrollment.handlers.common import Clock, school_in_scope, today_local, utcnow, with_position
from shared.contracts.enrollment import (
    ApplicationApproved,
    ApplicationRejected,
    ApplicationReported,
    ApplicationSubmitted,
    ApplicationWaitlisted,
    EnrollmentFiled,
    EnrollmentWithdrawn,
)


@dataclass(frozen=True)
class SubmitApplication:
    idempotency_key: str
    programme_id: str
    student_id: str
    guardian_id: str
    consent: bool
    school_id: str | None = None
    student_name: str | None = None
    hardship: bool = False
    wants_extended_care: bool = False
    activity_ids: tuple[str, ...] = field(default_factory=tuple)
    consent_evidence: str | None = None
    correlation_id: str | None = None


def _digest(cmd: SubmitApplication) -> str:
    fields = {k: v for k, v in asdict(cmd).items() if k not in {"idempotency_key", "correlation_id"}}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()


async def submit_application(uow: EnrollmentUoW, actor: Actor, cmd: SubmitApplication, *,
                             clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R1, R6: a guardian applies for their own child, once the programme is disclosed. School staff may
    enter it for a guardian, marked as such and with the guardian's consent on record. A retried request
    (same key, same body) returns the first result and publishes nothing new."""
    require_role(actor, "guardian", "school", doing="apply: only a guardian's own application enrolls a student (R1)")
    key = f"{actor.subject}:{cmd.idempotency_key}"
    digest = _digest(cmd)
    earlier = await uow.application_by_key(key)
    if earlier is not None:
        if earlier.request_digest != digest:
            raise Conflict("this Idempotency-Key was already used for a different application")
        return earlier, False
    guardian = await uow.guardian(cmd.guardian_id)
    require_own_child(actor, guardian_id=cmd.guardian_id,
                      guardian_children=tuple(guardian.student_ids) if guardian else None, student_id=cmd.student_id)
    programme = await uow.programme(cmd.programme_id)
    if programme is None:
        raise NotFound(f"programme {cmd.programme_id} does not exist")
    now = clock()
    check_applications_open(published=programme.status == "published", open_at=programme.applications_open_at,
                            close_at=programme.applications_close_at, now=now)
    student = await uow.student(cmd.student_id)
    if student is None:
        raise DomainError(problems=[Problem(("body", "student_id"), f"student {cmd.student_id} is not on any "
                                            "school's records", "not_eligible")])
    on_behalf = actor.role == "school"
    if on_behalf:
        require_school_scope(actor, student.school_id, None, doing="enter an application")
    problems = []
    if student.school_id != programme.school_id:
        problems.append(Problem(("body", "programme_id"), f"the programme is run by school {programme.school_id}; "
                                f"{cmd.student_id} attends {student.school_id}", "not_eligible"))
    if cmd.school_id is not None and cmd.school_id != programme.school_id:
        problems.append(Problem(("body", "school_id"), f"the programme is run by school {programme.school_id}", "value_error"))
    offered = {a["activity_id"] for a in programme.spec["activities"]}
    for i, activity in enumerate(cmd.activity_ids):
        if activity not in offered:
            problems.append(Problem(("body", "activity_ids", i), f"{activity} is not offered by this programme", "R3"))
    if problems:
        raise DomainError(problems=problems)
    check_consent(cmd.consent, on_behalf=on_behalf, consent_evidence=cmd.consent_evidence)
    live = await uow.active_application(cmd.student_id, cmd.programme_id)
    if live is not None:
        raise Conflict(f"{cmd.student_id} already has application {live.application_id} ({live.status}) for this programme")
    row = ApplicationRow(
        application_id=f"app-{uuid.uuid4().hex[:16]}", idempotency_key=key, request_digest=digest,
        programme_id=programme.programme_id, school_id=programme.school_id, district_id=programme.district_id,
        class_id=student.class_id, student_id=student.student_id, student_name=student.name,
        guardian_id=cmd.guardian_id, consent=cmd.consent, consent_evidence=cmd.consent_evidence,
        on_behalf=on_behalf, hardship=cmd.hardship, wants_extended_care=cmd.wants_extended_care,
        activity_ids=list(cmd.activity_ids), submitted_by=actor.subject, submitted_by_role=actor.event_role,
        submitted_at=now,
    )
    if on_behalf:
        row.submitted_by_role = (await with_position(uow, actor)).event_role
    uow.add(row)
    uow.publish(ApplicationSubmitted(
        application_id=row.application_id, programme_id=row.programme_id, school_id=row.school_id,
        student_id=row.student_id, student_name=row.student_name, guardian_id=row.guardian_id,
        submitted_by=row.submitted_by, submitted_by_role=row.submitted_by_role, on_behalf=row.on_behalf,
        consent=row.consent, hardship=row.hardship, submitted_at=row.submitted_at,
        wants_extended_care=row.wants_extended_care, activity_ids=row.activity_ids,
    ), correlation_id=cmd.correlation_id)
    await uow.commit()
    return row, True


async def _application(uow: EnrollmentUoW, actor: Actor, application_id: str, *, doing: str) -> ApplicationRow:
    """The application, locked for change, if the caller's school or district is responsible for it (R27)."""
    row = await uow.application(application_id, lock=True)
    if row is None:
        raise NotFound(f"application {application_id} does not exist")
    await school_in_scope(uow, actor, row.school_id, doing=doing)
    return row


def _approved_event(row: ApplicationRow, *, promoted: bool) -> ApplicationApproved:
    return ApplicationApproved(
        application_id=row.application_id, programme_id=row.programme_id, school_id=row.school_id,
        student_id=row.student_id, guardian_id=row.guardian_id, hardship=row.hardship_verified,
        hardship_verified_by=row.hardship_verified_by, hardship_verified_by_role=row.hardship_verified_by_role,
        extended_care=row.extended_care, approved_by=row.decided_by, approved_by_role=row.decided_by_role,
        approved_at=row.approved_at, promoted_from_waitlist=promoted,
    )


async def approve_application(uow: EnrollmentUoW, actor: Actor, application_id: str, *, hardship_verified: bool = False,
                              extended_care: bool | None = None, correlation_id: str | None = None,
                              clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R6: the school approves. With the programme full, the approval waits on the waitlist and takes
    the next free place. A verified hardship status names its verifier (R9)."""
    require_role(actor, "school", doing="approve an application (R6)")
    row = await _application(uow, actor, application_id, doing="approve applications")
    if not step("approve", row.status):
        return row, False
    actor = await with_position(uow, actor)
    programme = await uow.programme(row.programme_id, lock=True)  # one capacity decision at a time
    placement = place(programme.capacity, await uow.places_taken(row.programme_id),
                      len(await uow.waitlist(row.programme_id)))
    now = clock()
    row.hardship_verified, row.hardship_verified_by = hardship_status(verified=hardship_verified, verified_by=actor.subject)
    row.hardship_verified_by_role = actor.event_role if row.hardship_verified else None
    row.extended_care = row.wants_extended_care if extended_care is None else extended_care
    row.decided_by, row.decided_by_role, row.decided_at = actor.subject, actor.event_role, now
    row.status = placement.status
    if placement.status == "approved":
        row.approved_at = now
        uow.publish(_approved_event(row, promoted=False), correlation_id=correlation_id)
    else:
        row.waitlisted_at = now
        uow.publish(ApplicationWaitlisted(
            application_id=row.application_id, programme_id=row.programme_id, school_id=row.school_id,
            student_id=row.student_id, guardian_id=row.guardian_id, position=placement.position,
            waitlisted_by=actor.subject, waitlisted_by_role=actor.event_role, waitlisted_at=now,
        ), correlation_id=correlation_id)
    uow.add(row)
    await uow.commit()
    return row, True


async def reject_application(uow: EnrollmentUoW, actor: Actor, application_id: str, *, reason_code: str, reason: str,
                             correlation_id: str | None = None, clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R6: the school rejects, always with a reason the guardian is told."""
    require_role(actor, "school", doing="reject an application (R6)")
    row = await _application(uow, actor, application_id, doing="reject applications")
    if not step("reject", row.status):
        if (row.reject_reason_code, row.reject_reason) != (reason_code, reason):
            raise Conflict(f"the application was already rejected: {row.reject_reason}")
        return row, False
    actor = await with_position(uow, actor)
    now = clock()
    row.status, row.reject_reason_code, row.reject_reason = "rejected", reason_code, reason
    row.decided_by, row.decided_by_role, row.decided_at = actor.subject, actor.event_role, now
    uow.add(row)
    uow.publish(ApplicationRejected(
        application_id=row.application_id, programme_id=row.programme_id, school_id=row.school_id,
        student_id=row.student_id, guardian_id=row.guardian_id, reason_code=reason_code, reason=reason,
        rejected_by=actor.subject, rejected_by_role=actor.event_role, rejected_at=now,
    ), correlation_id=correlation_id)
    await uow.commit()
    return row, True


async def report_application(uow: EnrollmentUoW, actor: Actor, application_id: str, *,
                             correlation_id: str | None = None, clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R6 上报申请: the school reports the approved application to its district."""
    require_role(actor, "school", doing="report an application to the district (R6)")
    row = await _application(uow, actor, application_id, doing="report applications")
    if not step("report", row.status):
        return row, False
    actor = await with_position(uow, actor)
    now = clock()
    row.status = "reported"
    row.reported_by, row.reported_by_role, row.reported_at = actor.subject, actor.event_role, now
    uow.add(row)
    uow.publish(ApplicationReported(
        application_id=row.application_id, programme_id=row.programme_id, school_id=row.school_id,
        district_id=row.district_id, student_id=row.student_id, reported_by=actor.subject,
        reported_by_role=actor.event_role, reported_at=now,
    ), correlation_id=correlation_id)
    await uow.commit()
    return row, True


def enrollment_id_of(application_id: str) -> str:
    """The enrollment an application leads to has the application's number, so a withdrawal before
    filing still names the enrollment it prevents."""
    return "enr-" + application_id.removeprefix("app-")


async def file_application(uow: EnrollmentUoW, actor: Actor, application_id: str, *,
                           correlation_id: str | None = None, clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R6 属地报备: the district files the reported application; from now the student is enrolled, and
    attendance (roster) and billing (fee account, hardship exemption R9) follow from EnrollmentFiled."""
    require_role(actor, "district", doing="file an enrollment (R6)")
    row = await _application(uow, actor, application_id, doing="file enrollments")
    if not step("file", row.status):
        return row, False
    now = clock()
    class_row = await uow.class_(row.class_id) if row.class_id else None
    pickups = [g for g in await uow.guardians_of(row.student_id) if g != row.guardian_id]
    row.status, row.enrollment_id = "filed", enrollment_id_of(row.application_id)
    row.filed_by, row.filed_by_role, row.filed_at = actor.subject, actor.event_role, now
    uow.add(row)
    uow.publish(EnrollmentFiled(
        enrollment_id=row.enrollment_id, application_id=row.application_id, programme_id=row.programme_id,
        school_id=row.school_id, district_id=row.district_id, student_id=row.student_id,
        student_name=row.student_name, guardian_id=row.guardian_id, hardship=row.hardship_verified,
        extended_care=row.extended_care, activity_ids=row.activity_ids,
        class_teacher_id=class_row.class_teacher_id if class_row else None, authorised_pickup_ids=pickups,
        filed_by=actor.subject, filed_by_role=actor.event_role, filed_at=now,
    ), correlation_id=correlation_id)
    await uow.commit()
    return row, True


async def withdraw_application(uow: EnrollmentUoW, actor: Actor, application_id: str, *, reason: str | None = None,
                               effective_on: date | None = None, correlation_id: str | None = None,
                               clock: Clock = utcnow) -> tuple[ApplicationRow, bool]:
    """R1: a guardian may withdraw their child at any time, at any step, without giving a reason. The
    place it held goes to the first application on the waitlist."""
    require_role(actor, "guardian", doing="withdraw: withdrawal is the guardian's decision (R1)")
    row = await uow.application(application_id, lock=True)
    if row is None:
        raise NotFound(f"application {application_id} does not exist")
    guardian = await uow.guardian(actor.subject)
    require_own_child(actor, guardian_id=actor.subject,
                      guardian_children=tuple(guardian.student_ids) if guardian else None, student_id=row.student_id)
    if not step("withdraw", row.status):
        return row, False
    now = clock()
    first_day = effective_on or today_local(now)
    if first_day < today_local(now):
        raise DomainError(problems=[Problem(("body", "effective_on"), "a withdrawal cannot take effect in the past", "R17")])
    held_place = row.status in HOLDS_PLACE
    row.status, row.withdraw_reason, row.effective_on = "withdrawn", reason, first_day
    row.withdrawn_by, row.withdrawn_by_role, row.withdrawn_at = actor.subject, actor.event_role, now
    row.enrollment_id = row.enrollment_id or enrollment_id_of(row.application_id)
    uow.add(row)
    uow.publish(EnrollmentWithdrawn(
        enrollment_id=row.enrollment_id, programme_id=row.programme_id, school_id=row.school_id,
        student_id=row.student_id, guardian_id=row.guardian_id, effective_on=first_day, reason=reason,
        withdrawn_by=actor.subject, withdrawn_by_role=actor.event_role, withdrawn_at=now,
    ), correlation_id=correlation_id)
    if held_place:
        programme = await uow.programme(row.programme_id, lock=True)
        await promote_from_waitlist(uow, programme, correlation_id=correlation_id)
    await uow.commit()
    return row, True


async def promote_from_waitlist(uow: EnrollmentUoW, programme: ProgrammeRow, *, correlation_id: str | None = None,
                                clock: Clock = utcnow) -> list[ApplicationRow]:
    """Fill free places from the waitlist, first come first served (R7). The school's approval stands;
    the event names the approver and says the application moved up."""
    waiting = await uow.waitlist(programme.programme_id, lock=True)
    free = programme.capacity - await uow.places_taken(programme.programme_id)
    promoted = waiting[:max(free, 0)]
    now = clock()
    for row in promoted:
        row.status, row.approved_at = "approved", now
        uow.add(row)
        uow.publish(_approved_event(row, promoted=True), correlation_id=correlation_id)
    return promoted


def forbid_bulk(body: object) -> None:
    """R1: no bulk or automatic enrollment; each application is one guardian's, for one child. A list of
    applications in one request is refused whatever it holds."""
    if isinstance(body, list):
        raise DomainError(problems=[Problem(("body",), "bulk enrollment is forbidden: one application per request, "
                                            "by the child's own guardian (R1)", "R1")])
