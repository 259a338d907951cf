"""Month-end settlement of one school on actuals (R9, R17, R20): statements, charges, hardship
waivers, refunds of unused prepayments, then staff payouts under the distribution plan.

Batch-friendly: accounts are read in chunks in key order, each chunk is one transaction with
multi-row statements. Idempotent: a statement exists once per student, programme and month, and
every event id is derived from what it is about, so a second run (or a run retried after a crash)
finds the work done and emits nothing new."""
from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from pydantic_core import to_json

from services.billing.db import BillingUoW, SettlementRunRow
from services.billing.domain import (
    Account,
    DomainError,
    Statement,
    Usage,
    days_in,
    parse_period,
    payout_fen,
    payout_moves,
    plan_in_force,
    settle,
    spans_for,
)
from services.billing.handlers.common import (
    PLATFORM,
    SHANGHAI,
    Actor,
    due_at,
    event_uuid,
    local_day,
    local_midnight_utc,
    postings,
    stable_id,
)
from shared.contracts.billing import FeeCharged, FeeSettled, FeeWaived, PayoutIssued, RefundIssued
from shared.time import utc_now

log = logging.getLogger(__name__)


@dataclass
class SettlementSummary:
    """What one school's month-end produced; a second run of the same month reports zeros."""

    school_id: str
    period: str
    statements: int = 0
    settled_concurrently: int = 0  # statements another run inserted first (two runs racing)
    charged_fen: int = 0
    waived_fen: int = 0
    credit_applied_fen: int = 0
    refunded_fen: int = 0
    outstanding_fen: int = 0
    hardship_statements: int = 0
    payouts: int = 0
    payouts_fen: int = 0
    events: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Context:
    school_id: str
    programme_id: str
    period: str
    first: date
    last: date
    actor: Actor
    now: datetime
    due_days: int

    @functools.cached_property
    def today(self) -> date:
        return local_day(self.now)

    @functools.cached_property
    def due(self) -> datetime:
        return due_at(self.now, self.due_days)


async def settle_school_month(
    uow_factory: Callable[[], BillingUoW],
    *,
    school_id: str,
    period: str,
    actor: Actor,
    now: datetime,
    trigger: str = "http",
    chunk_size: int = 2000,
    due_days: int = 10,
    clock: Callable[[], datetime] = utc_now,
) -> SettlementSummary:
    """Settle every fee account of a school for one month, chunk by chunk, then pay its staff; `now` is
    when the run was asked for, `clock` tells when it finished."""
    first, last = parse_period(period)
    if local_day(now) <= last:
        # R17: a statement is final, so it is made from the whole month, once the month is over.
        raise DomainError(f"{period} has not ended yet (school-local); it can be settled from "
                          f"{last + timedelta(days=1)}", status=409)
    summary = SettlementSummary(school_id, period)
    run_id = str(uuid.uuid4())
    async with uow_factory() as uow:
        programmes = await uow.programmes_with_accounts(school_id)
        schedules = await uow.approved_schedules(school_id)
        provided = {p: await uow.provided_mask(p, period) for p in programmes}
        uow.add(SettlementRunRow(run_id=run_id, school_id=school_id, period=period, trigger=trigger,
                                 requested_by=actor.subject, requested_by_role=actor.role,
                                 status="running", started_at=now))
        await uow.commit()
    # Enrollments filed after the month ended have nothing to settle in it.
    cutoff = local_midnight_utc(last + timedelta(days=1))
    for programme_id in programmes:
        spans = spans_for(period, schedules.get(programme_id, []))
        if not spans:
            # R18: with no approved schedule in force nothing may be charged, so nothing is settled.
            summary.skipped.append(f"{programme_id}: no approved fee schedule in force in {period} (R10, R18)")
            continue
        ctx = _Context(school_id, programme_id, period, first, last, actor, now, due_days)
        after = ""
        while True:
            async with uow_factory() as uow:
                rows = await uow.accounts_to_settle(programme_id, period, first, cutoff, after, chunk_size)
                if not rows:
                    break
                await _settle_chunk(uow, ctx, rows, provided[programme_id], spans, summary)
                await uow.commit()
            after = rows[-1].student_id
    await _pay_staff(uow_factory, school_id, period, last, actor, now, summary)
    async with uow_factory() as uow:
        run = await uow.settlement_run(run_id)
        run.status, run.summary, run.finished_at = "done", summary.as_dict(), clock()
        uow.add(run)
        await uow.commit()
    log.info("settled a school month", extra={"school_id": school_id, "period": period,
                                               "statements": summary.statements, "events": summary.events})
    return summary


