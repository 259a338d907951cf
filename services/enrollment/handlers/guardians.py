"""Guardian registration (R1, R22): a school records a guardian of its students, with sealed contacts."""
from __future__ import annotations

from services.enrollment.db import EnrollmentUoW, GuardianRow
from services.enrollment.domain import Actor, Conflict, DomainError, Problem, require_role
from services.enrollment.domain.reference import GuardianRecord
from services.enrollment.handlers.common import Clock, school_in_scope, utcnow, with_position
from services.enrollment.handlers.reference import row_digest
from shared.contracts.enrollment import GuardianRegistered
from shared.privacy import Sealer, mask_phone


async def register_guardian(uow: EnrollmentUoW, actor: Actor, record: GuardianRecord, *, sealer: Sealer, key: bytes,
                            correlation_id: str | None = None, clock: Clock = utcnow) -> tuple[GuardianRow, bool]:
    """The guardian–child link comes from the school's records, never from the guardian's own claim
    (R1: a guardian acts only for their own child). Returns the row and whether it was created now;
    the same registration again is a no-op, other details under the same id are refused."""
    require_role(actor, "school", "district", "city", doing="register guardians: the school records who a child's "
                 "guardians are (R1)")
    await school_in_scope(uow, actor, record.school_id, doing="register guardians")
    digest = row_digest(key, record)
    existing = await uow.guardian(record.guardian_id)
    if existing is not None:
        if existing.row_digest != digest:
            raise Conflict(f"guardian {record.guardian_id} is already registered with other details")
        return existing, False
    problems = []
    for i, student_id in enumerate(record.student_ids):
        student = await uow.student(student_id)
        if student is None:
            problems.append(Problem(("body", "student_ids", i), f"{student_id} is not on any school's records", "R1"))
            continue
        school = await uow.school(student.school_id)
        if not actor.sees_school(student.school_id, school.district_id if school else None):
            problems.append(Problem(("body", "student_ids", i), f"{student_id} is not a student in your care (R27)", "R27"))
    if problems:
        raise DomainError(problems=problems)
    actor = await with_position(uow, actor)
    row = GuardianRow(
        guardian_id=record.guardian_id, school_id=record.school_id, name=record.name,
        student_ids=list(record.student_ids), locale=record.locale, phone_sealed=sealer.seal(record.phone),
        phone_masked=mask_phone(record.phone),
        push_token_sealed=sealer.seal(record.push_token) if record.push_token else None,
        consent=record.consent, registered_by=actor.subject, row_digest=digest,
    )
    uow.add(row)
    uow.publish(GuardianRegistered(
        guardian_id=row.guardian_id, school_id=row.school_id, student_ids=row.student_ids, name=row.name,
        locale=row.locale, phone_masked=row.phone_masked, phone_sealed=row.phone_sealed,
        push_token_sealed=row.push_token_sealed, consent=row.consent, registered_by=actor.subject,
        registered_by_role=actor.event_role, registered_at=clock(),
    ), correlation_id=correlation_id)
    await uow.commit()
    return row, True
