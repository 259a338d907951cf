"""An in-memory stand-in for AttendanceUoW's roster side: the repository methods the handlers of
enrollment's events (handlers/events.py) and excusals call, and the reads the day's routes make of what
they wrote, with the same transaction semantics (a unit of work works on its own copy, and only commit
makes it the next one's). test_uow_contract.py runs one set of cases on this and on PostgreSQL and
expects the same answers. Ingest, the timer sweep and handovers are not here: they are tested on
PostgreSQL, whose locks and conditional writes are what they rely on."""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace

from services.attendance.db import DayKey, Filing
from services.attendance.db.tables import timetable_of
from services.attendance.domain import Enrollment, Schedule
from tests.unit.snapshot_uow import SnapshotStore, SnapshotUoW

_DAY = ("checked_in_at", "checked_in_by", "checked_out_at", "handed_over_by", "collected_by_id", "collected_by_name",
        "collected_by_relation", "excuse_reason", "absent_at", "extended_care_started_at", "escalated_at")


@dataclass
class State:
    """The fake database: rows keyed as the tables' primary keys."""

    programmes: dict[str, dict] = field(default_factory=dict)
    admissions: dict[str, tuple[str, str, str, datetime]] = field(default_factory=dict)  # staff_admissions
    roster: dict[tuple[str, str], dict] = field(default_factory=dict)  # (student, programme)
    guardianships: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (student, guardian)
    days: dict[DayKey, dict] = field(default_factory=dict)  # attendance_days


class FakeAttendanceUoW(SnapshotUoW):
    _state: State

    # -- from enrollment events ------------------------------------------------------------------
    async def save_enrollments(self, filings: Sequence[Filing]) -> None:
        for f in filings:
            before = self._state.roster.get((f.student_id, f.programme_id))
            pickups = sorted(set(f.authorised_pickup_ids))
            # A re-filing remembers whoever dropped off the pickup list as revoked (R11).
            revoked = [] if before is None else sorted((set(before["pickups"]) | set(before["revoked"])) - set(pickups))
            self._state.roster[(f.student_id, f.programme_id)] = dict(
                school_id=f.school_id, district_id=f.district_id, student_name=f.student_name, guardian_id=f.guardian_id,
                pickups=pickups, revoked=revoked, class_teacher_id=f.class_teacher_id, extended_care=f.extended_care,
                active=True, withdrawn_from=None, filed_at=f.filed_at)

    async def withdraw(self, student_id: str, programme_id: str, effective_on: date) -> None:
        row = self._state.roster.get((student_id, programme_id))
        if row is not None:
            row.update(active=False, withdrawn_from=effective_on)

    async def save_programme(self, *, programme_id: str, school_id: str, district_id: str, sessions: list[dict],
                             extended_care_until_local: str | None, staff_ids: list[str], responsible_id: str,
                             published_at: datetime, activities: dict[str, str]) -> None:
        before = self._state.programmes.get(programme_id)
        if before is not None and before["published_at"] > published_at:
            return  # an older publication arriving late
        self._state.programmes[programme_id] = dict(
            school_id=school_id, district_id=district_id, sessions=copy.deepcopy(sessions),
            extended_care_until_local=extended_care_until_local, staff_ids=sorted(set(staff_ids)),
            responsible_id=responsible_id, published_at=published_at, activities=dict(activities))

    async def save_staff_admissions(self, decisions: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        for staff_id, school_id, admission, decided_by, effective_at in decisions:
            before = self._state.admissions.get(staff_id)
            if before is None or before[3] <= effective_at:
                self._state.admissions[staff_id] = (school_id, admission, decided_by, effective_at)

    async def save_guardians(self, guardians: Sequence[tuple[str, str, str, Sequence[str]]]) -> None:
        for guardian_id, name, school_id, students in guardians:
            for key in [k for k in self._state.guardianships if k[1] == guardian_id and k[0] not in students]:
                del self._state.guardianships[key]
            for student_id in students:
                self._state.guardianships[(student_id, guardian_id)] = (name, school_id)

    # -- reads -----------------------------------------------------------------------------------
    def _guardians(self, student_id: str) -> dict[str, str]:
        return {g: name for (s, g), (name, _) in sorted(self._state.guardianships.items()) if s == student_id}

    def _enrollment(self, student_id: str, programme_id: str, row: dict) -> Enrollment:
        return Enrollment(
            student_id=student_id, programme_id=programme_id, school_id=row["school_id"], student_name=row["student_name"],
            guardian_ids=frozenset((row["guardian_id"], *self._guardians(student_id))),
            authorised_pickup_ids=frozenset(row["pickups"]), revoked_pickup_ids=frozenset(row["revoked"]),
            class_teacher_id=row["class_teacher_id"], active=row["active"], withdrawn_from=row["withdrawn_from"],
            filed_at=row["filed_at"])

    async def enrollments(self, pairs: Iterable[tuple[str, str]]) -> tuple[list[Enrollment], dict[str, str]]:
        wanted = set(pairs)
        found = [(s, p, row) for (s, p), row in sorted(self._state.roster.items()) if (row["school_id"], s) in wanted]
        names: dict[str, str] = {}
        for student_id, _, _ in found:
            names.update(self._guardians(student_id))
        return [self._enrollment(s, p, row) for s, p, row in found], names

    async def schedules(self, programme_ids: Iterable[str] | None = None) -> dict[str, Schedule]:
        wanted = None if programme_ids is None else set(programme_ids)
        suspended = {s for s, (_, admission, _, _) in self._state.admissions.items() if admission != "admitted"}
        return {pid: timetable_of(pid, p["school_id"], p["district_id"], p["sessions"], p["extended_care_until_local"],
                                  [s for s in p["staff_ids"] if s not in suspended], p["responsible_id"], p["activities"])
                for pid, p in self._state.programmes.items() if wanted is None or pid in wanted}

    async def excuse(self, key: DayKey, school_id: str, reason: str) -> None:
        day = self._state.days.setdefault(key, {"school_id": school_id})
        day.update(excused=True, excuse_reason=reason)

    async def district_of(self, school_id: str) -> str | None:
        published = sorted((p["published_at"], p["district_id"]) for p in self._state.programmes.values()
                           if p["school_id"] == school_id)
        if published:
            return published[-1][1]
        return next((r["district_id"] for r in self._state.roster.values()
                     if r["school_id"] == school_id and r["district_id"] is not None), None)

    async def roster(self, school_id: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(student_id=s, programme_id=p, student_name=r["student_name"], extended_care=r["extended_care"])
                for (s, p), r in sorted(self._state.roster.items()) if r["school_id"] == school_id and r["active"]]

    async def day_rows(self, school_id: str, day: date) -> list[SimpleNamespace]:
        out = []
        for (s, p), r in sorted(self._state.roster.items()):
            if r["school_id"] != school_id or not (r["active"] or (r["withdrawn_from"] is not None and r["withdrawn_from"] > day)):
                continue
            d = self._state.days.get((s, p, day), {})
            out.append(SimpleNamespace(student_id=s, programme_id=p, student_name=r["student_name"],
                                       **{c: d.get(c) for c in _DAY}, extended_care_minutes=d.get("extended_care_minutes", 0),
                                       excused=d.get("excused", False)))
        return out


class FakeAttendanceStore(SnapshotStore):
    def __init__(self) -> None:
        super().__init__(State())

    def uow(self) -> FakeAttendanceUoW:
        return FakeAttendanceUoW(self)
