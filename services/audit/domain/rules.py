"""The anti-misappropriation rules (R9, R17-R21, R24, R25) as pure functions: each takes one recorded
event and the facts it is compared against and returns findings; no I/O, no clock."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.audit.domain.findings import Finding
from services.audit.ledger import books
from shared.contracts.billing import ExpenseRecorded, FeeCharged, FeeSettled, PaymentReceived, PayoutIssued

# R19: words that name a management fee (提取管理费) or a cut taken by the institution itself.
MANAGEMENT_FEE_WORDS = ("管理费", "管理經費", "管理经费", "提取", "提成", "management fee", "admin fee",
                        "administration fee", "overhead")

# R19: the only accounts money may leave the bank for, by the event that spends it. Anything else
# is spending outside the permitted categories, or money moved out under a non-spending event.
_REFUND_ACCOUNTS = frozenset({"refunds_payable", "parent_credit", "parent_receivables"})


@dataclass(frozen=True)
class Enrollment:
    """A student's filed enrollment in one programme (R6), its hardship status (R9), any withdrawal (R1)."""

    school_id: str
    hardship: bool
    withdrawn_on: date | None = None


@dataclass(frozen=True)
class FeeStandard:
    """An approved fee schedule (R10): category -> (amount_fen per unit, unit)."""

    fee_schedule_id: str
    school_id: str
    programme_id: str
    items: dict[str, tuple[int, str]]


@dataclass(frozen=True)
class DisclosedProgramme:
    """The per-session fees a programme disclosed to families (R4, R7)."""

    school_id: str
    fee_per_session_fen: int
    extended_care_fee_per_session_fen: int

    def per_session_fen(self, category: str) -> int | None:
        return {"session": self.fee_per_session_fen,
                "extended_care": self.extended_care_fee_per_session_fen}.get(category)


@dataclass(frozen=True)
class ChargeFacts:
    enrollment: Enrollment | None
    standard: FeeStandard | None
    programme: DisclosedProgramme | None
    sessions_held: frozenset[date]
    hardship_waived_fen: int = 0


@dataclass(frozen=True)
class LabourFeePlan:
    """A school's approved labour-fee distribution plan (劳务费分配方案, R20): what a session run and an
    extended-care session supervised are each paid."""

    plan_id: str
    school_id: str
    per_session_fen: int
    extended_care_per_session_fen: int

    def pays_fen(self, sessions: int, extended_care_sessions: int) -> int:
        return sessions * self.per_session_fen + extended_care_sessions * self.extended_care_per_session_fen


@dataclass
class StudentCash:
    """Per school and student: fees deposited into the school's accounts, and paid amounts that
    settlements claimed; claims may never exceed deposits (R19: no income withheld)."""

    deposited_fen: int = 0
    claimed_fen: int = 0


def _finding(check: str, event_id: uuid.UUID, seq: int, school_id: str, detail: str, **kw) -> Finding:
    return Finding(check=check, dedup_key=f"{check}:{event_id}", school_id=school_id, detail=detail,
                   subject_event_ids=(event_id,), ledger_indexes=(seq,), **kw)


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


# --------------------------------------------------------------------------- charges (R9, R17, R18)


