"""An in-memory stand-in for EnrollmentUoW: the same repository methods over dicts, with the same
transaction semantics (nothing is visible to the next unit of work before commit). The contract test
in test_uow_contract.py runs one scenario on this and on PostgreSQL and expects the same result."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import SQLModel

from services.enrollment.db import (
    ApplicationRow,
    ClassRow,
    DistrictRow,
    GuardianRow,
    ProgrammeRow,
    SchoolRow,
    StaffRow,
    StudentRow,
)
from shared.contracts.envelope import Event

_KEY = {DistrictRow: "district_id", SchoolRow: "school_id", ClassRow: "class_id", StaffRow: "staff_id",
        StudentRow: "student_id", GuardianRow: "guardian_id", ProgrammeRow: "programme_id",
        ApplicationRow: "application_id"}


_REPORT = ("report_id", "school_id", "programme_id", "what_happened", "happened_on", "reported_at")
_PICKUP = ("pickup_person_id", "student_id", "name", "relation", "phone_masked", "valid_until")


def _copy(row: SQLModel) -> SQLModel:
    return type(row)(**row.model_dump())


class FakeStore:
    """What the fake 'database' holds between units of work: rows and published events."""

    def __init__(self) -> None:
        self.rows: dict[type, dict[str, SQLModel]] = defaultdict(dict)
        self.events: list[tuple[Event, str | None]] = []
        self.reports: dict[str, dict] = {}  # coercion_reports by report_id
        self.pickups: dict[str, dict] = {}  # pickup_persons by pickup_person_id

    def uow(self) -> FakeEnrollmentUoW:
        return FakeEnrollmentUoW(self)

    def types(self) -> list[str]:
        return [e.type_name for e, _ in self.events]


class FakeEnrollmentUoW:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._staged: dict[type, dict[str, SQLModel]] = defaultdict(dict)
        self._outbox: list[tuple[Event, str | None]] = []
        self._reports: dict[str, dict] = {}
        self._pickups: dict[str, dict] = {}
        self.committed = False

    async def __aenter__(self) -> FakeEnrollmentUoW:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._staged.clear()
        self._outbox.clear()
        self._reports.clear()
        self._pickups.clear()

    def _table(self, model: type) -> dict[str, SQLModel]:
        return {**self.store.rows[model], **self._staged[model]}

    def _get(self, model: type, key: str) -> SQLModel | None:
        if key in self._staged[model]:
            return self._staged[model][key]
        row = self.store.rows[model].get(key)
        return _copy(row) if row is not None else None

    async def district(self, district_id: str) -> DistrictRow | None:
        return self._get(DistrictRow, district_id)

    async def school(self, school_id: str) -> SchoolRow | None:
        return self._get(SchoolRow, school_id)

    async def class_(self, class_id: str) -> ClassRow | None:
        return self._get(ClassRow, class_id)

    async def staff(self, staff_id: str, lock: bool = False) -> StaffRow | None:
        return self._get(StaffRow, staff_id)

    async def student(self, student_id: str) -> StudentRow | None:
        return self._get(StudentRow, student_id)

    async def guardian(self, guardian_id: str) -> GuardianRow | None:
        return self._get(GuardianRow, guardian_id)

    async def programme(self, programme_id: str, lock: bool = False) -> ProgrammeRow | None:
        return self._get(ProgrammeRow, programme_id)

    async def application(self, application_id: str, lock: bool = False) -> ApplicationRow | None:
        return self._get(ApplicationRow, application_id)

    async def admitted_staff(self, school_id: str) -> frozenset[str]:
        return frozenset(s.staff_id for s in self._table(StaffRow).values()
                         if s.school_id == school_id and s.admission == "admitted")

    async def programme_for_term(self, school_id: str, term: str) -> ProgrammeRow | None:
        return next((p for p in self._table(ProgrammeRow).values() if p.school_id == school_id and p.term == term), None)

    async def application_by_key(self, key: str) -> ApplicationRow | None:
        return next((a for a in self._table(ApplicationRow).values() if a.idempotency_key == key), None)

    async def active_application(self, student_id: str, programme_id: str) -> ApplicationRow | None:
        return next((a for a in self._table(ApplicationRow).values() if a.student_id == student_id
                     and a.programme_id == programme_id
                     and a.status in ("submitted", "waitlisted", "approved", "reported", "filed")), None)

    async def places_taken(self, programme_id: str) -> int:
        return sum(1 for a in self._table(ApplicationRow).values()
                   if a.programme_id == programme_id and a.status in ("approved", "reported", "filed"))

    async def waitlist(self, programme_id: str, lock: bool = False) -> list[ApplicationRow]:
        waiting = [a for a in self._table(ApplicationRow).values()
                   if a.programme_id == programme_id and a.status == "waitlisted"]
        return sorted(waiting, key=lambda a: (a.waitlisted_at, a.application_id))

    async def guardians_of(self, student_id: str) -> list[str]:
        return sorted(g.guardian_id for g in self._table(GuardianRow).values() if student_id in g.student_ids)

    async def coercion_report(self, report_id: str) -> dict | None:
        found = self._reports.get(report_id) or self.store.reports.get(report_id)
        return dict(found) if found is not None else None

    async def coercion_reports_about(self, school_id: str) -> list[dict]:
        reports = {**self.store.reports, **self._reports}.values()
        return sorted((dict(r) for r in reports if r["school_id"] == school_id), key=lambda r: r["reported_at"])

    async def add_coercion_report(self, report: dict) -> None:
        self._reports[report["report_id"]] = {k: report[k] for k in _REPORT}

    async def add_pickup_person(self, person: dict) -> None:
        self._pickups[person["pickup_person_id"]] = {**{k: person[k] for k in _PICKUP}, "revoked_at": None}

    async def revoke_pickup_person(self, student_id: str, pickup_person_id: str, now: datetime) -> dict | None:
        found = self._pickups.get(pickup_person_id) or self.store.pickups.get(pickup_person_id)
        if found is None or found["student_id"] != student_id:
            return None
        self._pickups[pickup_person_id] = {**found, "revoked_at": found["revoked_at"] or now}
        return {k: found[k] for k in _PICKUP}

    def add(self, row: SQLModel) -> None:
        self._staged[type(row)][getattr(row, _KEY[type(row)])] = row

    def publish(self, event: Event, *, correlation_id: str | None = None, causation_id=None, event_id=None) -> None:
        self._outbox.append((event, correlation_id))

    async def commit(self) -> None:
        for model, rows in self._staged.items():
            for key, row in rows.items():
                self.store.rows[model][key] = _copy(row)
        self.store.events.extend(self._outbox)
        self.store.reports.update(self._reports)
        self.store.pickups.update(self._pickups)
        self._reports.clear()
        self._pickups.clear()
        self._staged.clear()
        self._outbox.clear()
        self.committed = True
