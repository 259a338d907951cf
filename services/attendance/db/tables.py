"""What attendance's rows are and how they read (the tables themselves are made by the migrations):
the row types, the column lists the statements select, and their mapping to the domain's values."""
from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.attendance.domain import DayState, Enrollment, Schedule, Slot, parse_hhmm

DayKey = tuple[str, str, date]  # (student_id, programme_id, session_date)


@dataclass(frozen=True)
class Filing:
    """What the roster keeps of an EnrollmentFiled event."""

    student_id: str
    programme_id: str
    school_id: str
    district_id: str
    student_name: str
    guardian_id: str
    authorised_pickup_ids: tuple[str, ...]
    class_teacher_id: str | None
    extended_care: bool
    filed_at: datetime


def as_columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows to per-column lists, the shape `unnest` takes."""
    return [list(col) for col in zip(*rows)] if rows else [[] for _ in range(width)]


def schedule_of(row: Any) -> Schedule:
    return timetable_of(row.programme_id, row.school_id, row.district_id, row.sessions, row.extended_care_until_local,
                      row.staff_ids, row.responsible_id, row.activities)


def timetable_of(programme_id: str, school_id: str, district_id: str, sessions: list[dict], extended_care_until: str | None,
               staff_ids: list[str], responsible_id: str, activities: dict[str, str] | str | None) -> Schedule:
    slots = tuple(Slot(frozenset(s["weekdays"]), parse_hhmm(s["starts_at_local"]), parse_hhmm(s["ends_at_local"])) for s in sessions)
    ext = parse_hhmm(extended_care_until) if extended_care_until else None
    offered = None if activities is None else tuple(sorted(json_value(activities).items()))
    return Schedule(programme_id, school_id, district_id, slots, ext, frozenset(staff_ids), responsible_id, offered)


def json_value(value: Any) -> Any:
    """A jsonb column's value, whether the driver decoded it or handed over its text."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Seen:
    """A record that already took effect, as it was first judged (R15), and what it claimed then (None if
    it was received before claims were kept)."""

    status: str
    reason_code: str | None
    event_id: uuid.UUID
    content: dict | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Judging:
    """What `AttendanceUoW.judging` reads for a group of records."""

    seen: dict[tuple[str, str], Seen]
    enrollments: list[Enrollment]
    guardian_names: dict[str, str]
    schedules: dict[str, Schedule]
    days: dict[DayKey, DayState]


def enrollment_of(row: Any, guardian_ids: Iterable[str] = (), valid: Iterable[str] = (),
               revoked: Iterable[str] = ()) -> Enrollment:
    """A roster row read with `ROSTER_COLUMNS`, with the student's other guardians, and the pickup persons
    the guardians named that are valid on the record's day and those revoked (R11)."""
    revoked = frozenset(revoked)
    return Enrollment(
        student_id=row.student_id, programme_id=row.programme_id, school_id=row.school_id, student_name=row.student_name,
        guardian_ids=frozenset((row.guardian_id, *guardian_ids)),
        authorised_pickup_ids=frozenset(row.roster_pickups).difference(revoked).union(valid),
        revoked_pickup_ids=frozenset(row.roster_revoked).union(revoked), class_teacher_id=row.class_teacher_id,
        active=row.active, withdrawn_from=row.withdrawn_from, filed_at=row.filed_at,
    )


# A roster row as `enrollment_of` takes it, and (joined with `GUARDIANS`) the student's guardians as two
# arrays in the same order: text arrays, which the driver decodes natively, where a jsonb value would cost
# a json.loads per row.
ROSTER_COLUMNS = (
    "r.student_id, r.programme_id, r.school_id, r.student_name, r.guardian_id, r.class_teacher_id, r.active,"
    " r.withdrawn_from, r.filed_at,"
    " array(select jsonb_array_elements_text(r.authorised_pickup_ids)) as roster_pickups,"
    " array(select jsonb_array_elements_text(r.revoked_pickup_ids)) as roster_revoked"
)
GUARDIAN_COLUMNS = "g.guardian_ids, g.guardian_names"
GUARDIANS = (
    " left join lateral (select array_agg(s.guardian_id order by s.guardian_id) as guardian_ids,"
    "   array_agg(s.guardian_name order by s.guardian_id) as guardian_names"
    "   from guardianships s where s.student_id = r.student_id) g on true"
)


# A programme's staff the district has not suspended or removed, whatever the programme lists (R28).
ADMITTED_STAFF = (
    "(select coalesce(jsonb_agg(x), '[]'::jsonb) from jsonb_array_elements_text(p.staff_ids) x where not exists"
    " (select 1 from staff_admissions a where a.staff_id = x and a.admission <> 'admitted'))"
)


def names_of_guardians(row: Any) -> dict[str, str]:
    """The names of a row's guardians by id, read with `GUARDIAN_COLUMNS`."""
    return dict(zip(row.guardian_ids or (), row.guardian_names or ()))


HANDOVER_COLUMNS = ("school_id, handover_id, programme_id, session_date, from_staff_id, to_staff_id, handed_over_at,"
                     " student_ids, refused::text as refused, request_hash")
DAY_COLUMNS = "checked_in_at, checked_in_by, checked_out_at, excused, absent_at, extended_care_started_at, escalated_at"


def day_state(row: Any) -> DayState:
    return DayState(row.checked_in_at, row.checked_in_by, row.checked_out_at, row.excused, row.absent_at,
                    row.extended_care_started_at, row.escalated_at)


NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@functools.lru_cache(maxsize=256)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters to asyncpg's `$n`, once per statement text."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return NAMED.sub(number, sql), tuple(names)


class Row:
    """An asyncpg record read by attribute, like the SQLAlchemy rows the rest of this module takes."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int | str) -> Any:
        return self._record[index]


TIMER_COLUMNS = {"extended_care": "extended_care_started_at", "escalation": "escalated_at"}