async def _settle_chunk(uow: BillingUoW, ctx: _Context, rows: list, provided_mask: int, spans: list,
                        summary: SettlementSummary) -> None:
    """One chunk in a handful of statements: read the accounts, insert their statements, move their
    balances, insert refunds; events and journal lines go out with the commit (outbox)."""
    results: list[tuple[object, Statement, str, list[str], list[tuple[date, ...]]]] = []
    statement_rows: list[tuple] = []
    for row in rows:
        statement = statement_of(row, provided_mask, spans, ctx.period)
        settlement_id = stable_id("stl", ctx.programme_id, row.student_id, ctx.period)
        charge_ids = [_charge_id(settlement_id, line) for line in statement.lines]
        days = [_days(line.mask, ctx.period) for line in statement.lines]
        lines = [{"charge_id": cid, "fee_schedule_id": line.fee_schedule_id, "category": line.category,
                  "unit_price_fen": line.unit_price_fen, "quantity": line.quantity, "amount_fen": line.amount_fen,
                  "session_dates": iso}
                 for cid, line, (_, iso) in zip(charge_ids, statement.lines, days)]
        statement_rows.append((
            settlement_id, row.student_id, row.guardian_id, statement.hardship, statement.sessions_provided,
            statement.sessions_attended, statement.extended_care_sessions, statement.charged_fen, statement.waived_fen,
            statement.credit_applied_fen, statement.refund_due_fen, statement.outstanding_fen,
            to_json(lines).decode(), ",".join(charge_ids),
        ))
        results.append((row, statement, settlement_id, charge_ids, [d for d, _ in days]))
    inserted = await uow.insert_statements(ctx.programme_id, ctx.period, ctx.school_id, ctx.first, ctx.last, ctx.now,
                                           statement_rows)
    fresh = [result for result in results if result[2] in inserted]
    summary.settled_concurrently += len(results) - len(fresh)
    await uow.settle_accounts(ctx.programme_id, [
        (row.student_id, st.outstanding_fen, st.credit_applied_fen + st.refund_due_fen) for row, st, *_ in fresh])
    refunds = []
    for row, statement, settlement_id, charge_ids, dates in fresh:
        refunds.extend(_publish_statement(uow, ctx, row, statement, settlement_id, charge_ids, dates, summary))
    await uow.insert_refunds(refunds)


@functools.lru_cache(maxsize=4096)
def _days(mask: int, period: str) -> tuple[tuple[date, ...], tuple[str, ...]]:
    """The days of a charge line, and as ISO strings: most children attend the same days as their
    classmates, so a month's few distinct masks are turned into dates once, not once per child."""
    days = tuple(days_in(mask, period))
    return days, tuple(d.isoformat() for d in days)


def statement_of(row, provided_mask: int, spans: list, period: str) -> Statement:
    """A fee account's statement for the month from its row (see BillingUoW.accounts_to_settle). The
    month-end and the month-to-date view both go through here, so they cannot disagree (R17)."""
    account = Account(hardship=row.hardship, extended_care=row.extended_care, credit_fen=int(row.credit_fen),
                      prepaid_period=row.prepaid_period, withdrawn_on=row.withdrawn_on)
    return settle(account, Usage(int(row.attended_mask), int(row.extended_care_mask)), provided_mask, spans, period)


def _charge_id(settlement_id: str, line) -> str:
    return stable_id("chg", settlement_id, line.fee_schedule_id, line.category)


