"""Daily physical exercise: per-student totals and a school's compliance with the 30-minute rule (R14)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

DAILY_EXERCISE_MINUTES = 30


@dataclass(frozen=True)
class StudentExercise:
    student_id: str
    exercise_minutes: int
    compliant: bool


@dataclass(frozen=True)
class SchoolCompliance:
    school_id: str
    session_date: date
    students: int
    compliant: int

    @property
    def share(self) -> float:
        """Share of attending students who had their 30 minutes; 1.0 when nobody attended."""
        return self.compliant / self.students if self.students else 1.0


def compliance(
    school_id: str, day: date, attending: Iterable[str], exercise_minutes: Mapping[str, int]
) -> tuple[list[StudentExercise], SchoolCompliance]:
    """Every student who attended that day or has an activity record counts; a student complies with
    at least DAILY_EXERCISE_MINUTES minutes of exercise summed over the day's activities (R14)."""
    students = sorted(set(attending) | set(exercise_minutes))
    rows = [
        StudentExercise(s, exercise_minutes.get(s, 0), exercise_minutes.get(s, 0) >= DAILY_EXERCISE_MINUTES)
        for s in students
    ]
    return rows, SchoolCompliance(school_id, day, len(rows), sum(r.compliant for r in rows))
