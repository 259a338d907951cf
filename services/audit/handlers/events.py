"""Consumer use cases: fee records become ledger entries exactly once (R24); a redelivery with other
bytes is refused and reported; enrollment and attendance events become the facts checks need (R25).
A handler that raises a finding takes the clock as `clock` (the kit calls it with the default; a test
passes its own), as every service's handlers do."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from services.audit.db import AuditUoW
from services.audit.domain import leaf_bytes, opened_document
from services.audit.domain.coercion import COERCION_WINDOW, StaffEntered, coerced_applications, reported_coercion
from services.audit.domain.insurance import insurance_gap
from services.audit.domain.rules import FeeStandard, LabourFeePlan, conflicting_delivery
from services.audit.handlers.findings import record_findings
from services.audit.ledger import books
from services.audit.ledger.merkle import leaf_hash
from shared.contracts.attendance import ActivityRecorded, ExtendedCareStarted, StudentCheckedIn, StudentCheckedOut
from shared.contracts.billing import (
    DisclosurePublished,
    DistributionPlanRecorded,
    FeeScheduleApproved,
    FeeWaived,
    SubsidyGranted,
)
from shared.contracts.enrollment import (
    ApplicationSubmitted,
    CoercionReported,
    EnrollmentFiled,
    EnrollmentWithdrawn,
    ProgrammePublished,
)
from shared.contracts.envelope import Envelope, Event
from shared.messaging.consumer import Item, Rejected, batch_handler
from shared.time import utc_now

Clock = Callable[[], datetime]


async def record_fee_record(uow: AuditUoW, envelope: Envelope, event: Event) -> None:
    """One ledger entry per fee record; the inbox drops an exact redelivery before it gets here. Its leaf
    is sealed when the batch is numbered: personal fields committed, the salt kept private (entry format 2)."""
    document = envelope.model_dump(mode="json")
    try:
        entry = books.describe(document)
    except books.EntryError as exc:
        raise Rejected(f"cannot be recorded in the ledger: {exc}") from exc
    uow.stage_entry(envelope.event_id, document, entry)
    uow.note_district(entry.school_id, entry.district_id)
    if isinstance(event, FeeScheduleApproved):
        standard = FeeStandard(event.fee_schedule_id, event.school_id, event.programme_id,
                               {i.category: (i.amount_fen, i.unit) for i in event.items})
        await uow.upsert_fee_standard(standard, event.effective_from)
    elif isinstance(event, FeeWaived):
        await uow.add_waiver(event.waiver_id, event.charge_id, event.reason, event.amount_fen)
    elif isinstance(event, SubsidyGranted):
        # The district pays subsidies into the school's unified account: that is an account of the school.
        await uow.add_school_account(event.school_id, event.deposited_to_account)
    elif isinstance(event, DisclosurePublished):
        await uow.add_disclosure(event.disclosure_id, event.school_id, event.period_start, event.period_end)


async def compare_redelivery(uow: AuditUoW, envelope: Envelope, event: Event, *, clock: Clock = utc_now) -> None:
    """A fee record whose event id was seen before: the same bytes change nothing; other bytes are
    refused (the ledger keeps what it recorded first), kept as evidence and reported once (R24)."""
    document = envelope.model_dump(mode="json")
    staged = uow.staged(envelope.event_id)
    if staged == document:
        return
    if staged is not None:
        await uow.write_staged_entries()
    recorded = await uow.recorded(envelope.event_id)
    if recorded is None:
        return
    seq, event_type, school_id, first_body, first_hash, opening = recorded
    if opened_document(first_body, opening) == document:
        return
    body = leaf_bytes(envelope)
    delivered_hash = leaf_hash(body)
    await uow.record_conflict(envelope.event_id, body, delivered_hash)
    covering = await uow.checkpoint_covering(seq + 1)
    finding = conflicting_delivery(envelope.event_id, seq, school_id, event_type, first_hash, delivered_hash)
    await record_findings(uow, [finding], ledger_tree_size=covering.tree_size if covering else None,
                          now=clock())


async def record_distribution_plan(uow: AuditUoW, envelope: Envelope, event: DistributionPlanRecorded) -> None:
    """The approved labour-fee rates (R20) that every payout naming the plan is judged against (R25)."""
    plan = LabourFeePlan(event.plan_id, event.school_id, event.per_session_fen, event.extended_care_per_session_fen)
    await uow.add_distribution_plan(plan, event.approval_ref, event.approved_on, event.effective_from,
                                    event.paid_from_account)


async def record_programme(uow: AuditUoW, envelope: Envelope, event: ProgrammePublished, *,
                         clock: Clock = utc_now) -> None:
    """The disclosed per-session fees (R4, R7) that no charge may exceed (R25); and the programme's insurance,
    which must cover its whole term (R30: insurance_missing otherwise)."""
    await uow.upsert_programme(event.programme_id, event.school_id, event.district_id, event.fee_per_session_fen,
                               event.extended_care_fee_per_session_fen)
    uow.note_district(event.school_id, event.district_id)
    gap = insurance_gap(event.programme_id, event.school_id, event.term, event.insurance, envelope.event_id)
    if gap is not None:
        await record_findings(uow, [gap], ledger_tree_size=None, now=clock())


@batch_handler
async def record_enrollments(uow: AuditUoW, items: Sequence[Item]) -> None:
    """Who may be charged (R6), and who never may (R9): a run of filings in one statement; a student filed
    twice in the run keeps the later filing."""
    filed: dict[tuple[str, str], tuple[str, bool]] = {}
    for item in items:
        event: EnrollmentFiled = item.event  # type: ignore[assignment]
        filed[(event.student_id, event.programme_id)] = (event.school_id, event.hardship)
        uow.note_district(event.school_id, event.district_id)
    await uow.file_enrollments(filed)


@batch_handler
async def record_withdrawals(uow: AuditUoW, items: Sequence[Item]) -> None:
    """No charge from the day a withdrawal takes effect (R1, R17); the later of two in a run stands."""
    withdrawn: dict[tuple[str, str], tuple[str, date]] = {}
    for item in items:
        event: EnrollmentWithdrawn = item.event  # type: ignore[assignment]
        withdrawn[(event.student_id, event.programme_id)] = (event.school_id, event.effective_on)
    await uow.withdraw_enrollments(withdrawn)


# Who ran the session, by the attendance event that says so (R20).
_STAFF_FIELD = {
    StudentCheckedIn: "checked_in_by",
    StudentCheckedOut: "handed_over_by",
    ActivityRecorded: "recorded_by",
    ExtendedCareStarted: "supervising_staff_id",
}


@batch_handler
async def record_sessions(uow: AuditUoW, items: Sequence[Item]) -> None:
    """Attendance proves a session was held (R17) and who ran it (R20); many records name one session,
    so the unit of work keeps the distinct facts and writes them once, at commit."""
    for item in items:
        event = item.event
        uow.note_session_held(event.school_id, event.programme_id, event.session_date)  # type: ignore[attr-defined]
        uow.note_staff_session(event.school_id, getattr(event, _STAFF_FIELD[type(event)]),  # type: ignore[attr-defined]
                               event.session_date)  # type: ignore[attr-defined]


@batch_handler
async def record_applications(uow: AuditUoW, items: Sequence[Item], *, clock: Clock = utc_now) -> None:
    """R1: applications a school entered on families' behalf are kept, and each (school, programme, staff
    member) they touch is checked for a run entered within minutes (coerced_applications), once per day."""
    entered = [StaffEntered(e.application_id, e.school_id, e.programme_id, e.submitted_by, e.submitted_at,
                            item.envelope.event_id)
               for item in items if isinstance(e := item.event, ApplicationSubmitted) and e.on_behalf]
    if not entered:
        return
    await uow.add_staff_entered(entered)
    around = await uow.staff_entered_on({(e.school_id, e.programme_id, e.submitted_by) for e in entered},
                                        min(e.submitted_at for e in entered) - COERCION_WINDOW,
                                        max(e.submitted_at for e in entered) + COERCION_WINDOW)
    await record_findings(uow, coerced_applications(around), ledger_tree_size=None, now=clock())


@batch_handler
async def record_coercion_reports(uow: AuditUoW, items: Sequence[Item], *, clock: Clock = utc_now) -> None:
    """R1: each guardian's report of pressure to enroll is a coerced_applications finding for its school."""
    findings = [reported_coercion(e.report_id, e.school_id, e.programme_id, e.happened_on.isoformat(), e.what_happened,
                                  item.envelope.event_id)
                for item in items if isinstance(e := item.event, CoercionReported)]
    await record_findings(uow, findings, ledger_tree_size=None, now=clock())
