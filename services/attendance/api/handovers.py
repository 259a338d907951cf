"""Staff shift handovers (交接班, R11, R28): who handed which children still on site to whom, and when."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.attendance.api.deps import ID, day_asked, reader_of, school_or_system_of, uow_of
from services.attendance.domain import (
    Rejection,
)
from services.attendance.handlers.handovers import HandoverConflict, HandoverRecord, handovers_on, record_handover
from shared.auth import Principal
from shared.contracts.common import UtcDatetime

router = APIRouter(prefix="/v1", tags=["attendance"])


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handover_id: ID = Field(description="The school system's id for this handover: resending it is not a second one.")
    programme_id: ID
    from_staff_id: ID = Field(description="Staff member going off shift.")
    to_staff_id: ID = Field(description="Staff member taking over; both must be admitted to run the programme (R28).")
    at: UtcDatetime = Field(description="When the children were handed over, with its UTC offset.")
    student_ids: list[ID] | None = Field(None, max_length=2000, description="The children handed over; omitted: every "
                                                                           "child still on site in the programme.")


class HandoverRefusal(BaseModel):
    student_id: str
    reason_code: str
    reason: str


class HandoverOut(BaseModel):
    handover_id: str
    school_id: str
    programme_id: str
    session_date: date
    from_staff_id: str
    to_staff_id: str
    handed_over_at: datetime
    student_ids: list[str] = Field(description="Children handed over: checked in and not yet collected.")
    refused: list[HandoverRefusal] = Field(description="Children named but not on site, each with the reason.")


def _handover_out(r: HandoverRecord) -> HandoverOut:
    return HandoverOut.model_validate(asdict(r))


@router.post("/schools/{school_id}/handovers", status_code=201, response_model=HandoverOut,
             summary="Record a staff shift handover (交接班): who handed which children still on site to whom, and "
                     "when (R11, R28); published as StaffShiftHandedOver.",
             responses={409: {"description": "The handover id was recorded before with other content."},
                         422: {"description": "A staff member not admitted to run the programme, the same staff "
                                             "member twice, or no such programme at the school."}})
async def post_handover(school_id: str, body: HandoverIn, request: Request, response: Response,
                        principal: Principal = Depends(school_or_system_of)) -> HandoverOut:
    async with uow_of(request) as uow:
        try:
            result = await record_handover(uow, school_id=school_id, handover_id=body.handover_id,
                                           programme_id=body.programme_id, from_staff_id=body.from_staff_id,
                                           to_staff_id=body.to_staff_id, at=body.at, student_ids=body.student_ids,
                                           recorded_by=principal.subject,
                                           recorded_by_role="school_system" if principal.role == "school_system"
                                           else "school_staff")
        except HandoverConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        if isinstance(result, Rejection):
            raise HTTPException(422, {"reason_code": result.code, "reason": result.reason})
        record, new = result
        await uow.commit()
    response.status_code = 201 if new else 200
    return _handover_out(record)


@router.get("/schools/{school_id}/handovers", response_model=list[HandoverOut],
            summary="A day's staff shift handovers at the school, in order (R11): who had which children when.")
async def get_handovers(school_id: str, request: Request, day: date | None = None,
                        principal: Principal = Depends(reader_of)) -> list[HandoverOut]:
    async with uow_of(request) as uow:
        found = await handovers_on(uow, school_id, day_asked(request, day))
    return [_handover_out(r) for r in found]
