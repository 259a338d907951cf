"""The queries of a school's day: the roster, who is on site, the day's attendance and exercise compliance (R11-R14)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.attendance.api.deps import day_asked, reader_of, uow_of
from services.attendance.domain import (
    DAILY_EXERCISE_MINUTES,
    DayState,
    compliance,
)
from shared.auth import Principal

router = APIRouter(prefix="/v1", tags=["attendance"])


class RosterEntryPublic(BaseModel):
    student_id: str
    programme_id: str
    student_name: str
    extended_care: bool


@router.get("/schools/{school_id}/roster", response_model=list[RosterEntryPublic],
            summary="Students filed and not withdrawn at a school.")
async def roster(school_id: str, request: Request, principal: Principal = Depends(reader_of)) -> list[RosterEntryPublic]:
    async with uow_of(request) as uow:
        rows = await uow.roster(school_id)
    return [RosterEntryPublic(student_id=r.student_id, programme_id=r.programme_id, student_name=r.student_name,
                              extended_care=r.extended_care) for r in rows]


class StudentDayPublic(BaseModel):
    student_id: str
    programme_id: str
    student_name: str
    status: Literal["collected", "on_site", "excused", "absent", "expected"]
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None
    checked_out_at: datetime | None = None
    handed_over_by: str | None = None
    collected_by_id: str | None = None
    collected_by_name: str | None = None
    collected_by_relation: str | None = None
    extended_care_minutes: int = 0
    in_extended_care: bool = False
    escalated: bool = False
    excuse_reason: str | None = None
    absence_raised_at: datetime | None = None


class DayPublic(BaseModel):
    school_id: str
    session_date: date
    counts: dict[str, int] = Field(description="Students per status.")
    students: list[StudentDayPublic]


async def _day_view(request: Request, school_id: str, day: date) -> list[StudentDayPublic]:
    async with uow_of(request) as uow:
        rows = await uow.day_rows(school_id, day)
        schedules = await uow.schedules({r.programme_id for r in rows})
    students = []
    for r in rows:
        schedule = schedules.get(r.programme_id)
        if schedule is None or schedule.window(day) is None:
            continue  # no session that day: the student is not expected
        state = DayState(r.checked_in_at, r.checked_in_by, r.checked_out_at, r.excused, r.absent_at,
                         r.extended_care_started_at, r.escalated_at)
        students.append(StudentDayPublic(
            student_id=r.student_id, programme_id=r.programme_id, student_name=r.student_name, status=state.status,
            checked_in_at=r.checked_in_at, checked_in_by=r.checked_in_by, checked_out_at=r.checked_out_at,
            handed_over_by=r.handed_over_by, collected_by_id=r.collected_by_id, collected_by_name=r.collected_by_name,
            collected_by_relation=r.collected_by_relation, extended_care_minutes=r.extended_care_minutes,
            in_extended_care=state.on_site and r.extended_care_started_at is not None,
            escalated=state.on_site and r.escalated_at is not None, excuse_reason=r.excuse_reason,
            absence_raised_at=r.absent_at,
        ))
    return students


@router.get("/schools/{school_id}/attendance", response_model=DayPublic,
            summary="The day's attendance of a school: every expected student and where they stand (R11-R13).")
async def attendance(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                     principal: Principal = Depends(reader_of)) -> DayPublic:
    day = day_asked(request, on)
    students = await _day_view(request, school_id, day)
    counts = {s: 0 for s in ("collected", "on_site", "excused", "absent", "expected")}
    for s in students:
        counts[s.status] += 1
    return DayPublic(school_id=school_id, session_date=day, counts=counts, students=students)


@router.get("/schools/{school_id}/on-site", response_model=list[StudentDayPublic],
            summary="Who is on site now (checked in, not yet handed over), including extended care (R11, R13).")
async def on_site(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                  principal: Principal = Depends(reader_of)) -> list[StudentDayPublic]:
    return [s for s in await _day_view(request, school_id, day_asked(request, on)) if s.status == "on_site"]


class StudentExercisePublic(BaseModel):
    student_id: str
    exercise_minutes: int
    compliant: bool


class ExercisePublic(BaseModel):
    school_id: str
    session_date: date
    required_minutes: int = DAILY_EXERCISE_MINUTES
    students: int = Field(description="Students who attended or have an activity record that day.")
    compliant: int = Field(description="Of those, students with at least the required minutes of exercise.")
    share: float
    per_student: list[StudentExercisePublic]


@router.get("/schools/{school_id}/exercise", response_model=ExercisePublic,
            summary="A day's physical exercise per student and the school's compliance with the 30-minute rule (R14).")
async def exercise(school_id: str, request: Request, on: date | None = Query(None, alias="date"),
                   principal: Principal = Depends(reader_of)) -> ExercisePublic:
    day = day_asked(request, on)
    async with uow_of(request) as uow:
        minutes = await uow.exercise_minutes(school_id, day)
        attending = await uow.attending(school_id, day)
    rows, school = compliance(school_id, day, attending, minutes)
    return ExercisePublic(school_id=school_id, session_date=day, students=school.students, compliant=school.compliant,
                          share=round(school.share, 4),
                          per_student=[StudentExercisePublic(student_id=r.student_id, exercise_minutes=r.exercise_minutes,
                                                             compliant=r.compliant) for r in rows])
