"""Billing's reactions to enrollment and attendance events: programmes, fee accounts, hardship
verifications, and the month of presence settlement charges from (R6, R9, R13, R17, R20)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.billing.db import BillingUoW, FeeAccountRow, HardshipVerificationRow, ProgrammeRow
from services.billing.domain import chargeable, period_of
from services.billing.domain.calendar import day_bit
from shared.contracts.attendance import (
    ActivityRecorded,
    ExtendedCareEscalated,
    ExtendedCareStarted,
    StudentCheckedIn,
    StudentCheckedOut,
)
from shared.contracts.enrollment import ApplicationApproved, EnrollmentFiled, EnrollmentWithdrawn, ProgrammePublished
from shared.contracts.envelope import Envelope
from shared.messaging.consumer import Item, batch_handler

# Only people who deliver the service are paid for sessions (R20, R28); a gate system or the
# platform itself checking a child in ran no session.
_STAFF_ROLES = frozenset({"school_staff", "outside_provider", "principal"})


async def record_programme(uow: BillingUoW, envelope: Envelope, event: ProgrammePublished) -> None:
    """Keep the programme's district and disclosed fee standard: schedules are checked against it (R4, R25)."""
    row = await uow.programme(event.programme_id) or ProgrammeRow(
        programme_id=event.programme_id, school_id=event.school_id, district_id=event.district_id,
        term=event.term, name=event.name)
    row.school_id, row.district_id, row.term, row.name = event.school_id, event.district_id, event.term, event.name
    row.fee_per_session_fen = event.fee_per_session_fen
    row.extended_care_fee_per_session_fen = event.extended_care_fee_per_session_fen
    row.published_at = envelope.occurred_at
    uow.add(row)
    await uow.remember_school(event.school_id, event.district_id)


async def record_hardship_verification(uow: BillingUoW, envelope: Envelope, event: ApplicationApproved) -> None:
    """Remember who verified a family's hardship: the waiver cites it (R9)."""
    if not event.hardship:
        return
    row = await uow.hardship_verification(event.application_id) or HardshipVerificationRow(
        application_id=event.application_id, student_id=event.student_id)
    row.verified_by, row.verified_by_role = event.hardship_verified_by, event.hardship_verified_by_role
    uow.add(row)


async def open_fee_account(uow: BillingUoW, envelope: Envelope, event: EnrollmentFiled) -> None:
    """A filed enrollment opens the family's fee account; hardship students are never chargeable (R9)."""
    row = await uow.account(event.student_id, event.programme_id) or FeeAccountRow(
        student_id=event.student_id, programme_id=event.programme_id, school_id=event.school_id,
        guardian_id=event.guardian_id, hardship=event.hardship, chargeable=chargeable(event.hardship),
        opened_at=event.filed_at,
    )
    row.school_id, row.district_id, row.guardian_id = event.school_id, event.district_id, event.guardian_id
    row.enrollment_id, row.application_id = event.enrollment_id, event.application_id
    row.hardship = event.hardship
    row.chargeable = chargeable(event.hardship)
    row.extended_care = event.extended_care
    row.active = True
    row.withdrawn_on = None
    uow.add(row)
    await uow.remember_school(event.school_id, event.district_id)


async def close_fee_account(uow: BillingUoW, envelope: Envelope, event: EnrollmentWithdrawn) -> None:
    """Charges stop from the day the withdrawal takes effect; month-end refunds unused credit (R1, R17)."""
    row = await uow.account(event.student_id, event.programme_id)
    if row is not None:
        row.active = False
        row.withdrawn_on = event.effective_on
        uow.add(row)


