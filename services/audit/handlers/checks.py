"""Use case: run the anti-misappropriation checks (R25) over entries covered by a signed checkpoint, in
ledger order, once each; and report disclosure periods that passed undisclosed (R21)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.audit.db import AuditUoW
from services.audit.domain import Finding, published_bytes, read_entry, rules
from services.audit.handlers.findings import record_findings
from services.audit.ledger import books
from shared.contracts.billing import FeeCharged, FeeSettled, PaymentReceived, PayoutIssued
from shared.contracts.registry import decode


@dataclass(frozen=True)
class CheckPolicy:
    """How long an entry waits for the events it is compared with, and the disclosure rhythm (R21)."""

    grace_seconds: float = 3.0
    disclosure_months: int = 3
    disclosure_grace_days: int = 30
    batch: int = 2000


@dataclass(frozen=True)
class _Item:
    seq: int
    event: object
    entry: books.Entry

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.UUID(self.entry.event_id)


async def run_checks(uow: AuditUoW, policy: CheckPolicy, now: datetime) -> int:
    """Check the next entries in order (at most policy.batch); returns how many were checked.

    Only entries under the latest checkpoint are checked, so every anomaly cites a signed tree that
    proves its evidence; and only those older than the grace period, so that an enrollment or an
    attendance record produced before a charge has been consumed from its own topic.
    """
    await uow.lock("checks")
    start = await uow.checked_size()
    covered = await uow.latest_checkpoint_size()
    horizon = now - timedelta(seconds=policy.grace_seconds)
    items: list[_Item] = []
    for row in await uow.entries_to_check(start, min(covered, start + policy.batch)):
        if row.recorded_at is not None and row.recorded_at > horizon:
            break
        body = published_bytes(bytes(row.body), bytes(row.opening) if row.opening is not None else None)
        _, event = decode(body)
        items.append(_Item(row.seq, event, read_entry(body)))
    findings = await _check_entries(uow, items, policy) if items else []
    if items:
        await uow.set_checked_size(items[-1].seq + 1)
    findings.extend(await _check_disclosures(uow, now.astimezone(books.SCHOOL_TZ).date()))
    await record_findings(uow, findings, ledger_tree_size=covered or None, now=now)
    return len(items)


async def _check_entries(uow: AuditUoW, items: list[_Item], policy: CheckPolicy) -> list[Finding]:
    charges = [i.event for i in items if isinstance(i.event, FeeCharged)]
    cash_keys = {(i.entry.school_id, i.entry.student_id) for i in items
                 if isinstance(i.event, (PaymentReceived, FeeSettled))}
    payouts = [i.event for i in items if isinstance(i.event, PayoutIssued)]
    schools = {i.entry.school_id for i in items}
    enrollments = await uow.enrollments_of((c.student_id, c.programme_id) for c in charges)
    standards = await uow.standards_of(c.fee_schedule_id for c in charges)
    programmes = await uow.programmes_of(c.programme_id for c in charges)
    days = [d for c in charges for d in c.session_dates]
    held = await uow.held_sessions_of({(c.school_id, c.programme_id) for c in charges if c.session_dates},
                                      min(days), max(days)) if days else {}
    waived = await uow.hardship_waived_of(c.charge_id for c in charges)
    cash = await uow.student_cash_of(cash_keys)
    accounts = await uow.accounts_of({i.entry.school_id for i in items if isinstance(i.event, PaymentReceived)})
    runs = await uow.staff_sessions_of((p.school_id, p.staff_id, p.period) for p in payouts)
    plans = await uow.plans_of(p.distribution_plan_id for p in payouts)
    districts = await uow.districts_of(schools)

    findings: list[Finding] = []
    periods = set()
    for item in items:
        event, entry, seq = item.event, item.entry, item.seq
        if isinstance(event, FeeCharged):
            facts = rules.ChargeFacts(
                enrollment=enrollments.get((event.student_id, event.programme_id)),
                standard=standards.get(event.fee_schedule_id), programme=programmes.get(event.programme_id),
                sessions_held=frozenset(held.get((event.school_id, event.programme_id), ())),
                hardship_waived_fen=waived.get(event.charge_id, 0))
            findings += rules.check_charge(seq, item.event_id, event, facts)
        elif isinstance(event, PaymentReceived):
            findings += rules.check_payment(seq, item.event_id, event, accounts.get(event.school_id, frozenset()),
                                            cash[(event.school_id, event.student_id)])
        elif isinstance(event, FeeSettled):
            findings += rules.check_settlement(seq, item.event_id, event, cash[(event.school_id, event.student_id)])
        elif isinstance(event, PayoutIssued):
            findings += rules.check_payout(seq, item.event_id, event,
                                           runs.get((event.school_id, event.staff_id, event.period), 0),
                                           plans.get(event.distribution_plan_id))
        if entry.is_money:
            institutions = (entry.school_id, districts.get(entry.school_id) or "")
            findings += rules.check_spending(seq, entry, event, institutions)
            name, first, last = rules.disclosure_period(entry.day, policy.disclosure_months)
            periods.add((entry.school_id, name, first, last, last + timedelta(days=policy.disclosure_grace_days)))
    await uow.save_student_cash(cash)
    await uow.open_periods(periods)
    return findings


async def _check_disclosures(uow: AuditUoW, today: date) -> list[Finding]:
    findings = []
    for period in await uow.due_periods(today):
        ranges = await uow.disclosed_ranges(period.school_id)
        finding = rules.check_disclosure(period.school_id, period.period, period.starts_on, period.ends_on,
                                         period.due_on, ranges)
        await uow.close_period(period.school_id, period.period, "missing" if finding else "disclosed")
        if finding:
            findings.append(finding)
    return findings
