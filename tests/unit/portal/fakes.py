"""An in-memory stand-in for PortalUoW: the read models' writes the event handlers make and the reads the pages
make, with the same answers and the same transaction semantics (nothing reaches the next unit of work before
commit). test_uow_contract.py runs one set of cases on this and on PostgreSQL and expects the same answers."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.time import utc_now
from tests.unit.snapshot_uow import SnapshotStore, SnapshotUoW


def _max(values: Any) -> Any:
    """SQL's max(): nulls ignored, null when none is left."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass
class FakePortalTables:
    """What the fake database holds between units of work: one dict per table, keyed by its primary key."""

    programmes: dict[str, dict[str, Any]] = field(default_factory=dict)
    disclosures: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[str, dict[str, Any]] = field(default_factory=dict)
    days: dict[tuple[str, date], dict[str, Any]] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)
    anomalies: dict[str, dict[str, Any]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    pickup_persons: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakePortalStore(SnapshotStore):
    def __init__(self) -> None:
        super().__init__(FakePortalTables())

    def uow(self) -> FakePortalUoW:
        return FakePortalUoW(self)


class FakePortalUoW(SnapshotUoW):
    @property
    def t(self) -> FakePortalTables:
        """This unit of work's own copy of the tables."""
        return self._state

    # -- writes: the read models ------------------------------------------------------------------------
    async def save_programme(self, p: dict[str, Any]) -> None:
        at = datetime.fromisoformat(p["published_at"])
        old = self.t.programmes.get(p["programme_id"])
        if old is not None and old["published_at"] > at:
            return
        self.t.programmes[p["programme_id"]] = {
            "school_id": p["school_id"], "district_id": p["district_id"], "name": p["name"], "term": p["term"],
            "school_name": p.get("school_name") or (old or {}).get("school_name"),
            "document": copy.deepcopy(p), "published_at": at}

    async def save_disclosure(self, d: dict[str, Any]) -> None:
        self.t.disclosures.setdefault(d["disclosure_id"], {
            "school_id": d["school_id"], "period_end": date.fromisoformat(d["period_end"]), "document": copy.deepcopy(d)})

    async def save_checkpoint(self, log_id: str, tree_size: int, root_hash: str, note: str, at: datetime) -> None:
        old = self.t.checkpoints.get(log_id)
        if old is None or old["tree_size"] < tree_size:
            self.t.checkpoints[log_id] = {"log_id": log_id, "tree_size": tree_size, "root_hash": root_hash,
                                          "signed_note": note, "published_at": at}

    async def save_enrollments(self, rows: Sequence[tuple]) -> None:
        names = ("enrollment_id", "programme_id", "school_id", "district_id", "student_id", "student_name",
                 "guardian_id", "extended_care", "filed_at")
        for row in rows:
            self.t.enrollments.setdefault(row[0], {**dict(zip(names, row, strict=True)), "withdrawn_on": None})

    async def withdraw_enrollments(self, rows: Sequence[tuple[str, date]]) -> None:
        for enrollment_id, on in rows:
            if enrollment_id in self.t.enrollments:
                self.t.enrollments[enrollment_id]["withdrawn_on"] = on

    def _day(self, student_id: str, day: date, school_id: str) -> dict[str, Any]:
        return self.t.days.setdefault((student_id, day), {
            "school_id": school_id, "checked_in_at": None, "checked_out_at": None, "collected_by_name": None,
            "collected_by_relation": None, "handed_over_by": None, "extended_care_minutes": None,
            "exercise_minutes": 0})

    async def save_check_ins(self, rows: Sequence[tuple[str, date, str, datetime]]) -> None:
        for student_id, day, school_id, at in rows:
            row = self._day(student_id, day, school_id)
            row["checked_in_at"] = min(row["checked_in_at"] or at, at)

    async def save_check_outs(self, rows: Sequence[tuple]) -> None:
        for student_id, day, school_id, at, name, relation, handed_over_by, minutes in rows:
            self._day(student_id, day, school_id).update(
                checked_out_at=at, collected_by_name=name, collected_by_relation=relation,
                handed_over_by=handed_over_by, extended_care_minutes=minutes)

    async def save_staff(self, staff_id: str, name: str) -> None:
        self.t.staff[staff_id] = name

    async def add_exercise(self, rows: Sequence[tuple[str, date, str, int]]) -> None:
        for student_id, day, school_id, minutes in rows:
            self._day(student_id, day, school_id)["exercise_minutes"] += minutes

    async def save_anomaly(self, a: dict[str, Any]) -> None:
        self.t.anomalies.setdefault(a["anomaly_id"], {
            "anomaly_id": a["anomaly_id"], "check": a["check"], "severity": a["severity"], "school_id": a["school_id"],
            "district_id": a.get("district_id"), "amount_fen": a.get("amount_fen"), "detail": a["detail"],
            "evidence": copy.deepcopy(a.get("evidence") or {}), "ledger_indexes": list(a.get("ledger_indexes") or []),
            "ledger_tree_size": a.get("ledger_tree_size"), "detected_at": datetime.fromisoformat(a["detected_at"])})

    async def save_statements(self, rows: Sequence[tuple]) -> None:
        for settlement_id, event_id, guardian_id, student_id, school_id, period_start, document, settled_at in rows:
            old = self.t.statements.get(settlement_id)
            if old is not None and old["settled_at"] > settled_at:
                continue
            self.t.statements[settlement_id] = {
                "event_id": event_id, "guardian_id": (old or {}).get("guardian_id", guardian_id),
                "student_id": (old or {}).get("student_id", student_id), "school_id": (old or {}).get("school_id", school_id),
                "period_start": (old or {}).get("period_start", period_start), "document": copy.deepcopy(document),
                "settled_at": settled_at}

    async def save_messages(self, rows: Sequence[tuple], keep_days: int = 30) -> None:
        names = ("notification_id", "recipient_id", "kind", "channel", "student_id", "school_id", "sent_at")
        for row in rows:
            self.t.messages.setdefault(row[0], dict(zip(names, row, strict=True)))
        recipients, before = {r[1] for r in rows}, utc_now() - timedelta(days=keep_days)
        self._state.messages = {k: m for k, m in self.t.messages.items()
                           if m["recipient_id"] not in recipients or m["sent_at"] >= before}

    async def save_pickup_persons(self, rows: Sequence[tuple]) -> None:
        names = ("pickup_person_id", "student_id", "guardian_id", "name", "relation", "phone_masked", "valid_until")
        for row in rows:
            self.t.pickup_persons.setdefault(row[0], {**dict(zip(names, row, strict=True)), "revoked_at": None})

    async def revoke_pickup_persons(self, rows: Sequence[tuple[str, datetime]]) -> None:
        for pickup_person_id, at in rows:
            row = self.t.pickup_persons.get(pickup_person_id)
            if row is not None and row["revoked_at"] is None:
                row["revoked_at"] = at

    # -- reads: the pages --------------------------------------------------------------------------------
    async def schools(self, district_id: str | None = None) -> list[dict[str, Any]]:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for p in self.t.programmes.values():
            if district_id is None or p["district_id"] == district_id:
                groups.setdefault((p["school_id"], p["district_id"]), []).append(p)
        return [{"school_id": s, "district_id": d, "school_name": _max(p["school_name"] for p in ps),
                 "programmes": len(ps)} for (s, d), ps in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0]))]

    async def programmes_of(self, school_id: str) -> list[dict[str, Any]]:
        found = sorted(((k, p) for k, p in self.t.programmes.items() if p["school_id"] == school_id),
                       key=lambda kp: kp[0])
        found.sort(key=lambda kp: kp[1]["term"], reverse=True)
        return [copy.deepcopy(p["document"]) for _, p in found]

    async def disclosures_of(self, school_id: str) -> list[dict[str, Any]]:
        found = [d for d in self.t.disclosures.values() if d["school_id"] == school_id]
        return [copy.deepcopy(d["document"]) for d in sorted(found, key=lambda d: d["period_end"], reverse=True)]

    async def disclosure(self, disclosure_id: str) -> dict[str, Any] | None:
        found = self.t.disclosures.get(disclosure_id)
        return copy.deepcopy(found["document"]) if found else None

    async def school_name(self, school_id: str) -> str | None:
        return _max(p["school_name"] for p in self.t.programmes.values() if p["school_id"] == school_id)

    async def checkpoint(self) -> dict[str, Any] | None:
        newest = sorted(self.t.checkpoints.values(), key=lambda c: c["published_at"], reverse=True)
        return dict(newest[0]) if newest else None

    def _guardians_enrollments(self, guardian_id: str, day: date) -> list[dict[str, Any]]:
        return [e for e in self.t.enrollments.values() if e["guardian_id"] == guardian_id
                and (e["withdrawn_on"] is None or e["withdrawn_on"] > day)]

    async def children_of(self, guardian_id: str, day: date) -> list[dict[str, Any]]:
        by_student: dict[str, list[dict[str, Any]]] = {}
        for e in self._guardians_enrollments(guardian_id, day):
            by_student.setdefault(e["student_id"], []).append(e)
        out = []
        for student_id, es in sorted(by_student.items()):
            d = self.t.days.get((student_id, day), {})
            out.append({
                "student_id": student_id, "student_name": _max(e["student_name"] for e in es),
                "school_id": _max(e["school_id"] for e in es), "extended_care": any(e["extended_care"] for e in es),
                "programme_name": _max(self.t.programmes.get(e["programme_id"], {}).get("name") for e in es),
                "checked_in_at": d.get("checked_in_at"), "checked_out_at": d.get("checked_out_at"),
                "collected_by_name": d.get("collected_by_name"), "collected_by_relation": d.get("collected_by_relation"),
                "handed_over_by": self.t.staff.get(d.get("handed_over_by")),
                "extended_care_minutes": d.get("extended_care_minutes")})
        return out

    async def day_by_district(self, district_id: str | None = None) -> tuple[date | None, list[dict[str, Any]]]:
        day = _max(k[1] for k, d in self.t.days.items() if d["checked_in_at"] is not None)
        if day is None:
            return None, []
        pairs = {(p["school_id"], p["district_id"]) for p in self.t.programmes.values()}
        groups: dict[str, list[dict[str, Any]]] = {}
        for (_, on), d in self.t.days.items():
            if on != day or d["checked_in_at"] is None:
                continue
            for school_id, district in pairs:
                if school_id == d["school_id"] and (district_id is None or district == district_id):
                    groups.setdefault(district, []).append(d)
        return day, [{"district_id": district, "present": len(ds),
                      "exercise_avg": sum(d["exercise_minutes"] for d in ds) / len(ds),
                      "exercise_30": sum(d["exercise_minutes"] >= 30 for d in ds),
                      "collected": sum(d["checked_out_at"] is not None for d in ds),
                      "extended": sum((d["extended_care_minutes"] or 0) > 0 for d in ds)}
                     for district, ds in sorted(groups.items())]

    async def anomalies(self, district_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        found = [a for a in self.t.anomalies.values() if district_id is None or a["district_id"] == district_id]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: a["detected_at"], reverse=True)[:limit]]

    async def anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        found = self.t.anomalies.get(anomaly_id)
        return copy.deepcopy(found) if found else None

    def _student_name(self, student_id: str | None) -> str | None:
        return _max(e["student_name"] for e in self.t.enrollments.values() if e["student_id"] == student_id)

    async def statements_of(self, guardian_id: str, limit: int = 24) -> list[dict[str, Any]]:
        found = sorted(((k, s) for k, s in self.t.statements.items() if s["guardian_id"] == guardian_id),
                       key=lambda ks: ks[0])
        found.sort(key=lambda ks: ks[1]["period_start"], reverse=True)
        return [{"settlement_id": k, "event_id": s["event_id"], "student_id": s["student_id"],
                 "school_id": s["school_id"], "document": copy.deepcopy(s["document"]),
                 "student_name": self._student_name(s["student_id"])} for k, s in found[:limit]]

    async def statement(self, guardian_id: str, settlement_id: str) -> dict[str, Any] | None:
        s = self.t.statements.get(settlement_id)
        if s is None or s["guardian_id"] != guardian_id:
            return None
        return {"settlement_id": settlement_id, "event_id": s["event_id"], "document": copy.deepcopy(s["document"])}

    async def messages_of(self, guardian_id: str, limit: int = 50) -> list[dict[str, Any]]:
        found = sorted((m for m in self.t.messages.values() if m["recipient_id"] == guardian_id),
                       key=lambda m: m["sent_at"], reverse=True)
        return [{"notification_id": m["notification_id"], "kind": m["kind"], "channel": m["channel"],
                 "student_id": m["student_id"], "sent_at": m["sent_at"],
                 "student_name": self._student_name(m["student_id"])} for m in found[:limit]]

    async def pickup_persons_of(self, guardian_id: str, day: date) -> list[dict[str, Any]]:
        students = {e["student_id"] for e in self.t.enrollments.values()
                    if e["guardian_id"] == guardian_id and e["withdrawn_on"] is None}
        found = [p for p in self.t.pickup_persons.values()
                 if p["revoked_at"] is None and p["valid_until"] >= day and p["student_id"] in students]
        found.sort(key=lambda p: (p["student_id"], p["valid_until"], p["pickup_person_id"]))
        return [{k: p[k] for k in ("pickup_person_id", "student_id", "name", "relation", "phone_masked", "valid_until")}
                for p in found]
