"""What a ledger entry says about money, read from its exact bytes: index facts, double-entry postings,
per-school books and disclosure totals (R19, R21, R24, R25). Standard library only, so the offline
verifier recomputes everything the service reports from an export, without trusting the service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from services.audit.ledger.decoding import loads

__all__ = [
    "ACCOUNTS",
    "CASH_EVENTS",
    "DISCLOSED_FIELDS",
    "EXPENSE_ACCOUNTS",
    "MONEY_TYPES",
    "RECORD_TYPES",
    "SCHOOL_TZ",
    "Books",
    "Entry",
    "EntryError",
    "Posting",
    "SchoolBooks",
    "add_to_totals",
    "describe",
    "disclosure_totals",
    "entry_problems",
    "local_day",
    "read_entry",
]

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991, so a fixed offset gives the school's
# local day without needing a time-zone database on the auditor's machine.
# shared.time says the same; the offline verifier runs without the platform's code, so it is kept here.
SCHOOL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

# Every money event becomes exactly one ledger entry (R24) ...
MONEY_TYPES: tuple[str, ...] = (
    "FeeCharged",
    "FeeWaived",
    "SubsidyGranted",
    "PaymentReceived",
    "FeeSettled",
    "RefundIssued",
    "PayoutIssued",
    "ExpenseRecorded",
)
# ... and so do the fee standards and the disclosures, so that a disclosure can be recomputed from
# the very entries it was published over (R4, R21, R26).
RECORD_TYPES: tuple[str, ...] = (*MONEY_TYPES, "FeeScheduleApproved", "DisclosurePublished")

# The named accounts of a school's books, as billing's contract names them (R16, R19).
ACCOUNTS: tuple[str, ...] = (
    "bank",
    "parent_receivables",
    "parent_credit",
    "refunds_payable",
    "fee_income",
    "fee_waivers",
    "government_subsidy",
    "staff_labour_fees",
    "overtime_operating_costs",
    "insurance",
)

# R19: fee income may be spent only on these, one account per permitted expense category.
EXPENSE_ACCOUNTS: dict[str, str] = {
    "staff_remuneration": "staff_labour_fees",
    "extra_hours_operating": "overtime_operating_costs",
    "group_accident_insurance": "insurance",
}

# Money through the school's unified bank account, as each event states it: +in, -out (R19).
CASH_EVENTS: dict[str, int] = {
    "PaymentReceived": +1,
    "SubsidyGranted": +1,
    "RefundIssued": -1,
    "PayoutIssued": -1,
    "ExpenseRecorded": -1,
}

# type -> (category, payload field of the sub-category, payload field of the day the money moved)
_KINDS: dict[str, tuple[str, str | None, str]] = {
    "FeeCharged": ("charge", "category", "charged_at"),
    "FeeWaived": ("waiver", "reason", "waived_at"),
    "SubsidyGranted": ("subsidy", "purpose", "granted_at"),
    "PaymentReceived": ("payment", "method", "received_at"),
    "FeeSettled": ("settlement", None, "settled_at"),
    "RefundIssued": ("refund", "reason", "issued_at"),
    "PayoutIssued": ("payout", "category", "issued_at"),
    "ExpenseRecorded": ("expense", "category", "spent_on"),
    "FeeScheduleApproved": ("fee_schedule", None, "approved_at"),
    "DisclosurePublished": ("disclosure", None, "published_at"),
}

DISCLOSED_FIELDS: tuple[str, ...] = (
    "fee_income_fen",
    "subsidy_income_fen",
    "waived_fen",
    "refunded_fen",
    "payouts_fen",
    "staff_remuneration_fen",
    "extra_hours_operating_fen",
    "group_accident_insurance_fen",
    "balance_fen",
)


class EntryError(ValueError):
    """An entry's bytes are not a fee record this ledger understands."""


@dataclass(frozen=True)
class Posting:
    """Debit one account and credit another of the same school by amount_fen."""

    debit: str
    credit: str
    amount_fen: int


@dataclass(frozen=True)
class Entry:
    """One ledger entry as its bytes state it. Nothing here comes from the database's own columns."""

    event_id: str
    event_type: str
    version: int
    school_id: str
    district_id: str | None
    student_id: str | None
    category: str
    subcategory: str | None
    amount_fen: int | None
    day: date
    cash_fen: int
    postings: tuple[Posting, ...]
    producer_postings: bool
    payload: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def period(self) -> str:
        """The month the money moved in, YYYY-MM, school-local."""
        return self.day.isoformat()[:7]

    @property
    def is_money(self) -> bool:
        return self.event_type in MONEY_TYPES


