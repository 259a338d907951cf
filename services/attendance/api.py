"""Attendance's HTTP routes: rosters (the ingest endpoint for school systems comes with R15)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["attendance"])


class RosterEntryPublic(BaseModel):
    student_id: str
    programme_id: str
    student_name: str
    extended_care: bool


@router.get("/schools/{school_id}/roster", response_model=list[RosterEntryPublic],
            summary="Students filed and not withdrawn at a school.")
async def roster(school_id: str, request: Request) -> list[RosterEntryPublic]:
    async with request.app.state.runtime.uow_factory() as uow:
        rows = await uow.roster(school_id)
    return [RosterEntryPublic(**r.model_dump()) for r in rows]
