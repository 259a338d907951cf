"""An in-memory stand-in for AuditUoW: its facts (the FactsStore half: enrollments, fee standards,
programmes, plans, sessions held, staff sessions, waivers, accounts, districts, student cash), the
ledger's appends (staged entries numbered, sealed and written at commit, gap-free; what an event id
recorded; conflicting redeliveries; checkpoints) and findings (each recorded once, published once), with
the same transaction semantics: writes reach the next unit of work only at commit. test_uow_contract.py
runs one set of cases on this and on PostgreSQL and expects the same answers (R24, R25)."""
from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.audit.db.ledger import StoredCheckpoint
from services.audit.domain.coercion import StaffEntered
from services.audit.domain.findings import Finding
from services.audit.domain.rules import DisclosedProgramme, Enrollment, FeeStandard, LabourFeePlan, StudentCash
from services.audit.ledger import books
from services.audit.ledger.commitments import SALT_SIZE, encode_opening, seal
from services.audit.ledger.merkle import leaf_hash
from shared.contracts.envelope import Event


@dataclass
class FactTables:
    programmes: dict[str, DisclosedProgramme] = field(default_factory=dict)
    standards: dict[str, FeeStandard] = field(default_factory=dict)
    plans: dict[str, LabourFeePlan] = field(default_factory=dict)
    staff_entered: dict[str, StaffEntered] = field(default_factory=dict)
    enrollments: dict[tuple[str, str], Enrollment] = field(default_factory=dict)
    accounts: set[tuple[str, str]] = field(default_factory=set)
    waivers: dict[str, tuple[str | None, str, int]] = field(default_factory=dict)
    sessions: set[tuple[str, str, date]] = field(default_factory=set)
    staff: set[tuple[str, str, date]] = field(default_factory=set)
    districts: dict[str, str] = field(default_factory=dict)
    cash: dict[tuple[str, str], StudentCash] = field(default_factory=dict)
    # the ledger: (event id, type, school, body, leaf hash, opening) by sequence number
    entries: list[tuple[uuid.UUID, str, str, bytes, bytes, bytes]] = field(default_factory=list)
    conflicts: set[tuple[uuid.UUID, bytes]] = field(default_factory=set)
    checkpoints: dict[int, StoredCheckpoint] = field(default_factory=dict)
    findings: dict[str, tuple[Finding, str | None, int | None, datetime]] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)


class FakeAuditStore:
    def __init__(self) -> None:
        self.tables = FactTables()

    def uow(self) -> FakeAuditUoW:
        return FakeAuditUoW(self)


