"""An in-memory stand-in for BillingUoW's keyed rows, schools and journal: the same repository methods
the command handlers for subsidies, expenses, fee caps, distribution plans and hardship verifications call, with the same
transaction semantics (nothing reaches the next unit of work before commit). test_uow_contract.py runs
one set of cases on this and on PostgreSQL and expects the same answers."""
from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from sqlmodel import SQLModel

from services.billing.db import (
    DisclosureRow,
    DistributionPlanRow,
    ExpenseRow,
    FeeCapRow,
    HardshipVerificationRow,
    PaymentRow,
    ProgrammeRow,
    RefusalRow,
    SettlementRunRow,
    SubsidyRow,
)
from services.billing.domain import Move
from shared.contracts.envelope import Event


def _key(row: SQLModel) -> object:
    return getattr(row, next(iter(row.__table__.primary_key.columns)).name)


class FakeBillingStore:
    """What the fake database holds between units of work."""

    def __init__(self) -> None:
        self.rows: dict[type, dict[object, SQLModel]] = defaultdict(dict)
        self.schools: dict[str, str | None] = {}
        self.journal: dict[tuple[str, date, str, str, str], int] = defaultdict(int)
        self.events: list[Event] = []
        self._refusal_ids = itertools.count(1)

    def uow(self) -> FakeBillingUoW:
        return FakeBillingUoW(self)

    def types(self, school_id: str) -> list[str]:
        return [e.type_name for e in self.events if getattr(e, "school_id", None) == school_id]

    def payloads(self, school_id: str, type_name: str) -> list[dict]:
        """The published events of one type about a school, as their JSON payloads."""
        return [e.model_dump(mode="json") for e in self.events
                if getattr(e, "school_id", None) == school_id and e.type_name == type_name]


class FakeBillingUoW:
    def __init__(self, store: FakeBillingStore) -> None:
        self.store = store
        self.read_only = False
        self._reset()

    def _reset(self) -> None:
        self._staged: dict[type, dict[object, SQLModel]] = defaultdict(dict)
        self._schools: dict[str, str | None] = {}
        self._journal: list[tuple[str, date, str, Move]] = []
        self._outbox: list[Event] = []

    async def __aenter__(self) -> FakeBillingUoW:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reset()

    def _get(self, model: type, key: object) -> SQLModel | None:
        if key in self._staged[model]:
            return self._staged[model][key]
        row = self.store.rows[model].get(key)
        if row is None:
            return None
        self._staged[model][key] = copy.deepcopy(row)  # one object per row per transaction, as a session's
        return self._staged[model][key]

    def add(self, row: SQLModel) -> None:
        if self.read_only:
            raise RuntimeError("a read-only snapshot writes nothing")
        if isinstance(row, RefusalRow) and row.refusal_id is None:
            row.refusal_id = next(self.store._refusal_ids)
        self._staged[type(row)][_key(row)] = row

    async def payment(self, payment_id: str) -> PaymentRow | None:
        return self._get(PaymentRow, payment_id)

    async def subsidy(self, subsidy_id: str) -> SubsidyRow | None:
        return self._get(SubsidyRow, subsidy_id)

    async def expense(self, expense_id: str) -> ExpenseRow | None:
        return self._get(ExpenseRow, expense_id)

    async def disclosure(self, disclosure_id: str) -> DisclosureRow | None:
        return self._get(DisclosureRow, disclosure_id)

    async def cap_row(self, scope: str) -> FeeCapRow | None:
        return self._get(FeeCapRow, scope)

    async def cap(self, scope: str) -> int | None:
        row = self._get(FeeCapRow, scope)
        return row.cap_per_session_fen if row else None

    async def hardship_verification(self, application_id: str) -> HardshipVerificationRow | None:
        return self._get(HardshipVerificationRow, application_id)

    async def settlement_run(self, run_id: str) -> SettlementRunRow | None:
        return self._get(SettlementRunRow, run_id)

    async def programme(self, programme_id: str) -> ProgrammeRow | None:
        return self._get(ProgrammeRow, programme_id)

    async def plan_row(self, plan_id: str, *, lock: bool = False) -> DistributionPlanRow | None:
        return self._get(DistributionPlanRow, plan_id)

    async def read_only_snapshot(self) -> None:
        self.read_only = True

    async def remember_school(self, school_id: str, district_id: str | None) -> None:
        known = {**self.store.schools, **self._schools}.get(school_id)
        self._schools[school_id] = district_id if district_id is not None else known

    async def district_of(self, school_id: str) -> str | None:
        return {**self.store.schools, **self._schools}.get(school_id)

    def post(self, school_id: str, posted_on: date, event_type: str, moves: Iterable[Move]) -> None:
        self._journal += [(school_id, posted_on, event_type, m) for m in moves]

    async def journal_lines(self, school_id: str, start: date, end: date) -> list[tuple[str, str, str, int]]:
        sums: dict[tuple[str, str, str], int] = defaultdict(int)
        for (school, day, event_type, debit, credit), amount in self.store.journal.items():
            if school == school_id and start <= day <= end:
                sums[(event_type, debit, credit)] += amount
        return [(*k, v) for k, v in sorted(sums.items())]

    def publish(self, event: Event, *, correlation_id: str | None = None, causation_id=None, event_id=None) -> None:
        self._outbox.append(event)

    async def commit(self) -> None:
        for model, rows in self._staged.items():
            for key, row in rows.items():
                self.store.rows[model][key] = copy.deepcopy(row)
        self.store.schools.update(self._schools)
        for school, day, event_type, move in self._journal:
            self.store.journal[(school, day, event_type, move.debit, move.credit)] += move.amount_fen
        self.store.events += self._outbox
        self._reset()
