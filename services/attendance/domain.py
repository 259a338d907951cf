"""Attendance's pure rules (no I/O): who is on a school's roster (R11)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RosterEntry:
    school_id: str
    programme_id: str
    student_id: str
    active: bool


def may_attend(entry: RosterEntry | None, school_id: str) -> bool:
    """Only filed, not withdrawn students of that school are on its roster (R6, R11)."""
    return entry is not None and entry.active and entry.school_id == school_id
