"""Pickup persons (R11, issue 16): a guardian names a grandparent, relative or neighbour who may collect
the child until a day, and revokes them at any time; attendance hears of both and judges check-outs by it."""
from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.db import EnrollmentUoW
from services.enrollment.domain import Actor, DomainError, Forbidden, NotFound, Problem
from services.enrollment.handlers.common import Clock, utcnow
from shared.contracts.enrollment import PickupPersonAuthorised, PickupPersonRevoked
from shared.privacy import mask_phone


async def _guardian_of(uow: EnrollmentUoW, actor: Actor, student_id: str) -> None:
    if actor.role != "guardian" or actor.subject not in await uow.guardians_of(student_id):
        raise Forbidden(f"only a guardian of {student_id} may name who collects them (R11)")


async def authorise_pickup(uow: EnrollmentUoW, actor: Actor, student_id: str, *, name: str, relation: str,
                           phone: str, valid_until: date, clock: Clock = utcnow) -> PickupPersonAuthorised:
    await _guardian_of(uow, actor, student_id)
    if valid_until < clock().date():
        raise DomainError(problems=[Problem(("body", "valid_until"), "valid_until is already past", "R11")])
    event = PickupPersonAuthorised(
        pickup_person_id=f"pku-{uuid.uuid4().hex[:12]}", student_id=student_id, guardian_id=actor.subject, name=name,
        relation=relation, phone_masked=mask_phone(phone), valid_until=valid_until, decided_by=actor.subject,
        decided_by_role=actor.event_role, decided_at=clock())
    await uow.add_pickup_person(event.model_dump(exclude={"decided_by", "decided_by_role"}))
    uow.publish(event)
    await uow.commit()
    return event


async def revoke_pickup(uow: EnrollmentUoW, actor: Actor, student_id: str, pickup_person_id: str, *,
                        clock: Clock = utcnow) -> PickupPersonRevoked:
    await _guardian_of(uow, actor, student_id)
    now = clock()
    row = await uow.revoke_pickup_person(student_id, pickup_person_id, now)
    if row is None:
        raise NotFound(f"{student_id} has no pickup person {pickup_person_id}")
    event = PickupPersonRevoked(**row, guardian_id=actor.subject, decided_by=actor.subject,
                                decided_by_role=actor.event_role, decided_at=now)
    uow.publish(event)
    await uow.commit()
    return event