def check_charge(seq: int, event_id: uuid.UUID, c: FeeCharged, facts: ChargeFacts) -> list[Finding]:
    """A charge may go only to an enrolled (R6), non-exempt (R9) student, at no more than the approved
    and disclosed standard for an item in it (R10, R18), for sessions actually provided (R17)."""
    out: list[Finding] = []
    common = {"student_id": c.student_id, "period": _month(c.period_start)}
    e = facts.enrollment
    withdrawn = e is not None and e.withdrawn_on is not None and (
        c.period_start >= e.withdrawn_on or any(d >= e.withdrawn_on for d in c.session_dates))
    if e is None or e.school_id != c.school_id or withdrawn:
        why = ("has no filed enrollment in" if e is None or e.school_id != c.school_id
               else f"was withdrawn on {e.withdrawn_on} from")
        out.append(_finding(
            "charge_to_unenrolled", event_id, seq, c.school_id,
            f"charge {c.charge_id}: student {c.student_id} {why} programme {c.programme_id}",
            amount_fen=c.amount_fen, **common,
            evidence={"charge_id": c.charge_id, "programme_id": c.programme_id,
                      "withdrawn_on": e.withdrawn_on.isoformat() if e and e.withdrawn_on else None},
        ))
    if e is not None and e.hardship and c.amount_fen > facts.hardship_waived_fen:
        unwaived = c.amount_fen - facts.hardship_waived_fen
        out.append(_finding(
            "charge_to_exempt", event_id, seq, c.school_id,
            f"charge {c.charge_id}: hardship-exempt student {c.student_id} charged {c.amount_fen} fen, "
            f"{unwaived} fen of it not waived (R9)",
            amount_fen=unwaived, **common,
            evidence={"charge_id": c.charge_id, "amount_fen": c.amount_fen,
                      "hardship_waived_fen": facts.hardship_waived_fen},
        ))
    above = _above_standard(c, facts)
    if above:
        detail, excess, evidence = above
        out.append(_finding("charge_above_standard", event_id, seq, c.school_id, f"charge {c.charge_id}: {detail}",
                            amount_fen=excess, **common, evidence={"charge_id": c.charge_id, **evidence}))
    if c.session_dates:
        missing = sorted(d for d in set(c.session_dates) if d not in facts.sessions_held)
        extra_units = c.quantity - len(set(c.session_dates)) if _unit(c, facts) == "per_session" else 0
        if missing or extra_units > 0:
            parts = []
            if missing:
                parts.append(f"no session was held on {', '.join(d.isoformat() for d in missing[:5])}"
                             + (f" and {len(missing) - 5} more days" if len(missing) > 5 else ""))
            if extra_units > 0:
                parts.append(f"{c.quantity} sessions charged but {len(set(c.session_dates))} listed")
            unbacked = len(missing) + max(extra_units, 0)
            out.append(_finding(
                "charge_without_session", event_id, seq, c.school_id,
                f"charge {c.charge_id}: {'; '.join(parts)} (R17)",
                amount_fen=min(c.amount_fen, unbacked * c.unit_price_fen), **common,
                evidence={"charge_id": c.charge_id, "days_without_session": len(missing),
                          "first_day_without_session": missing[0].isoformat() if missing else None,
                          "quantity": c.quantity, "session_dates": len(set(c.session_dates))},
            ))
    return out


def _unit(c: FeeCharged, facts: ChargeFacts) -> str | None:
    if facts.standard is None or c.category not in facts.standard.items:
        return None
    return facts.standard.items[c.category][1]


def _above_standard(c: FeeCharged, facts: ChargeFacts) -> tuple[str, int, dict] | None:
    s = facts.standard
    if s is None:
        return (f"fee schedule {c.fee_schedule_id} was never approved (R10)", c.amount_fen,
                {"fee_schedule_id": c.fee_schedule_id})
    if s.school_id != c.school_id or s.programme_id != c.programme_id:
        return (f"fee schedule {c.fee_schedule_id} is not the approved standard of {c.school_id} "
                f"programme {c.programme_id}", c.amount_fen, {"fee_schedule_id": c.fee_schedule_id})
    if c.category not in s.items:
        return (f"{c.category} is not an item of the approved standard {c.fee_schedule_id} (R18)", c.amount_fen,
                {"fee_schedule_id": c.fee_schedule_id, "category": c.category})
    standard_fen, unit = s.items[c.category]
    disclosed = facts.programme.per_session_fen(c.category) if facts.programme and unit == "per_session" else None
    allowed = standard_fen if disclosed is None else min(standard_fen, disclosed)
    evidence = {"fee_schedule_id": c.fee_schedule_id, "category": c.category, "unit_price_fen": c.unit_price_fen,
                "standard_fen": standard_fen, "disclosed_fen": disclosed, "quantity": c.quantity,
                "amount_fen": c.amount_fen}
    if c.unit_price_fen > allowed:
        return (f"{c.unit_price_fen} fen per unit charged; the approved standard is {standard_fen}"
                + (f" and the disclosed fee {disclosed}" if disclosed is not None else "") + " (R10, R25)",
                c.amount_fen - min(c.amount_fen, allowed * c.quantity), evidence)
    if c.amount_fen > c.unit_price_fen * c.quantity:
        return (f"{c.amount_fen} fen charged for {c.quantity} x {c.unit_price_fen} fen",
                c.amount_fen - c.unit_price_fen * c.quantity, evidence)
    return None


