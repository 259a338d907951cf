"""Enrollment's use cases: one async function per command, each one transaction with its events."""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from shared.contracts.enrollment import ApplicationSubmitted, GuardianRegistered
from shared.privacy import Sealer, mask_phone
from services.enrollment.db import ApplicationRow, EnrollmentUoW, GuardianRow
from services.enrollment.domain import DomainError, GuardianFacts, check_application, normalise_mobile


class Conflict(DomainError):
    """The same identifier was used before with different content."""


@dataclass(frozen=True)
class RegisterGuardian:
    guardian_id: str
    school_id: str
    student_ids: tuple[str, ...]
    name: str
    phone: str
    consent: bool
    actor: str
    locale: str = "zh-CN"
    push_token: str | None = None


@dataclass(frozen=True)
class SubmitApplication:
    idempotency_key: str
    programme_id: str
    school_id: str
    student_id: str
    student_name: str
    guardian_id: str
    consent: bool
    actor: str
    hardship: bool = False
    correlation_id: str | None = None


async def register_guardian(uow: EnrollmentUoW, cmd: RegisterGuardian, sealer: Sealer) -> tuple[GuardianRow, bool]:
    """Returns the guardian and whether it was created now (False: an identical earlier registration)."""
    phone = normalise_mobile(cmd.phone)
    existing = await uow.guardian(cmd.guardian_id)
    if existing is not None:
        same = (
            existing.school_id == cmd.school_id
            and tuple(existing.student_ids) == cmd.student_ids
            and existing.phone_masked == mask_phone(phone)
            and existing.consent == cmd.consent
        )
        if not same:
            raise Conflict(f"guardian {cmd.guardian_id} is already registered with other details")
        return existing, False
    row = GuardianRow(
        guardian_id=cmd.guardian_id,
        school_id=cmd.school_id,
        name=cmd.name,
        student_ids=list(cmd.student_ids),
        locale=cmd.locale,
        phone_sealed=sealer.seal(phone),
        phone_masked=mask_phone(phone),
        push_token_sealed=sealer.seal(cmd.push_token) if cmd.push_token else None,
        consent=cmd.consent,
        registered_by=cmd.actor,
    )
    uow.add(row)
    uow.publish(
        GuardianRegistered(
            guardian_id=row.guardian_id,
            school_id=row.school_id,
            student_ids=row.student_ids,
            name=row.name,
            locale=row.locale,
            phone_masked=row.phone_masked,
            phone_sealed=row.phone_sealed,
            push_token_sealed=row.push_token_sealed,
            consent=row.consent,
            registered_by=cmd.actor,
        )
    )
    await uow.commit()
    return row, True


def _digest(cmd: SubmitApplication) -> str:
    fields = {k: v for k, v in cmd.__dict__.items() if k not in {"idempotency_key", "correlation_id"}}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


async def submit_application(uow: EnrollmentUoW, cmd: SubmitApplication) -> tuple[ApplicationRow, bool]:
    """R1, R6: a guardian applies for their own child. A retried request (same idempotency key and
    body) returns the first result and publishes nothing new; another body under that key is refused."""
    digest = _digest(cmd)
    earlier = await uow.application_by_key(cmd.idempotency_key)
    if earlier is not None:
        if earlier.request_digest != digest:
            raise Conflict("this Idempotency-Key was already used for a different application")
        return earlier, False
    guardian = await uow.guardian(cmd.guardian_id)
    facts = GuardianFacts(guardian.guardian_id, tuple(guardian.student_ids), guardian.consent) if guardian else None
    check_application(facts, student_id=cmd.student_id, consent=cmd.consent, on_behalf=False)
    row = ApplicationRow(
        application_id=f"app-{uuid.uuid4().hex[:12]}",
        idempotency_key=cmd.idempotency_key,
        request_digest=digest,
        programme_id=cmd.programme_id,
        school_id=cmd.school_id,
        student_id=cmd.student_id,
        student_name=cmd.student_name,
        guardian_id=cmd.guardian_id,
        consent=cmd.consent,
        hardship=cmd.hardship,
        submitted_by=cmd.actor,
        submitted_at=datetime.now(timezone.utc),
    )
    uow.add(row)
    uow.publish(
        ApplicationSubmitted(
            application_id=row.application_id,
            programme_id=row.programme_id,
            school_id=row.school_id,
            student_id=row.student_id,
            student_name=row.student_name,
            guardian_id=row.guardian_id,
            submitted_by=row.submitted_by,
            on_behalf=row.on_behalf,
            consent=row.consent,
            hardship=row.hardship,
            submitted_at=row.submitted_at,
        ),
        correlation_id=cmd.correlation_id,
    )
    await uow.commit()
    return row, True


# Enrollment consumes no events yet; the table exists so every service has the same shape.
HANDLERS: dict = {}
