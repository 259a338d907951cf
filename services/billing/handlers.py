"""Billing's use cases: one handler per consumed event, plus the table of which takes which."""
from __future__ import annotations

from shared.contracts.enrollment import EnrollmentFiled, EnrollmentWithdrawn
from shared.contracts.envelope import Envelope
from services.billing.db import BillingUoW, FeeAccountRow
from services.billing.domain import chargeable


async def open_fee_account(uow: BillingUoW, envelope: Envelope, event: EnrollmentFiled) -> None:
    """A filed enrolment opens the family's fee account; hardship students are never chargeable (R9)."""
    row = await uow.account(event.student_id, event.programme_id) or FeeAccountRow(
        student_id=event.student_id, programme_id=event.programme_id, school_id=event.school_id,
        guardian_id=event.guardian_id, hardship=event.hardship, chargeable=chargeable(event.hardship),
        opened_at=envelope.occurred_at,
    )
    row.hardship = event.hardship
    row.chargeable = chargeable(event.hardship)
    row.active = True
    uow.session.add(row)


async def close_fee_account(uow: BillingUoW, envelope: Envelope, event: EnrollmentWithdrawn) -> None:
    row = await uow.account(event.student_id, event.programme_id)
    if row is not None:
        row.active = False
        uow.session.add(row)


HANDLERS = {
    "EnrollmentFiled": open_fee_account,
    "EnrollmentWithdrawn": close_fee_account,
}