def _publish_statement(uow: BillingUoW, ctx: _Context, row, statement: Statement, settlement_id: str,
                       charge_ids: list[str], dates: list[tuple[date, ...]], summary: SettlementSummary) -> list[dict]:
    """The statement's events in the order a family's account changes: charges, waiver, the
    statement itself, then any refund. Each is booked in the school's journal on the school-local
    day it was made, as the event states it (the audit service recomputes disclosures that way)."""
    base = {"school_id": ctx.school_id, "student_id": row.student_id, "guardian_id": row.guardian_id}
    due = ctx.due
    for line, charge_id, days in zip(statement.lines, charge_ids, dates):
        moves = statement.charge_moves(line)
        uow.queue_event(FeeCharged(
            **base, charge_id=charge_id, programme_id=ctx.programme_id, fee_schedule_id=line.fee_schedule_id,
            category=line.category, unit_price_fen=line.unit_price_fen, quantity=line.quantity,
            amount_fen=line.amount_fen, period_start=ctx.first, period_end=ctx.last,
            session_dates=list(days), due_at=due, charged_by=ctx.actor.subject,
            charged_by_role=ctx.actor.role, charged_at=ctx.now, settlement_id=settlement_id, postings=postings(moves),
        ), event_id=event_uuid("FeeCharged", charge_id), correlation_id=settlement_id, occurred_at=ctx.now)
        uow.post(ctx.school_id, ctx.today, "FeeCharged", moves)
        summary.events += 1
    if statement.waived_fen:
        waiver_id = stable_id("wvr", settlement_id)
        moves = statement.waiver_moves()
        uow.queue_event(FeeWaived(
            **base, waiver_id=waiver_id, programme_id=ctx.programme_id, amount_fen=statement.waived_fen,
            reason="hardship",
            note=f"{statement.sessions_attended} sessions and {statement.extended_care_sessions} extended-care "
                 f"sessions at the approved standard, waived for a verified hardship family (R9)",
            waived_by=ctx.actor.subject, waived_by_role=ctx.actor.role, waived_at=ctx.now,
            settlement_id=settlement_id, verification_ref=row.application_id, verified_by=row.verified_by,
            verified_by_role=row.verified_by_role, postings=postings(moves),
        ), event_id=event_uuid("FeeWaived", waiver_id), correlation_id=settlement_id, occurred_at=ctx.now)
        uow.post(ctx.school_id, ctx.today, "FeeWaived", moves)
        summary.events += 1
    moves = statement.settlement_moves()
    uow.queue_event(FeeSettled(
        **base, settlement_id=settlement_id, programme_id=ctx.programme_id, period_start=ctx.first,
        period_end=ctx.last, sessions_provided=statement.sessions_provided,
        sessions_attended=statement.sessions_attended, extended_care_sessions=statement.extended_care_sessions,
        charged_fen=statement.charged_fen, waived_fen=statement.waived_fen, paid_fen=statement.credit_applied_fen,
        refund_due_fen=statement.refund_due_fen, outstanding_fen=statement.outstanding_fen,
        settled_by=ctx.actor.subject, settled_by_role=ctx.actor.role, settled_at=ctx.now, period=ctx.period,
        hardship=statement.hardship, charge_ids=charge_ids, postings=postings(moves),
    ), event_id=event_uuid("FeeSettled", settlement_id), correlation_id=settlement_id, occurred_at=ctx.now)
    uow.post(ctx.school_id, ctx.today, "FeeSettled", moves)
    summary.events += 1
    summary.statements += 1
    summary.hardship_statements += statement.hardship
    summary.charged_fen += statement.charged_fen
    summary.waived_fen += statement.waived_fen
    summary.credit_applied_fen += statement.credit_applied_fen
    summary.outstanding_fen += statement.outstanding_fen
    if not statement.refund_due_fen:
        return []
    refund_id = stable_id("rfd", settlement_id)
    account = row.credit_account or f"{ctx.school_id}:bank"
    moves = statement.refund_moves()
    uow.queue_event(RefundIssued(
        **base, refund_id=refund_id, amount_fen=statement.refund_due_fen, payment_id=row.credit_payment_id,
        settlement_id=settlement_id, reason=statement.refund_reason, paid_from_account=account,
        issued_by=ctx.actor.subject, issued_by_role=ctx.actor.role, issued_at=ctx.now, postings=postings(moves),
    ), event_id=event_uuid("RefundIssued", refund_id), correlation_id=settlement_id, occurred_at=ctx.now)
    uow.post(ctx.school_id, ctx.today, "RefundIssued", moves)
    summary.events += 1
    summary.refunded_fen += statement.refund_due_fen
    return [{"refund_id": refund_id, "school_id": ctx.school_id, "student_id": row.student_id,
             "guardian_id": row.guardian_id, "payment_id": row.credit_payment_id, "settlement_id": settlement_id,
             "amount_fen": statement.refund_due_fen, "reason": statement.refund_reason,
             "paid_from_account": account, "issued_at": ctx.now}]