def _text(payload: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise EntryError(f"payload.{name} must be a non-empty string")
    return value


def _fen(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EntryError(f"payload.{name} must be a non-negative integer of fen")
    return value


def local_day(value: object, name: str) -> date:
    """A payload date, or the school-local day of a payload instant."""
    if not isinstance(value, str):
        raise EntryError(f"payload.{name} must be a date or a time")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EntryError(f"payload.{name} is not an ISO date or time: {value!r}") from exc
    if instant.tzinfo is None:
        raise EntryError(f"payload.{name} has no UTC offset")
    return instant.astimezone(SCHOOL_TZ).date()


def _derived_postings(event_type: str, payload: Mapping[str, Any], amount: int | None) -> tuple[Posting, ...]:
    """The postings an event implies when its producer sent none (events from before postings)."""
    if amount is None or amount <= 0:
        return ()
    pair: tuple[str, str] | None = {
        "FeeCharged": ("parent_receivables", "fee_income"),
        "FeeWaived": ("fee_waivers", "parent_receivables"),
        "SubsidyGranted": ("bank", "government_subsidy"),
        "PaymentReceived": ("bank", "parent_receivables"),
        "RefundIssued": ("refunds_payable", "bank"),
        "PayoutIssued": ("staff_labour_fees", "bank"),
    }.get(event_type)
    if event_type == "ExpenseRecorded":
        account = EXPENSE_ACCOUNTS.get(str(payload.get("category")))
        pair = (account, "bank") if account else None
    return (Posting(pair[0], pair[1], amount),) if pair else ()


def _producer_postings(raw: object) -> tuple[Posting, ...]:
    if not isinstance(raw, list):
        raise EntryError("payload.postings must be a list")
    out = []
    new = object.__new__
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise EntryError(f"payload.postings[{i}] must be an object")
        debit, credit, amount = item.get("debit"), item.get("credit"), item.get("amount_fen")
        if not isinstance(debit, str) or not isinstance(credit, str):
            raise EntryError(f"payload.postings[{i}] must name a debit and a credit account")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise EntryError(f"payload.postings[{i}].amount_fen must be a positive integer")
        posting = new(Posting)  # Posting(debit, credit, amount), without three object.__setattr__ calls
        posting.__dict__.update(debit=debit, credit=credit, amount_fen=amount)
        out.append(posting)
    return tuple(out)


def read_entry(body: bytes) -> Entry:
    """Parse one entry (a compact JSON event envelope, exactly as published) into what it says."""
    try:
        envelope = loads(body)
    except ValueError as exc:  # UnicodeDecodeError is one
        raise EntryError(f"not a JSON document: {exc}") from exc
    return describe(envelope)


def describe(envelope: object) -> Entry:
    """What an already parsed envelope says (see read_entry). An unopened format-2 entry (personal fields
    committed, services.audit.ledger.commitments) says the same about money: its event id is the
    commitment's, and it names no student."""
    if not isinstance(envelope, dict):
        raise EntryError("not a JSON object")
    event_type = envelope.get("type")
    payload = envelope.get("payload")
    if event_type not in _KINDS:
        raise EntryError(f"type {event_type!r} is not a fee record")
    if not isinstance(payload, dict):
        raise EntryError("payload must be an object")
    event_id = envelope.get("event_id")
    if event_id is None and envelope.get("entry_format") == 2 and isinstance(envelope.get("commitments"), dict):
        event_id = f"commitment:{envelope['commitments'].get('event_id')}"
    if not isinstance(event_id, str) or not event_id:
        raise EntryError("event_id is missing")
    version = envelope.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise EntryError("version must be an integer")
    category, sub_field, day_field = _KINDS[event_type]
    amount = _fen(payload, "amount_fen") if "amount_fen" in payload else None
    raw_postings = payload.get("postings")
    producer = bool(raw_postings)
    postings = _producer_postings(raw_postings) if producer else _derived_postings(event_type, payload, amount)
    sign = CASH_EVENTS.get(event_type, 0)
    # _text(payload, name[, required=False]) for each, called only when the value is not a plain
    # non-empty string (a full audit describes every entry of the ledger), in the same order.
    school_id = payload.get("school_id")
    if type(school_id) is not str or not school_id:
        school_id = _text(payload, "school_id")
    district_id = payload.get("district_id")
    if district_id is not None and (type(district_id) is not str or not district_id):
        district_id = _text(payload, "district_id", required=False)
    student_id = payload.get("student_id")
    if student_id is not None and (type(student_id) is not str or not student_id):
        student_id = _text(payload, "student_id", required=False)
    return _entry({
        "event_id": event_id,
        "event_type": event_type,
        "version": version,
        "school_id": school_id,
        "district_id": district_id,
        "student_id": student_id,
        "category": category,
        "subcategory": _text(payload, sub_field, required=False) if sub_field else None,
        "amount_fen": amount,
        "day": local_day(payload.get(day_field), day_field),
        "cash_fen": sign * (amount or 0),
        "postings": postings,
        "producer_postings": producer,
        "payload": payload,
    })


def _entry(fields: dict[str, Any]) -> Entry:
    """Entry(**fields), equal to it, without the frozen dataclass's object.__setattr__ per field: a full
    audit describes every entry of the ledger, and those fourteen calls cost it 1.6 us of about 30 each."""
    entry = object.__new__(Entry)
    object.__setattr__(entry, "__dict__", fields)
    return entry


def entry_problems(entry: Entry) -> list[str]:
    """Why an entry's postings do not book what the entry says happened (empty when they do)."""
    problems = []
    bank = 0
    for p in entry.postings:
        for account in (p.debit, p.credit):
            if account not in ACCOUNTS:
                problems.append(f"posting uses {account!r}, which is not an account of the school's books")
        if p.debit == p.credit:
            problems.append(f"posting debits and credits the same account {p.debit!r}")
        bank += p.amount_fen if p.debit == "bank" else 0
        bank -= p.amount_fen if p.credit == "bank" else 0
    if bank != entry.cash_fen:
        problems.append(
            f"postings move {bank} fen through the bank account but the {entry.event_type} says {entry.cash_fen}"
        )
    return problems


@dataclass
class SchoolBooks:
    """One school's double-entry totals, and the cash its events state, over a prefix of the ledger."""

    debits: dict[str, int] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)
    cash_fen: int = 0
    entries: int = 0

    @property
    def debit_fen(self) -> int:
        return sum(self.debits.values())

    @property
    def credit_fen(self) -> int:
        return sum(self.credits.values())

    @property
    def bank_fen(self) -> int:
        """Balance of the bank account per the postings."""
        return self.debits.get("bank", 0) - self.credits.get("bank", 0)

    @property
    def balanced(self) -> bool:
        """Debits equal credits, and the bank account holds exactly the cash the events state (R25)."""
        return self.debit_fen == self.credit_fen and self.bank_fen == self.cash_fen

    def balances(self) -> dict[str, int]:
        """Debit-minus-credit balance of every account used, by name."""
        names = sorted(set(self.debits) | set(self.credits))
        return {a: self.debits.get(a, 0) - self.credits.get(a, 0) for a in names}

    def add(self, entry: Entry) -> None:
        for p in entry.postings:
            self.debits[p.debit] = self.debits.get(p.debit, 0) + p.amount_fen
            self.credits[p.credit] = self.credits.get(p.credit, 0) + p.amount_fen
        self.cash_fen += entry.cash_fen
        self.entries += 1

    def merge(self, other: SchoolBooks) -> None:
        """Add another stretch of the same school's books (an audit read in parts)."""
        for account, amount in other.debits.items():
            self.debits[account] = self.debits.get(account, 0) + amount
        for account, amount in other.credits.items():
            self.credits[account] = self.credits.get(account, 0) + amount
        self.cash_fen += other.cash_fen
        self.entries += other.entries

    def to_json(self) -> dict[str, Any]:
        return {"debits": dict(self.debits), "credits": dict(self.credits), "cash_fen": self.cash_fen,
                "entries": self.entries}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SchoolBooks:
        return cls(dict(data.get("debits", {})), dict(data.get("credits", {})), int(data.get("cash_fen", 0)),
                   int(data.get("entries", 0)))


class Books:
    """Per-school books over the entries added so far, in ledger order."""

    def __init__(self) -> None:
        self.schools: dict[str, SchoolBooks] = {}

    def add(self, entry: Entry) -> None:
        if entry.postings or entry.cash_fen:
            school = self.schools.get(entry.school_id)
            if school is None:
                school = self.schools[entry.school_id] = SchoolBooks()
            school.add(entry)

    def unbalanced(self) -> list[str]:
        return sorted(s for s, b in self.schools.items() if not b.balanced)


def disclosure_totals(entries: Iterable[Entry], school_id: str, start: date, end: date) -> dict[str, int]:
    """What a school's income and spending disclosure (R21) must say for [start, end], on a cash basis:
    each amount counts on the school-local day the money moved. balance = income - refunds - spending."""
    totals = {name: 0 for name in DISCLOSED_FIELDS}
    for e in entries:
        if e.school_id != school_id or not start <= e.day <= end or not e.amount_fen:
            continue
        add_to_totals(totals, e)
    return totals


def add_to_totals(totals: dict[str, int], e: Entry) -> None:
    """Add one entry's amount to the disclosure field it belongs to, and to the balance."""
    name = disclosed_field(e)
    if name is not None:
        add_amount(totals, name, e.amount_fen or 0)


_DISCLOSED_BY_TYPE = {
    "PaymentReceived": "fee_income_fen",
    "SubsidyGranted": "subsidy_income_fen",
    "FeeWaived": "waived_fen",
    "RefundIssued": "refunded_fen",
    "PayoutIssued": "payouts_fen",
}


def disclosed_field(e: Entry) -> str | None:
    """The disclosure field (R21) an entry's amount counts in, if any."""
    if e.event_type == "ExpenseRecorded" and e.subcategory in EXPENSE_ACCOUNTS:
        return f"{e.subcategory}_fen"
    return _DISCLOSED_BY_TYPE.get(e.event_type)


def add_amount(totals: dict[str, int], name: str, amount: int) -> None:
    """Add an amount to disclosure field `name` and to the balance (income adds, waivers are neither)."""
    totals[name] += amount
    if name in ("fee_income_fen", "subsidy_income_fen"):
        totals["balance_fen"] += amount
    elif name != "waived_fen":
        totals["balance_fen"] -= amount