@batch_handler
async def apply_enrollments(uow: BillingUoW, items: Sequence[Item]) -> None:
    """A run of approvals, filings and withdrawals, as record_hardship_verification, open_fee_account
    and close_fee_account would apply them one by one, in a few set-based statements: the run is
    folded in order into each account's and verification's final state first. A city's setup files
    hundreds of thousands of enrollments (R9, R17)."""
    accounts: dict[tuple[str, str], dict] = {}   # (student, programme) -> the account as the run leaves it
    withdrawals: dict[tuple[str, str], date] = {}  # accounts the run only closes (opened before it, if at all)
    districts: dict[str, str | None] = {}
    verifications: dict[str, dict] = {}
    for item in items:
        event = item.event
        if isinstance(event, EnrollmentFiled):
            key = (event.student_id, event.programme_id)
            withdrawals.pop(key, None)
            opened_at = accounts[key]["opened_at"] if key in accounts else event.filed_at
            accounts[key] = {"school_id": event.school_id, "district_id": event.district_id,
                             "guardian_id": event.guardian_id, "enrollment_id": event.enrollment_id,
                             "application_id": event.application_id, "hardship": event.hardship,
                             "chargeable": chargeable(event.hardship), "extended_care": event.extended_care,
                             "active": True, "withdrawn_on": None, "opened_at": opened_at}
            if event.district_id is not None or event.school_id not in districts:
                districts[event.school_id] = event.district_id
        elif isinstance(event, EnrollmentWithdrawn):
            key = (event.student_id, event.programme_id)
            if key in accounts:
                accounts[key].update(active=False, withdrawn_on=event.effective_on)
            else:
                withdrawals[key] = event.effective_on
        elif isinstance(event, ApplicationApproved) and event.hardship:
            known = verifications.get(event.application_id)
            verifications[event.application_id] = {
                "student_id": known["student_id"] if known else event.student_id,
                "verified_by": event.hardship_verified_by, "verified_by_role": event.hardship_verified_by_role}
    await uow.remember_schools(districts)
    await uow.upsert_fee_accounts(accounts)
    await uow.withdraw_fee_accounts(withdrawals)
    await uow.upsert_hardship_verifications(verifications)


def _note(uow: BillingUoW, event, *, extended_care: bool, staff_id: str | None, staff_role: str | None,
          staff_in_extended_care: bool = False) -> None:
    period, bit = period_of(event.session_date), day_bit(event.session_date)
    uow.note_presence(event.school_id, event.programme_id, event.student_id, period, bit, extended_care)
    if staff_id and (staff_role is None or staff_role in _STAFF_ROLES):
        uow.note_staff(event.school_id, event.programme_id, staff_id, period, bit, staff_in_extended_care)


async def record_check_in(uow: BillingUoW, envelope: Envelope, event: StudentCheckedIn) -> None:
    """The student attended that day's session, which the school therefore provided (R17)."""
    _note(uow, event, extended_care=False, staff_id=event.checked_in_by, staff_role=event.checked_in_by_role)


async def record_check_out(uow: BillingUoW, envelope: Envelope, event: StudentCheckedOut) -> None:
    """Attended, and used extended care if collected after the session end (R13, R17)."""
    _note(uow, event, extended_care=event.extended_care, staff_id=event.handed_over_by,
          staff_role=event.handed_over_by_role, staff_in_extended_care=event.extended_care)


async def record_extended_care(uow: BillingUoW, envelope: Envelope, event: ExtendedCareStarted) -> None:
    """The child stayed into extended care under a named supervisor (R8, R13)."""
    _note(uow, event, extended_care=True, staff_id=event.supervising_staff_id, staff_role=None,
          staff_in_extended_care=True)


async def record_escalation(uow: BillingUoW, envelope: Envelope, event: ExtendedCareEscalated) -> None:
    """Still in extended care at its end: that is extended care used, and supervised (R13)."""
    _note(uow, event, extended_care=True, staff_id=event.supervising_staff_id, staff_role=None,
          staff_in_extended_care=True)


async def record_activity(uow: BillingUoW, envelope: Envelope, event: ActivityRecorded) -> None:
    """Taking part in an activity is presence; running it is a session run (R14, R20)."""
    _note(uow, event, extended_care=False, staff_id=event.recorded_by, staff_role=event.recorded_by_role)