# --------------------------------------------------------------------------- income (R19: 截留)


def check_payment(seq: int, event_id: uuid.UUID, p: PaymentReceived, school_accounts: frozenset[str],
                  cash: StudentCash) -> list[Finding]:
    """A family's payment must go into one of the school's unified accounts (R19). The school's
    accounts are those its district paid subsidies into; until one is known, any account counts."""
    if school_accounts and p.deposited_to_account not in school_accounts:
        return [_finding(
            "income_not_deposited", event_id, seq, p.school_id,
            f"payment {p.payment_id} of {p.amount_fen} fen went into {p.deposited_to_account}, not an account "
            f"of {p.school_id} (R19)",
            student_id=p.student_id, amount_fen=p.amount_fen, period=_month(p.received_at.astimezone(books.SCHOOL_TZ).date()),
            evidence={"payment_id": p.payment_id, "deposited_to_account": p.deposited_to_account,
                      "school_accounts": ", ".join(sorted(school_accounts))},
        )]
    cash.deposited_fen += p.amount_fen
    return []


def check_settlement(seq: int, event_id: uuid.UUID, s: FeeSettled, cash: StudentCash) -> list[Finding]:
    """Everything settlements say a family paid must have been deposited: a statement showing more
    paid than reached the school's accounts means income was withheld (截留, R19). Each shortfall is
    reported once; later settlements are judged on new shortfalls only."""
    cash.claimed_fen += s.paid_fen
    if cash.claimed_fen <= cash.deposited_fen:
        return []
    short = cash.claimed_fen - cash.deposited_fen
    cash.claimed_fen = cash.deposited_fen
    return [_finding(
        "income_not_deposited", event_id, seq, s.school_id,
        f"settlement {s.settlement_id}: the statement says {s.paid_fen} fen was paid, but {short} fen of what "
        f"was paid never reached the school's accounts (R19)",
        student_id=s.student_id, amount_fen=short, period=_month(s.period_start),
        evidence={"settlement_id": s.settlement_id, "paid_fen": s.paid_fen, "shortfall_fen": short},
    )]


# --------------------------------------------------------------------------- spending (R19: 挪用, 侵占, 管理费)


def _looks_like_management_fee(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in MANAGEMENT_FEE_WORDS)


