"""An in-memory stand-in for NotificationUoW's consumer side: the repository methods the handlers of
consumed events (handlers/events.py) call, and the contacts, preferences and recent messages the routes
write and read, with the same transaction semantics (a unit of work works on its own copy, and only
commit makes it the next one's). test_uow_contract.py runs one set of cases on this and on PostgreSQL and
expects the same answers. The sender's claims and the broadcasts' fan-out are not here: they rely on
PostgreSQL's row locks and are tested on it."""
from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import SimpleNamespace

from services.notification.db import Contact, ContactRow, Found, Intent, Known, NewContact, PreferenceRow, Waiting
from services.notification.db.tables import MESSAGE_COLUMNS
from services.notification.domain.policy import StaffMember
from shared.contracts.envelope import Event
from tests.unit.snapshot_uow import SnapshotStore, SnapshotUoW

_RELEASED = ("status", "plan", "channel", "locale", "not_before", "next_attempt_at", "to_masked", "body")


@dataclass
class State:
    """The fake database: rows keyed as the tables' primary keys."""

    contacts: dict[str, dict] = field(default_factory=dict)
    links: set[tuple[str, str]] = field(default_factory=set)  # student_guardians (student, guardian)
    students: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name, school
    staff: dict[str, dict] = field(default_factory=dict)
    programmes: dict[str, tuple[str, str]] = field(default_factory=dict)  # school, name
    schools: dict[str, str] = field(default_factory=dict)  # school_names
    preferences: dict[str, PreferenceRow] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)  # in insertion order; "id" as the sequence gives it
    events: list[Event] = field(default_factory=list)  # the outbox


