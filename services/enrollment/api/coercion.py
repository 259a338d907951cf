"""HTTP routes of coercion reports (R1): a guardian reports pressure to enroll, anonymously; the district, the
city and auditors read a school's reports."""
from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from services.enrollment.api.deps import ERRORS, actor, uow
from services.enrollment.domain import Actor
from services.enrollment.domain.values import Id, LongText
from services.enrollment.handlers import coercion as h
from shared.messaging.http import RequestBody

router = APIRouter(prefix="/v1", tags=["coercion reports"], responses=ERRORS)


class CoercionReportIn(RequestBody):
    report_key: Id = Field(description="The guardian's own key for this report: resending it is not a second report.")
    school_id: Id
    programme_id: Id | None = None
    what_happened: LongText = Field(description="What happened, in the guardian's words; phone and ID numbers are "
                                                "masked before anyone reads it.")
    happened_on: date


class CoercionReportOut(BaseModel):
    report_id: str = Field(description="Receipt of the report; it names nobody.")
    school_id: str
    programme_id: str | None
    what_happened: str
    happened_on: date
    reported_at: datetime


@router.post("/coercion-reports", status_code=201, response_model=CoercionReportOut,
             summary="A guardian reports pressure to enroll (R1), anonymously: the report names nobody, and the "
                     "school never reads it; audit raises coerced_applications.")
async def report(body: CoercionReportIn, request: Request, response: Response,
                 who: Actor = Depends(actor)) -> CoercionReportOut:
    async with uow(request) as u:
        event, new = await h.report_coercion(u, who, report_key=body.report_key, school_id=body.school_id,
                                             programme_id=body.programme_id, what_happened=body.what_happened,
                                             happened_on=body.happened_on)
    response.status_code = 201 if new else 200
    return CoercionReportOut(**event.model_dump(include=set(CoercionReportOut.model_fields)))


@router.get("/schools/{school_id}/coercion-reports", response_model=list[CoercionReportOut],
            summary="A school's coercion reports, for its district, the city and auditors (R1, R27).")
async def reports(school_id: Id, request: Request, who: Actor = Depends(actor)) -> list[CoercionReportOut]:
    async with uow(request) as u:
        found = await h.coercion_reports(u, who, school_id)
    return [CoercionReportOut(**e.model_dump(include=set(CoercionReportOut.model_fields))) for e in found]
