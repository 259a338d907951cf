"""Reference-data use cases (R27, R28): bulk import of a district's records, idempotent and reported
row by row, and the admission or removal of staff and outside providers."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice

from pydantic import TypeAdapter

from services.enrollment.db import EnrollmentUoW, StaffRow, bulk
from services.enrollment.domain import Actor, DomainError, NotFound, Problem, require_role
from services.enrollment.domain.reference import ID_FIELD, KINDS, GuardianRecord, Record, Unreadable, parse_records
from services.enrollment.handlers.common import Clock, school_in_scope, utcnow, with_position
from shared.contracts.enrollment import GuardianRegistered, StaffAdmissionChanged, StaffRegistered
from shared.privacy import Sealer, mask_phone

_REGISTERED = TypeAdapter(list[GuardianRegistered])

# Who may import what (R27): the city sets up districts; districts their schools; schools their own people.
IMPORTERS: dict[str, tuple[str, ...]] = {
    "districts": ("city",),
    "schools": ("city", "district"),
    "staff": ("city", "district", "school"),
    "classes": ("city", "district", "school"),
    "students": ("city", "district", "school"),
    "guardians": ("city", "district", "school"),
}


@dataclass(frozen=True)
class RowError:
    line: int
    record_id: str | None
    reasons: list[str]


@dataclass
class ImportReport:
    kind: str
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    events: int = 0
    seconds: float = 0.0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


Progress = Callable[[ImportReport], None]


def digest_key(sealing_key: str) -> bytes:
    """The key of row digests: derived from the contact sealing key, so the digest of a guardian's row
    (which covers the phone number) cannot be recomputed by anyone without that key."""
    return hashlib.sha256(b"beilei enrollment row digest\x00" + sealing_key.encode()).digest()


def row_digest(key: bytes, record: Record) -> str:
    """Keyed digest of everything the record says (the plain phone included), one C call per row."""
    values = tuple(getattr(record, name) for name in type(record).model_fields)
    return hashlib.blake2b(repr(values).encode(), key=key, digest_size=20).hexdigest()


def _staged(kind: str, record: Record, actor: Actor) -> tuple:
    """The record's columns in the order of the staging table."""
    if isinstance(record, GuardianRecord):
        return (record.guardian_id, record.school_id, record.name, record.student_ids, record.locale,
                mask_phone(record.phone), record.consent, actor.subject)
    return tuple(getattr(record, name) for name in bulk.SPECS[kind].names)