class FakeNotificationUoW(SnapshotUoW):
    _state: State

    def publish(self, event: Event, *, correlation_id: str | None = None, causation_id=None, event_id=None) -> None:
        self._state.events.append(event)

    # -- contacts ---------------------------------------------------------------------------------
    async def upsert_contact(self, row: ContactRow, student_ids: list[str] | None = None) -> None:
        self._state.contacts[row.recipient_id] = row.model_dump(exclude={"recipient_id"})
        if student_ids is not None:
            self._state.links = {(s, g) for s, g in self._state.links if g != row.recipient_id}
            await self.add_links([(s, row.recipient_id) for s in student_ids])

    async def write_contacts(self, contacts: list[NewContact]) -> None:
        for c in contacts:
            district = self._state.contacts.get(c.recipient_id, {}).get("district_id")  # a contact keeps its district
            self._state.contacts[c.recipient_id] = dict(
                role=c.role, locale=c.locale, name=c.name, school_id=c.school_id, district_id=district,
                phone_sealed=c.phone_sealed, phone_masked=c.phone_masked, push_token_sealed=c.push_token_sealed,
                consent=c.consent)
        replaced = {c.recipient_id for c in contacts}
        self._state.links = {(s, g) for s, g in self._state.links if g not in replaced}
        await self.add_links([(s, c.recipient_id) for c in contacts for s in c.student_ids])

    async def add_links(self, pairs: list[tuple[str, str]]) -> None:
        self._state.links.update(pairs)

    def _found(self, ids) -> Found:
        return [(self._contact(rid), self._preference(rid)) for rid in sorted(ids) if rid in self._state.contacts]

    def _contact(self, recipient_id: str) -> Contact:
        c = self._state.contacts[recipient_id]
        return Contact(recipient_id, c["role"], c["locale"], c["phone_masked"], c["consent"], c["phone_sealed"] is not None,
                       c["push_token_sealed"] is not None)

    def _preference(self, recipient_id: str) -> PreferenceRow | None:
        row = self._state.preferences.get(recipient_id)
        return None if row is None else PreferenceRow.model_construct(
            recipient_id=recipient_id, channels=row.channels, quiet_start=row.quiet_start, quiet_end=row.quiet_end,
            locale=row.locale)

    async def these(self, ids: list[str]) -> Found:
        return self._found(ids)

    async def guardians_at(self, school_id: str) -> Found:
        return self._found(r for r, c in self._state.contacts.items() if c["role"] == "guardian" and c["school_id"] == school_id)

    async def auditors_for(self, district_id: str | None) -> Found:
        return self._found(r for r, c in self._state.contacts.items() if c["role"] == "auditor"
                           and (c["district_id"] is None or c["district_id"] == (district_id or "")))

    async def guardians_of_many(self, student_ids: list[str]) -> dict[str, tuple[Found, str | None]]:
        out: dict[str, tuple[Found, str | None]] = {}
        for student_id in sorted(set(student_ids)):
            found = self._found(g for s, g in self._state.links if s == student_id)
            if found:
                out[student_id] = (found, self._state.students.get(student_id, (None, None))[0])
        return out

    # -- staff, programmes, schools and students --------------------------------------------------
    async def write_staff(self, staff: list[tuple[str, str, str, list[str], list[str], list[str]]]) -> None:
        for staff_id, school_id, name, roles, class_ids, programme_ids in staff:
            row = self._state.staff.setdefault(staff_id, {"admission": None, "admission_at": None})
            row.update(school_id=school_id, name=name, roles=list(roles), class_ids=list(class_ids),
                       programme_ids=list(programme_ids))

    async def decide_staff(self, decisions: list[tuple[str, str, str, datetime]]) -> None:
        for staff_id, school_id, admission, at in decisions:
            row = self._state.staff.get(staff_id)
            if row is None:
                self._state.staff[staff_id] = dict(school_id=school_id, name=None, roles=None, class_ids=None,
                                                   programme_ids=None, admission=admission, admission_at=at)
            elif row["admission_at"] is None or row["admission_at"] <= at:
                row.update(admission=admission, admission_at=at)

    async def reachable_staff(self, school_ids: list[str], named: list[str]) -> list[tuple[StaffMember, Contact,
                                                                                          PreferenceRow | None]]:
        out = []
        for staff_id, st in sorted(self._state.staff.items()):
            contact = self._state.contacts.get(staff_id)
            if contact is None or contact["role"] != "staff" or (st["admission"] or "admitted") != "admitted":
                continue
            if st["school_id"] in school_ids or staff_id in named:
                out.append((StaffMember(staff_id, st["school_id"], tuple(st["roles"]), tuple(st["programme_ids"])),
                            self._contact(staff_id), self._preference(staff_id)))
        return out

    async def remember_programmes(self, programmes: dict[str, tuple[str, str]]) -> None:
        self._state.programmes.update(programmes)

    async def remember_schools(self, schools: dict[str, str]) -> None:
        self._state.schools.update(schools)

    async def known(self, staff_ids: list[str], programme_ids: list[str], school_ids: list[str] = ()) -> Known:
        known = Known()
        known.staff.update({s: self._state.staff[s]["name"] for s in staff_ids
                            if s in self._state.staff and self._state.staff[s]["name"] is not None})
        known.programmes.update({p: self._state.programmes[p][1] for p in programme_ids if p in self._state.programmes})
        known.schools.update({s: self._state.schools[s] for s in school_ids if s in self._state.schools})
        return known

    async def student_names(self, student_ids: list[str]) -> dict[str, str]:
        return {s: self._state.students[s][0] for s in student_ids if s in self._state.students}

    async def remember_students(self, students: dict[str, tuple[str, str | None]]) -> None:
        for student_id, (name, school_id) in students.items():
            known = self._state.students.get(student_id, (None, None))[1]
            self._state.students[student_id] = (name, school_id if school_id is not None else known)

    async def preferences(self, recipient_id: str) -> PreferenceRow | None:
        return self._preference(recipient_id)

    async def save_preferences(self, row: PreferenceRow) -> None:
        self._state.preferences[row.recipient_id] = row.model_copy()

    # -- messages ---------------------------------------------------------------------------------
    async def add_messages(self, rows: list[Intent]) -> set[tuple[uuid.UUID, str]]:
        taken = {(m["event_id"], m["recipient_id"]) for m in self._state.messages}
        new: set[tuple[uuid.UUID, str]] = set()
        for row in rows:
            key = (row.event_id, row.recipient_id)
            if key in taken:
                continue
            taken.add(key)
            new.add(key)
            self._state.messages.append({"id": len(self._state.messages) + 1,
                                         **{c: copy.deepcopy(getattr(row, c)) for c in MESSAGE_COLUMNS}})
        return new

    async def awaiting(self, recipient_ids: list[str]) -> list[Waiting]:
        fields = set(Intent.__dataclass_fields__) - set(_RELEASED)
        return [Waiting(m["id"], Intent(**{f: copy.deepcopy(m[f]) for f in fields}), self._preference(m["recipient_id"]))
                for m in self._state.messages if m["recipient_id"] in recipient_ids and m["status"] == "awaiting_contact"]

    async def release(self, waiting: list[Waiting]) -> None:
        by_id = {m["id"]: m for m in self._state.messages}
        for w in waiting:
            by_id[w.id].update({c: copy.deepcopy(asdict(w.msg)[c]) for c in _RELEASED})

    async def recent_messages(self, limit: int, recipient_id: str | None = None, status: str | None = None,
                              kind: str | None = None, recipient_prefix: str | None = None) -> list[SimpleNamespace]:
        found = [m for m in reversed(self._state.messages)
                 if (recipient_id is None or m["recipient_id"] == recipient_id)
                 and (recipient_prefix is None or m["recipient_id"].startswith(recipient_prefix))
                 and (status is None or m["status"] == status) and (kind is None or m["kind"] == kind)]
        return [SimpleNamespace(**m) for m in found[:limit]]


class FakeNotificationStore(SnapshotStore):
    def __init__(self) -> None:
        super().__init__(State())

    def uow(self) -> FakeNotificationUoW:
        return FakeNotificationUoW(self)
