"""Excusals: a guardian's or the school's word that a child will not come (R12)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from services.attendance import handlers as h
from services.attendance.api.deps import ID, school_or_system_of, uow_of
from services.attendance.domain import (
    Rejection,
)
from shared.auth import Principal

router = APIRouter(prefix="/v1", tags=["attendance"])


class ExcusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: ID
    session_date: date
    programme_id: ID | None = None
    reason: str = Field(min_length=1, max_length=200, examples=["病假"])


class ExcusalOut(BaseModel):
    student_id: str
    programme_id: str
    session_date: date
    excused: bool = True


@router.post("/schools/{school_id}/excusals", status_code=201, response_model=ExcusalOut,
             summary="Excuse a student from a day's session: no absence alert is raised (R12).",
             responses={422: {"description": "Not on the roster, or no session that day."}})
async def post_excusal(school_id: str, body: ExcusalIn, request: Request,
                       principal: Principal = Depends(school_or_system_of)) -> ExcusalOut:
    async with uow_of(request) as uow:
        result = await h.excuse_student(uow, school_id=school_id, student_id=body.student_id, day=body.session_date,
                                        programme_id=body.programme_id, reason=body.reason)
        if isinstance(result, Rejection):
            raise HTTPException(422, {"reason_code": result.code, "reason": result.reason})
        await uow.commit()
    return ExcusalOut(student_id=result.student_id, programme_id=result.programme_id, session_date=result.session_date)