def check_spending(seq: int, entry: books.Entry, event: object, institutions: Iterable[str]) -> list[Finding]:
    """Money may leave the school's bank account only for staff labour fees, extra-hours operating
    costs and group accident insurance, or back to families as refunds (R19); no management fee may be
    taken (提取管理费). A management fee is reported as such and not also as outside spending."""
    event_id = uuid.UUID(entry.event_id)
    payee = None
    text = ""
    if isinstance(event, ExpenseRecorded):
        payee, text = event.payee, f"{event.payee} {event.details}"
    elif isinstance(event, PayoutIssued):
        payee, text = event.staff_id, event.staff_id
    if payee is not None:
        own = {i for i in institutions if i}
        if payee in own or _looks_like_management_fee(text):
            return [_finding(
                "management_fee", event_id, seq, entry.school_id,
                f"{entry.event_type} of {entry.amount_fen} fen to {payee!r} ({text.strip()}) takes a management "
                "fee or pays the institution itself (R19)",
                amount_fen=entry.amount_fen, period=entry.period,
                evidence={"payee": payee, "details": text.strip()},
            )]
    allowed: frozenset[str] = frozenset()
    if isinstance(event, ExpenseRecorded):
        allowed = frozenset({books.EXPENSE_ACCOUNTS[event.category]})
    elif isinstance(event, PayoutIssued):
        allowed = frozenset({"staff_labour_fees"})
    elif entry.event_type == "RefundIssued":
        allowed = _REFUND_ACCOUNTS
    outside = [p for p in entry.postings if p.credit == "bank" and p.debit not in allowed]
    if not outside:
        return []
    moved = sum(p.amount_fen for p in outside)
    return [_finding(
        "spending_outside_categories", event_id, seq, entry.school_id,
        f"{entry.event_type} moves {moved} fen out of the bank account to "
        f"{', '.join(sorted({p.debit for p in outside}))}, outside what it may spend on (R19)",
        amount_fen=moved, period=entry.period,
        evidence={"accounts": ", ".join(sorted({p.debit for p in outside})), "moved_fen": moved,
                  "permitted": ", ".join(sorted(allowed)) or "nothing"},
    )]


def check_payout(seq: int, event_id: uuid.UUID, p: PayoutIssued, sessions_run: int,
                 plan: LabourFeePlan | None) -> list[Finding]:
    """A labour fee follows the approved distribution plan it names, for sessions the person actually
    ran (R20, R25): the plan must have been recorded for the school, the amount must be exactly the
    sessions delivered and extended-care sessions supervised at the plan's rates, and no more sessions
    may be paid than attendance shows the person checked children in or out, ran an activity, or
    supervised extended care that month.

    A payout breaking several of these is one anomaly naming every reason; its amount is the larger of
    the sums at stake (unbacked sessions, the difference from the plan), never more than the payout.
    A plan billing never published is an anomaly too: billing records a plan before paying under it,
    and both are keyed by school on one partition, so the plan cannot honestly arrive after the payout.
    """
    if p.category != "labour_fee":
        return []
    reasons: list[str] = []
    at_stake = 0
    care = p.extended_care_sessions or 0
    # Attendance counts the distinct days a person ran anything; someone paid only for supervising
    # extended care (R13) ran that many days even with no regular session.
    paid_days = max(p.sessions_delivered, care)
    if not 0 < paid_days <= sessions_run:
        excess = paid_days - sessions_run
        per_day = p.amount_fen // paid_days if paid_days else p.amount_fen
        reasons.append(f"labour fee for {paid_days} sessions in {p.period}, but attendance shows "
                       f"{sessions_run} run by {p.staff_id}" if paid_days else
                       f"labour fee of {p.amount_fen} fen for no session at all")
        at_stake = per_day * max(excess, 1)
    if plan is not None and plan.school_id != p.school_id:
        plan = None  # another school's plan is no approval for this one
    expected = plan.pays_fen(p.sessions_delivered, care) if plan is not None else None
    if expected is None:
        reasons.append(f"distribution plan {p.distribution_plan_id} was never recorded for {p.school_id}")
        at_stake = p.amount_fen
    elif p.amount_fen != expected:
        reasons.append(f"{p.amount_fen} fen paid, but plan {p.distribution_plan_id} pays {expected} fen for "
                       f"{p.sessions_delivered} sessions and {care} extended-care sessions")
        at_stake = max(at_stake, abs(p.amount_fen - expected))
    if not reasons:
        return []
    return [_finding(
        "payout_not_per_plan", event_id, seq, p.school_id,
        f"payout {p.payout_id}: {'; '.join(reasons)} (R20)",
        amount_fen=min(p.amount_fen, at_stake), period=p.period,
        evidence={"payout_id": p.payout_id, "staff_id": p.staff_id, "distribution_plan_id": p.distribution_plan_id,
                  "plan_recorded": plan is not None, "amount_fen": p.amount_fen, "expected_fen": expected,
                  "per_session_fen": plan.per_session_fen if plan else None,
                  "extended_care_per_session_fen": plan.extended_care_per_session_fen if plan else None,
                  "sessions_delivered": p.sessions_delivered, "extended_care_sessions": care,
                  "sessions_run": sessions_run},
    )]


