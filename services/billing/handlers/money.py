"""Billing's commands about money moving: payments (R17, R19), subsidies (R16), expenses (R19) and
the periodic disclosure (R21). Each runs in the caller's unit of work; the caller commits. Who may
act for which school is checked by the HTTP layer before a command runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.billing.db import (
    BillingUoW,
    DisclosureRow,
    ExpenseRow,
    PaymentRow,
    RefundRow,
    RefusalRow,
    SubsidyRow,
)
from services.billing.domain import (
    DomainError,
    allocate_payment,
    disclosure_figures,
    expense_moves,
    expense_refusal,
    period_of,
    subsidy_moves,
)
from services.billing.handlers.common import Actor, command, event_uuid, local_day, postings, stable_id
from shared.contracts.billing import DisclosurePublished, ExpenseRecorded, PaymentReceived, RefundIssued, SubsidyGranted


# -- payments (R17, R19) --------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordPayment:
    external_ref: str
    method: str
    school_id: str
    student_id: str
    amount_fen: int
    received_at: datetime
    deposited_to_account: str
    programme_id: str | None = None
    charge_ids: tuple[str, ...] = ()
    prepaid_period: str | None = None


@dataclass
class PaymentResult:
    external_ref: str
    status: str  # accepted | duplicate | rejected
    payment_id: str | None = None
    reason: str | None = None
    applied_fen: int = 0
    credit_fen: int = 0
    refunded_fen: int = 0
    settles: list[str] = field(default_factory=list)


@command
async def record_payments(uow: BillingUoW, commands: list[RecordPayment], actor: Actor,
                          now: datetime) -> list[PaymentResult]:
    """Record a batch of payments in one transaction, each once per provider reference: the same
    reference again is a duplicate (nothing new), with other content it is refused (R19)."""
    results: list[PaymentResult] = []
    seen: dict[str, RecordPayment] = {}
    for cmd in commands:
        if cmd.external_ref in seen:
            same = seen[cmd.external_ref] == cmd
            results.append(PaymentResult(cmd.external_ref, "duplicate" if same else "rejected",
                                         stable_id("pay", cmd.external_ref),
                                         None if same else "external_ref appears twice in the batch with other content"))
            continue
        seen[cmd.external_ref] = cmd
        results.append(await _record_payment(uow, cmd, actor, now))
    return results


async def _record_payment(uow: BillingUoW, cmd: RecordPayment, actor: Actor, now: datetime) -> PaymentResult:
    payment_id = stable_id("pay", cmd.external_ref)
    existing = await uow.payment(payment_id)
    if existing is not None:
        if (existing.student_id, existing.amount_fen, existing.method) == (cmd.student_id, cmd.amount_fen, cmd.method):
            return PaymentResult(cmd.external_ref, "duplicate", payment_id, applied_fen=existing.applied_fen,
                                 credit_fen=existing.credit_fen, refunded_fen=existing.refunded_fen)
        return PaymentResult(cmd.external_ref, "rejected", payment_id,
                             f"external_ref {cmd.external_ref} was already recorded for another payment "
                             f"({existing.amount_fen} fen for {existing.student_id})")
    account, problem = await _payer_account(uow, cmd)
    if account is None:
        return PaymentResult(cmd.external_ref, "rejected", None, problem)
    statements = await uow.open_statements(account.student_id, account.programme_id)
    preferred: set[str] = set()
    if cmd.charge_ids:
        named = await uow.statements_with_charges(list(cmd.charge_ids))
        mine = {s.settlement_id for s in named if s.student_id == account.student_id}
        known = {c for s in named if s.student_id == account.student_id for c in s.charge_ids}
        unknown = sorted(set(cmd.charge_ids) - known)
        if unknown:
            return PaymentResult(cmd.external_ref, "rejected", None,
                                 f"charges {', '.join(unknown)} are not charges of student {cmd.student_id}")
        preferred = mine
    allocation = allocate_payment(cmd.amount_fen, [(s.settlement_id, s.outstanding_fen) for s in statements],
                                  hardship=account.hardship, preferred=frozenset(preferred))
    by_id = {s.settlement_id: s for s in statements}
    for settlement_id, fen in allocation.applied:
        statement = by_id[settlement_id]
        statement.outstanding_fen -= fen
        statement.paid_fen += fen
        uow.add(statement)
    account.outstanding_fen -= allocation.applied_fen
    if allocation.to_credit_fen:
        account.credit_fen += allocation.to_credit_fen
        account.credit_payment_id = payment_id
        account.prepaid_period = cmd.prepaid_period or account.prepaid_period
    uow.add(account)
    uow.add(PaymentRow(
        payment_id=payment_id, external_ref=cmd.external_ref, school_id=account.school_id,
        student_id=account.student_id, programme_id=account.programme_id, guardian_id=account.guardian_id,
        amount_fen=cmd.amount_fen, applied_fen=allocation.applied_fen, credit_fen=allocation.to_credit_fen,
        refunded_fen=allocation.to_refund_fen, method=cmd.method, prepaid_period=cmd.prepaid_period,
        deposited_to_account=cmd.deposited_to_account, applied=[list(a) for a in allocation.applied],
        received_at=cmd.received_at, recorded_by=actor.subject, recorded_by_role=actor.role,
    ))
    charge_ids = sorted({c for sid, _ in allocation.applied for c in by_id[sid].charge_ids})
    moves = allocation.payment_moves()
    uow.publish(PaymentReceived(
        payment_id=payment_id, school_id=account.school_id, student_id=account.student_id,
        guardian_id=account.guardian_id, amount_fen=cmd.amount_fen, charge_ids=charge_ids, method=cmd.method,
        external_ref=cmd.external_ref, deposited_to_account=cmd.deposited_to_account, received_by=actor.subject,
        received_by_role=actor.role, received_at=cmd.received_at, programme_id=account.programme_id,
        prepaid_period=cmd.prepaid_period, postings=postings(moves),
    ), event_id=event_uuid("PaymentReceived", payment_id), correlation_id=payment_id)
    uow.post(account.school_id, local_day(cmd.received_at), "PaymentReceived", moves)
    if allocation.to_refund_fen:
        # R9: a hardship family is served free; money it sends anyway goes straight back.
        refund_id = stable_id("rfd", payment_id)
        moves = allocation.refund_moves()
        uow.add(RefundRow(refund_id=refund_id, school_id=account.school_id, student_id=account.student_id,
                          guardian_id=account.guardian_id, payment_id=payment_id,
                          amount_fen=allocation.to_refund_fen, reason="hardship",
                          paid_from_account=cmd.deposited_to_account, issued_at=now))
        uow.publish(RefundIssued(
            refund_id=refund_id, school_id=account.school_id, student_id=account.student_id,
            guardian_id=account.guardian_id, amount_fen=allocation.to_refund_fen, payment_id=payment_id,
            reason="hardship", paid_from_account=cmd.deposited_to_account, issued_by=actor.subject,
            issued_by_role=actor.role, issued_at=now, postings=postings(moves),
        ), event_id=event_uuid("RefundIssued", refund_id), correlation_id=payment_id)
        uow.post(account.school_id, local_day(now), "RefundIssued", moves)
    return PaymentResult(cmd.external_ref, "accepted", payment_id, applied_fen=allocation.applied_fen,
                         credit_fen=allocation.to_credit_fen, refunded_fen=allocation.to_refund_fen,
                         settles=[sid for sid, _ in allocation.applied])


async def _payer_account(uow: BillingUoW, cmd: RecordPayment):
    if cmd.programme_id:
        account = await uow.account(cmd.student_id, cmd.programme_id, lock=True)
        if account is None:
            return None, f"no fee account for student {cmd.student_id} in programme {cmd.programme_id}"
    else:
        candidates = [a for a in await uow.accounts_of_student(cmd.student_id) if a.school_id == cmd.school_id]
        if not candidates:
            return None, f"no fee account for student {cmd.student_id} at school {cmd.school_id}"
        if len(candidates) > 1:
            return None, (f"student {cmd.student_id} has {len(candidates)} fee accounts at {cmd.school_id}; "
                          "give programme_id")
        account = await uow.account(cmd.student_id, candidates[0].programme_id, lock=True)
    if account.school_id != cmd.school_id:
        return None, f"student {cmd.student_id} is billed by {account.school_id}, not {cmd.school_id}"
    return account, None


# -- subsidies (R16) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GrantSubsidy:
    subsidy_ref: str
    school_id: str
    amount_fen: int
    purpose: str
    period: str
    deposited_to_account: str


@command
async def grant_subsidy(uow: BillingUoW, cmd: GrantSubsidy, actor: Actor, now: datetime) -> tuple[SubsidyRow, bool]:
    """Budget money for utilities and materials (and hardship cover, staff subsidies) lands in the
    school's account, booked apart from parents' fees (R16). Once per budget document."""
    subsidy_id = stable_id("sub", cmd.school_id, cmd.subsidy_ref)
    existing = await uow.subsidy(subsidy_id)
    if existing is not None:
        if (existing.amount_fen, existing.purpose, existing.period) != (cmd.amount_fen, cmd.purpose, cmd.period):
            raise DomainError(f"subsidy {cmd.subsidy_ref} was already granted with other content", status=409)
        return existing, False
    district = await uow.district_of(cmd.school_id)
    if district is None:
        raise DomainError(f"school {cmd.school_id} is unknown to billing: no programme or enrollment seen yet", status=404)
    row = SubsidyRow(subsidy_id=subsidy_id, school_id=cmd.school_id, subsidy_ref=cmd.subsidy_ref, district_id=district,
                     amount_fen=cmd.amount_fen, purpose=cmd.purpose, period=cmd.period,
                     deposited_to_account=cmd.deposited_to_account, granted_by=actor.subject,
                     granted_by_role=actor.role, granted_at=now)
    uow.add(row)
    moves = subsidy_moves(cmd.amount_fen)
    uow.publish(SubsidyGranted(
        subsidy_id=subsidy_id, school_id=cmd.school_id, district_id=district, amount_fen=cmd.amount_fen,
        purpose=cmd.purpose, period=cmd.period, deposited_to_account=cmd.deposited_to_account,
        granted_by=actor.subject, granted_by_role=actor.role, granted_at=now, postings=postings(moves),
    ), event_id=event_uuid("SubsidyGranted", subsidy_id), correlation_id=subsidy_id)
    uow.post(cmd.school_id, local_day(now), "SubsidyGranted", moves)
    return row, True


# -- expenses (R19) -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordExpense:
    expense_ref: str
    school_id: str
    category: str
    amount_fen: int
    payee: str
    details: str
    spent_on: date
    paid_from_account: str
    invoice_ref: str | None = None


@dataclass(frozen=True)
class ExpenseOutcome:
    expense: ExpenseRow | None
    created: bool
    refusal: RefusalRow | None = None


@command
async def record_expense(uow: BillingUoW, cmd: RecordExpense, actor: Actor, now: datetime) -> ExpenseOutcome:
    """Spending of fee income in an R19 category. Anything else, a management fee above all, is
    refused and the refusal kept for the district and auditors (R19, R25); commit either way."""
    reason = expense_refusal(cmd.category)
    if reason:
        refusal = RefusalRow(school_id=cmd.school_id, district_id=await uow.district_of(cmd.school_id),
                             kind="expense_category", reason=reason,
                             request={"expense_ref": cmd.expense_ref, "category": cmd.category,
                                      "amount_fen": cmd.amount_fen, "payee": cmd.payee, "details": cmd.details},
                             requested_by=actor.subject, requested_by_role=actor.role, refused_at=now)
        uow.add(refusal)
        return ExpenseOutcome(None, False, refusal)
    expense_id = stable_id("exp", cmd.school_id, cmd.expense_ref)
    existing = await uow.expense(expense_id)
    if existing is not None:
        if (existing.category, existing.amount_fen) != (cmd.category, cmd.amount_fen):
            raise DomainError(f"expense {cmd.expense_ref} was already recorded with other content", status=409)
        return ExpenseOutcome(existing, False)
    row = ExpenseRow(expense_id=expense_id, school_id=cmd.school_id, expense_ref=cmd.expense_ref, category=cmd.category,
                     amount_fen=cmd.amount_fen, payee=cmd.payee, details=cmd.details, invoice_ref=cmd.invoice_ref,
                     spent_on=cmd.spent_on, paid_from_account=cmd.paid_from_account, recorded_by=actor.subject,
                     recorded_by_role=actor.role, recorded_at=now)
    uow.add(row)
    moves = expense_moves(cmd.category, cmd.amount_fen)
    uow.publish(ExpenseRecorded(
        expense_id=expense_id, school_id=cmd.school_id, category=cmd.category, amount_fen=cmd.amount_fen,
        payee=cmd.payee, details=cmd.details, invoice_ref=cmd.invoice_ref, spent_on=cmd.spent_on,
        paid_from_account=cmd.paid_from_account, recorded_by=actor.subject, recorded_by_role=actor.role,
        recorded_at=now, postings=postings(moves),
    ), event_id=event_uuid("ExpenseRecorded", expense_id), correlation_id=expense_id)
    uow.post(cmd.school_id, cmd.spent_on, "ExpenseRecorded", moves)
    return ExpenseOutcome(row, True)


# -- disclosure (R21) -----------------------------------------------------------------------------
@command
async def publish_disclosure(uow: BillingUoW, school_id: str, period_start: date, period_end: date, actor: Actor,
                             now: datetime, base_url: str) -> tuple[DisclosureRow, bool]:
    """The school's income and spending for a period, from its books, published once (R21, R23)."""
    if period_end < period_start:
        raise DomainError(f"period_end {period_end} is before period_start {period_start}")
    disclosure_id = stable_id("dsc", school_id, period_start, period_end)
    existing = await uow.disclosure(disclosure_id)
    if existing is not None:
        return existing, False
    district = await uow.district_of(school_id)
    if district is None:
        raise DomainError(f"school {school_id} is unknown to billing", status=404)
    figures = disclosure_figures(await uow.journal_lines(school_id, period_start, period_end))
    served, outstanding, _ = await uow.statement_totals(school_id, period_of(period_start), period_of(period_end))
    event = DisclosurePublished(
        disclosure_id=disclosure_id, school_id=school_id, district_id=district, period_start=period_start,
        period_end=period_end, students_served=served, fee_income_fen=figures.fee_income_fen,
        subsidy_income_fen=figures.subsidy_income_fen, waived_fen=figures.waived_fen,
        refunded_fen=figures.refunded_fen, payouts_fen=figures.payouts_fen,
        staff_remuneration_fen=figures.staff_remuneration_fen,
        extra_hours_operating_fen=figures.extra_hours_operating_fen,
        group_accident_insurance_fen=figures.group_accident_insurance_fen, balance_fen=figures.balance_fen,
        url=f"{base_url.rstrip('/')}/v1/disclosures/{disclosure_id}", published_by=actor.subject,
        published_by_role=actor.role, published_at=now, charged_fen=figures.charged_fen, outstanding_fen=outstanding,
    )
    row = DisclosureRow(disclosure_id=disclosure_id, school_id=school_id, period_start=period_start,
                        period_end=period_end, body=event.model_dump(mode="json"), published_at=now)
    uow.add(row)
    uow.publish(event, event_id=event_uuid("DisclosurePublished", disclosure_id), correlation_id=disclosure_id)
    return row, True