def _chunks(rows: Iterable[tuple[int, object]], size: int) -> Iterator[list[tuple[int, dict]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


async def import_records(uow_factory: Callable[[], EnrollmentUoW], actor: Actor, kind: str,
                         rows: Iterable[tuple[int, object]], *, sealer: Sealer, key: bytes, chunk_rows: int = 10_000,
                         progress: Progress | None = None, correlation_id: str | None = None,
                         clock: Clock = utcnow) -> ImportReport:
    """Import (line, raw record) pairs of one kind. Each chunk is one transaction: a crash loses at most
    the chunk in flight, and running the import again finishes the job, because rows already written
    compare equal and are skipped. New and changed guardians are announced (GuardianRegistered, R22)."""
    if kind not in KINDS:
        raise NotFound(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    require_role(actor, *IMPORTERS[kind], doing=f"import {kind}")
    if actor.role != "city" and not (actor.district_id if actor.role == "district" else actor.school_id):
        raise DomainError(f"a {actor.role} token must name its {actor.role} to import (R27)")
    actor = await _positioned(uow_factory, actor)
    scope = actor.district_id if actor.role == "district" else actor.school_id
    report = ImportReport(kind)
    started = time.perf_counter()
    first_line: dict[str, int] = {}
    id_field = ID_FIELD[kind]
    for chunk in _chunks(rows, chunk_rows):
        report.received += len(chunk)
        objects: list[tuple[int, dict]] = []
        for line, raw in chunk:
            if isinstance(raw, dict):
                objects.append((line, raw))
            else:
                reason = str(raw) if isinstance(raw, Unreadable) else "a record must be an object with named fields"
                report.errors.append(RowError(line, None, [reason]))
        staged: list[tuple] = []
        records: dict[str, tuple[int, Record]] = {}
        for (line, raw), (record, reasons) in zip(objects, parse_records(kind, [raw for _, raw in objects])):
            record_id = getattr(record, id_field) if record else _text(raw.get(id_field))
            if record is not None and record_id in first_line:
                reasons = [f"{id_field}: {record_id} appears again (first on line {first_line[record_id]})"]
                record = None
            if record is not None and kind == "staff" and (reasons := import_admission_refusal(actor, record)):
                record = None
            if record is None:
                report.errors.append(RowError(line, record_id, reasons))
                continue
            first_line[record_id] = line
            records[record_id] = (line, record)
            staged.append((line, *_staged(kind, record, actor), row_digest(key, record)))
        if staged:
            await _write_chunk(uow_factory, actor, kind, scope, staged, records, report, sealer, correlation_id,
                               clock=clock)
        report.rejected = len(report.errors)
        report.unchanged = report.received - report.rejected - report.inserted - report.updated
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)
    report.seconds = time.perf_counter() - started
    report.errors.sort(key=lambda e: e.line)
    return report


async def _positioned(uow_factory: Callable[[], EnrollmentUoW], actor: Actor) -> Actor:
    async with uow_factory() as uow:
        return await with_position(uow, actor)


def _text(value: object) -> str | None:
    return value.strip()[:64] if isinstance(value, str) and value.strip() else None


async def _write_chunk(uow_factory: Callable[[], EnrollmentUoW], actor: Actor, kind: str, scope: str | None,
                       staged: list[tuple], records: dict[str, tuple[int, Record]], report: ImportReport,
                       sealer: Sealer, correlation_id: str | None, *, clock: Clock = utcnow) -> None:
    async with uow_factory() as uow:
        await bulk.stage(uow, kind, staged)
        refused = await bulk.refused_lines(uow, kind, actor.role, scope)
        if refused:
            id_of_line = {ln: rid for rid, (ln, _) in records.items()}
            report.errors.extend(RowError(line, id_of_line.get(line), reasons) for line, reasons in sorted(refused.items()))
        sealed = None
        if kind == "guardians":
            # Sealing is randomised and costs a little: do it only for rows that are new or changed.
            changed = await bulk.changed_keys(uow, kind)
            sealed = [(gid, sealer.seal(rec.phone), sealer.seal(rec.push_token) if rec.push_token else None)
                      for gid in changed for rec in (records[gid][1],)]
        written, inserted = await bulk.upsert(uow, kind, sealed)
        report.inserted += inserted
        report.updated += len(written) - inserted
        if kind == "guardians" and written:
            by_id = {gid: (phone, push) for gid, phone, push in sealed}
            now = clock()
            payloads = []
            for gid in written:
                rec = records[gid][1]
                phone_sealed, push_sealed = by_id[gid]
                payloads.append({
                    "guardian_id": gid, "school_id": rec.school_id, "student_ids": rec.student_ids, "name": rec.name,
                    "locale": rec.locale, "phone_masked": mask_phone(rec.phone), "phone_sealed": phone_sealed,
                    "push_token_sealed": push_sealed, "consent": rec.consent, "registered_by": actor.subject,
                    "registered_by_role": actor.event_role, "registered_at": now})
            # New and changed guardians are announced so notification can reach them (R22).
            for event in _REGISTERED.validate_python(payloads):
                uow.publish(event, correlation_id=correlation_id)
            report.events += len(written)
        await uow.commit()


async def set_admission(uow: EnrollmentUoW, actor: Actor, staff_id: str, *, admission: str,
                        checked_on: date | None, reason: str | None = None, clock: Clock = utcnow) -> StaffRow:
    """R28 准入和退出: districts and the city admit staff and outside providers after the check; a school
    may remove its own (exit), but never admit them itself."""
    roles = ("district", "city") if admission == "admitted" else ("school", "district", "city")
    require_role(actor, *roles, doing=f"set admission to {admission} (R28)")
    row = await uow.staff(staff_id, lock=True)
    if row is None:
        raise NotFound(f"staff {staff_id} does not exist")
    await school_in_scope(uow, actor, row.school_id, doing="change staff admission")
    if checked_on is not None and checked_on > clock().date():
        raise DomainError(problems=[Problem(("body", "checked_on"), "an admission check cannot be in the future", "R28")])
    if row.admission == admission and (checked_on is None or row.admission_checked_on == checked_on):
        return row
    row.admission, row.admission_changed_by = admission, actor.subject
    row.admission_checked_on = checked_on or row.admission_checked_on
    row.updated_at = clock()
    uow.add(row)
    # Attendance refuses a staff member who is not admitted from their next record on (R28, issue 16).
    uow.publish(StaffAdmissionChanged(
        staff_id=row.staff_id, school_id=row.school_id, admission=_EVENT_ADMISSION[admission],
        decided_by=actor.subject, decided_by_role=actor.event_role, reason=reason, effective_at=row.updated_at))
    await uow.commit()
    return row


# "pending" (not yet checked, or sent back for a new check) is not admitted: attendance hears "suspended".
_EVENT_ADMISSION = {"admitted": "admitted", "pending": "suspended", "suspended": "suspended", "removed": "removed"}


def import_admission_refusal(actor: Actor, record: Record) -> list[str]:
    """A school's staff import may propose staff (pending) or record an exit, never admit: admission is
    the district's decision after its check (R28, issue 16)."""
    if actor.role == "school" and getattr(record, "admission", None) == "admitted":
        return ["admission: a school may not admit its own staff; import them as pending and ask the district (R28)"]
    return []


async def register_staff_contact(uow: EnrollmentUoW, actor: Actor, staff_id: str, *, roles: list[str],
                                 class_ids: list[str], programme_ids: list[str], phone: str, push_token: str | None,
                                 locale: str, sealer: Sealer, clock: Clock = utcnow) -> StaffRegistered:
    """A school records how to reach its staff and what they answer for (class teacher, programme lead,
    safety contact), so notification can reach them (R11, R12, issue 16); sealed like a guardian's (R22)."""
    require_role(actor, "school", "district", "city", doing="register staff contacts")
    row = await uow.staff(staff_id)
    if row is None:
        raise NotFound(f"staff {staff_id} does not exist")
    await school_in_scope(uow, actor, row.school_id, doing="register staff contacts")
    event = StaffRegistered(
        staff_id=staff_id, school_id=row.school_id, name=row.name, roles=sorted(set(roles)), class_ids=class_ids,
        programme_ids=programme_ids, phone_masked=mask_phone(phone), phone_sealed=sealer.seal(phone),
        push_token_sealed=sealer.seal(push_token) if push_token else None, locale=locale,
        registered_by=actor.subject, registered_by_role=actor.event_role, registered_at=clock())
    uow.publish(event)
    await uow.commit()
    return event