# --------------------------------------------------------------------------- books (R25: books balance)


def check_books(seq: int, entry: books.Entry, school: books.SchoolBooks, tree_size: int) -> list[Finding]:
    """At each checkpoint every entry's postings must book exactly the cash it states, so that the
    school's debits equal its credits and its bank account equals the cash its events moved."""
    problems = books.entry_problems(entry)
    if not problems:
        return []
    return [_finding(
        "books_unbalanced", uuid.UUID(entry.event_id), seq, entry.school_id,
        f"{entry.event_type} {entry.event_id}: {'; '.join(problems)}",
        student_id=entry.student_id, amount_fen=abs(school.bank_fen - school.cash_fen) or entry.amount_fen,
        period=entry.period,
        evidence={"checkpoint_size": tree_size, "debit_fen": school.debit_fen, "credit_fen": school.credit_fen,
                  "bank_fen": school.bank_fen, "cash_fen": school.cash_fen},
    )]


# --------------------------------------------------------------------------- disclosure (R21)


def disclosure_period(day: date, months: int) -> tuple[str, date, date]:
    """The disclosure period holding `day`: name (2025-Q3, 2025-09, 2025-H2, 2025), first and last day."""
    if months not in (1, 2, 3, 4, 6, 12):
        raise ValueError("a disclosure period is 1, 2, 3, 4, 6 or 12 months")
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    after = first_month + months
    end = (date(day.year + 1, 1, 1) if after > 12 else date(day.year, after, 1)) - timedelta(days=1)
    number = (first_month - 1) // months + 1
    name = {1: f"{day.year}-{first_month:02d}", 3: f"{day.year}-Q{number}", 6: f"{day.year}-H{number}",
            12: f"{day.year}"}.get(months, f"{day.year}-P{number}of{12 // months}")
    return name, start, end


def covered(start: date, end: date, ranges: Sequence[tuple[date, date]]) -> bool:
    """Whether the union of the disclosed ranges covers every day of [start, end]."""
    reach = start
    for lo, hi in sorted(ranges):
        if lo > reach:
            break
        if hi >= reach:
            reach = hi + timedelta(days=1)
        if reach > end:
            return True
    return reach > end


def check_disclosure(school_id: str, period: str, start: date, end: date, due_on: date,
                     ranges: Sequence[tuple[date, date]]) -> Finding | None:
    """A period with fee activity must be disclosed by its due day (定期公开公示, R21)."""
    if covered(start, end, ranges):
        return None
    return Finding(
        check="disclosure_missing", dedup_key=f"disclosure_missing:{school_id}:{period}", school_id=school_id,
        detail=f"{school_id} had fee income or spending in {period} ({start}..{end}) but disclosed none of it "
               f"by {due_on} (R21)",
        period=_month(start),
        evidence={"period": period, "period_start": start.isoformat(), "period_end": end.isoformat(),
                  "due_on": due_on.isoformat(), "disclosures": len(ranges)},
    )


# --------------------------------------------------------------------------- the ledger itself (R24)


def conflicting_delivery(event_id: uuid.UUID, seq: int, school_id: str, event_type: str,
                         recorded_hash: bytes, delivered_hash: bytes) -> Finding:
    """One event id, two different bodies: the ledger keeps the first and refuses the second."""
    return Finding(
        check="conflicting_duplicate", dedup_key=f"conflicting_duplicate:{event_id}:{delivered_hash.hex()}",
        school_id=school_id,
        detail=f"event {event_id} ({event_type}) was delivered again with different content; the ledger keeps "
               f"entry {seq} as first recorded and refused the new version (R24)",
        subject_event_ids=(event_id,), ledger_indexes=(seq,),
        evidence={"recorded_leaf_hash": recorded_hash.hex(), "refused_leaf_hash": delivered_hash.hex()},
    )