async def _pay_staff(uow_factory: Callable[[], BillingUoW], school_id: str, period: str, last: date, actor: Actor,
                     now: datetime, summary: SettlementSummary) -> None:
    """Labour fees for the sessions each person actually ran, under the plan in force (R19, R20)."""
    async with uow_factory() as uow:
        plan = plan_in_force(await uow.plans(school_id), last)
        if plan is None:
            summary.skipped.append(f"{school_id}: no distribution plan approved by the district in force in {period}; "
                                   "no payouts (R10, R20)")
            return
        plan_row = await uow.plan_row(plan.plan_id)
        rows = []
        for staff_id, (sessions, care) in (await uow.staff_sessions(school_id, period)).items():
            amount = payout_fen(plan, sessions, care)
            if amount > 0:
                rows.append({"payout_id": stable_id("pyo", school_id, period, staff_id), "school_id": school_id,
                             "staff_id": staff_id, "period": period, "plan_id": plan.plan_id, "sessions": sessions,
                             "extended_care_sessions": care, "amount_fen": amount, "issued_at": now})
        inserted = await uow.insert_payouts(rows)
        for r in rows:
            if r["payout_id"] not in inserted:
                continue
            moves = payout_moves(r["amount_fen"])
            uow.publish(PayoutIssued(
                payout_id=r["payout_id"], school_id=school_id, staff_id=r["staff_id"], amount_fen=r["amount_fen"],
                category="labour_fee", distribution_plan_id=plan.plan_id, period=period,
                sessions_delivered=r["sessions"], paid_from_account=plan_row.paid_from_account,
                issued_by=actor.subject, issued_by_role=actor.role, issued_at=now,
                extended_care_sessions=r["extended_care_sessions"], postings=postings(moves),
            ), event_id=event_uuid("PayoutIssued", r["payout_id"]), correlation_id=f"payouts:{school_id}:{period}")
            uow.post(school_id, local_day(now), "PayoutIssued", moves)
            summary.payouts += 1
            summary.payouts_fen += r["amount_fen"]
            summary.events += 1
        await uow.commit()


def previous_period(now: datetime) -> str:
    """The school-local month before the one `now` falls in."""
    first = local_day(now).replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


SchoolClaim = Callable[[str], AbstractAsyncContextManager[bool]]
"""`claim(school_id)` holds a school's month-end for this process while open; yields False when another
process (a replica) holds it."""


async def settle_schools(uow_factory: Callable[[], BillingUoW], *, schools: Sequence[str], period: str, actor: Actor,
                         now: datetime, claim: SchoolClaim, trigger: str = "schedule", workers: int = 2,
                         chunk_size: int = 2000, due_days: int = 10) -> list[SettlementSummary]:
    """Settle `schools` for `period`, `workers` schools at a time. A school is settled only under its claim,
    so replicas running the same month-end share the schools between them (each takes those no other holds)
    and a school one of them has finished is not settled again by the schedule."""
    queue = deque(schools)
    out: list[SettlementSummary] = []

    async def worker() -> None:
        while queue:
            school_id = queue.popleft()
            async with claim(school_id) as mine:
                if not mine:
                    continue  # another replica is settling it
                if trigger == "schedule":
                    async with uow_factory() as uow:
                        if school_id in await uow.scheduled_runs_done(period):
                            continue  # finished by another replica since this one listed the schools
                out.append(await settle_school_month(uow_factory, school_id=school_id, period=period, actor=actor,
                                                     now=now, trigger=trigger, chunk_size=chunk_size,
                                                     due_days=due_days))

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    return out


async def settle_due_month(uow_factory: Callable[[], BillingUoW], *, now: datetime, day_of_month: int,
                           hour_local: int, claim: SchoolClaim, workers: int = 2, chunk_size: int = 2000,
                           due_days: int = 10) -> list[SettlementSummary]:
    """The scheduled month-end: once the configured school-local day and hour have come, settle last
    month for every school that has no finished scheduled run for it. Catches up after downtime;
    a school already settled by hand simply yields nothing new."""
    local = now.astimezone(SHANGHAI)
    if (local.day, local.hour) < (day_of_month, hour_local):
        return []
    period = previous_period(now)
    async with uow_factory() as uow:
        schools = await uow.schools()
        done = await uow.scheduled_runs_done(period)
    return await settle_schools(uow_factory, schools=[s for s in schools if s not in done], period=period,
                                actor=PLATFORM, now=now, claim=claim, workers=workers, chunk_size=chunk_size,
                                due_days=due_days)