class FakeAuditUoW:
    def __init__(self, store: FakeAuditStore) -> None:
        self.store = store
        self._t = copy.deepcopy(store.tables)  # this transaction's view; the store changes at commit
        self._noted_districts: dict[str, str] = {}
        self._staged: dict[uuid.UUID, tuple[dict[str, Any], books.Entry]] = {}

    async def __aenter__(self) -> FakeAuditUoW:
        self._t = copy.deepcopy(self.store.tables)
        self._noted_districts = {}
        self._staged = {}
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._t = copy.deepcopy(self.store.tables)
        self._noted_districts = {}
        self._staged = {}

    async def commit(self) -> None:
        await self.write_staged_entries()
        self._t.districts.update(self._noted_districts)
        self._noted_districts = {}
        self.store.tables = copy.deepcopy(self._t)

    def publish(self, event: Event, *, correlation_id: str | None = None, causation_id=None, event_id=None) -> None:
        self._t.published.append(event)

    # -- the ledger's appends (LedgerStore)
    def stage_entry(self, event_id: uuid.UUID, document: dict[str, Any], entry: books.Entry) -> None:
        self._staged[event_id] = (document, entry)

    def staged(self, event_id: uuid.UUID) -> dict[str, Any] | None:
        item = self._staged.get(event_id)
        return item[0] if item else None

    async def write_staged_entries(self) -> list[tuple[int, uuid.UUID]]:
        written = []
        for event_id, (document, e) in self._staged.items():
            seq, salt = len(self._t.entries), os.urandom(SALT_SIZE)
            body = seal(document, salt, seq)
            self._t.entries.append((event_id, e.event_type, e.school_id, body, leaf_hash(body),
                                    encode_opening(document, salt)))
            written.append((seq, event_id))
        self._staged.clear()
        return written

    async def recorded(self, event_id: uuid.UUID) -> tuple[int, str, str, bytes, bytes, bytes | None] | None:
        for seq, (eid, event_type, school_id, body, leaf, opening) in enumerate(self._t.entries):
            if eid == event_id:
                return seq, event_type, school_id, body, leaf, opening
        return None

    async def record_conflict(self, event_id: uuid.UUID, body: bytes, leaf: bytes) -> None:
        self._t.conflicts.add((event_id, leaf))

    async def ledger_size(self) -> int:
        return len(self._t.entries)

    async def checkpoint_covering(self, size: int) -> StoredCheckpoint | None:
        covering = sorted(n for n in self._t.checkpoints if n >= size)
        return self._t.checkpoints[covering[0]] if covering else None

    # -- findings (FindingsStore)
    async def insert_finding(self, f: Finding, *, district_id: str | None, ledger_tree_size: int | None,
                             detected_at: datetime) -> bool:
        if f.anomaly_id in self._t.findings:  # the id is the dedup key's hash
            return False
        self._t.findings[f.anomaly_id] = (f, district_id, ledger_tree_size, detected_at)
        return True

    # -- noted in a batch, written at commit
    def note_session_held(self, school_id: str, programme_id: str, day: date) -> None:
        self._t.sessions.add((school_id, programme_id, day))

    def note_staff_session(self, school_id: str, staff_id: str, day: date) -> None:
        self._t.staff.add((school_id, staff_id, day))

    def note_district(self, school_id: str, district_id: str | None) -> None:
        if district_id:
            self._noted_districts[school_id] = district_id

    # -- facts from enrollment and billing events
    async def upsert_programme(self, programme_id: str, school_id: str, district_id: str, fee_fen: int,
                               extended_fen: int) -> None:
        self._t.programmes[programme_id] = DisclosedProgramme(school_id, fee_fen, extended_fen)

    async def upsert_fee_standard(self, s: FeeStandard, effective_from: date) -> None:
        self._t.standards[s.fee_schedule_id] = s

    async def add_distribution_plan(self, plan: LabourFeePlan, approval_ref: str, approved_on: date,
                                    effective_from: date, paid_from_account: str) -> None:
        self._t.plans.setdefault(plan.plan_id, plan)

    async def add_staff_entered(self, rows: Sequence[StaffEntered]) -> None:
        for r in rows:
            self._t.staff_entered.setdefault(r.application_id, r)

    async def staff_entered_on(self, keys: Iterable[tuple[str, str, str]], since: datetime,
                               until: datetime) -> list[StaffEntered]:
        wanted = set(keys)
        return [r for r in self._t.staff_entered.values()
                if (r.school_id, r.programme_id, r.submitted_by) in wanted and since <= r.submitted_at <= until]

    async def file_enrollments(self, filed: dict[tuple[str, str], tuple[str, bool]]) -> None:
        for key, (school, hardship) in filed.items():
            self._t.enrollments[key] = Enrollment(school, hardship, None)

    async def withdraw_enrollments(self, withdrawn: dict[tuple[str, str], tuple[str, date]]) -> None:
        for key, (school, day) in withdrawn.items():
            known = self._t.enrollments.get(key)
            self._t.enrollments[key] = Enrollment(known.school_id if known else school,
                                                 known.hardship if known else False, day)

    async def add_school_account(self, school_id: str, account: str) -> None:
        self._t.accounts.add((school_id, account))

    async def add_waiver(self, waiver_id: str, charge_id: str | None, reason: str, amount_fen: int) -> None:
        self._t.waivers.setdefault(waiver_id, (charge_id, reason, amount_fen))

    # -- bulk reads for a batch of checks
    async def enrollments_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Enrollment]:
        return {k: self._t.enrollments[k] for k in set(keys) if k in self._t.enrollments}

    async def standards_of(self, ids: Iterable[str]) -> dict[str, FeeStandard]:
        return {i: self._t.standards[i] for i in set(ids) if i in self._t.standards}

    async def programmes_of(self, ids: Iterable[str]) -> dict[str, DisclosedProgramme]:
        return {i: self._t.programmes[i] for i in set(ids) if i in self._t.programmes}

    async def plans_of(self, ids: Iterable[str]) -> dict[str, LabourFeePlan]:
        return {i: self._t.plans[i] for i in set(ids) if i in self._t.plans}

    async def held_sessions_of(self, keys: Iterable[tuple[str, str]], first: date, last: date
                               ) -> dict[tuple[str, str], set[date]]:
        pairs = set(keys)
        schools, progs = {s for s, _ in pairs}, {p for _, p in pairs}
        out: dict[tuple[str, str], set[date]] = {}
        for school, programme, day in self._t.sessions:
            if school in schools and programme in progs and first <= day <= last:
                out.setdefault((school, programme), set()).add(day)
        return out

    async def hardship_waived_of(self, charge_ids: Iterable[str]) -> dict[str, int]:
        wanted, out = set(charge_ids), {}
        for charge, reason, fen in self._t.waivers.values():
            if charge in wanted and reason == "hardship":
                out[charge] = out.get(charge, 0) + fen
        return out

    async def accounts_of(self, schools: Iterable[str]) -> dict[str, frozenset[str]]:
        wanted, out = set(schools), {}
        for school, account in self._t.accounts:
            if school in wanted:
                out.setdefault(school, set()).add(account)
        return {k: frozenset(v) for k, v in out.items()}

    async def districts_of(self, schools: Iterable[str]) -> dict[str, str]:
        known = self._t.districts | self._noted_districts
        return {s: known[s] for s in set(schools) if s in known}

    async def schools_of_district(self, district_id: str) -> list[str]:
        return [s for s, d in self._t.districts.items() if d == district_id]

    async def staff_sessions_of(self, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        return {(school, staff, month): sum(1 for s, st, day in self._t.staff
                                            if (s, st) == (school, staff) and f"{day:%Y-%m}" == month)
                for school, staff, month in set(keys)}

    async def student_cash_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StudentCash]:
        return {k: self._t.cash.get(k, StudentCash()) for k in set(keys)}

    async def save_student_cash(self, cash: dict[tuple[str, str], StudentCash]) -> None:
        self._t.cash.update(cash)
