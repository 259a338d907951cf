"""HTTP routes of programmes (R4, R7, R8, R10, R30): propose, fee agreement and review, publish, the
public disclosure, and the waitlist."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from services.enrollment import handlers as h
from services.enrollment.api.deps import ERRORS, Message, actor, correlation, uow
from services.enrollment.db import ProgrammeRow
from services.enrollment.domain import Actor, NotFound, ProgrammeSpec, require_school_scope
from services.enrollment.domain.values import Id, LongText, Text
from shared.contracts.enrollment import ProgrammePublished
from shared.messaging.http import RequestBody

router = APIRouter(prefix="/v1", tags=["programmes"], responses=ERRORS)
public_router = APIRouter(prefix="/v1", tags=["disclosure"], responses={404: {"model": Message, "description": "Not published."}})


class ProgrammePublic(BaseModel):
    """A programme as the school, its district and the city see it, drafts included."""

    model_config = ConfigDict(from_attributes=True)

    programme_id: str
    school_id: str
    district_id: str
    term: str
    status: Literal["draft", "published"]
    spec: ProgrammeSpec
    capacity: int
    off_work_local: str = Field(description="The local off-work time the sessions were checked against (R8).")
    agreed_fees: list[int] | None = Field(description="Fees the parents' committee agreed, in fen (R10).")
    agreed_on: date | None
    agreement_ref: str | None
    review_decision: str | None
    reviewed_fees: list[int] | None = Field(description="Fees the district reviewed and approved, in fen (R10).")
    reviewed_by: str | None
    reviewed_at: datetime | None
    applications_open_at: datetime | None
    applications_close_at: datetime | None
    published_by: str | None
    published_at: datetime | None


class FeeAgreementIn(RequestBody):
    agreed_on: date = Field(description="Day the parents' committee (家长委员会) agreed the fees (R10).")
    reference: Text = Field(description="Minutes or decision number.", examples=["家委会纪要 2026-03"])


class FeeReviewIn(RequestBody):
    decision: Literal["approved", "returned"]
    note: LongText | None = None


class WaitlistEntry(BaseModel):
    position: int
    application_id: str
    student_id: str
    waitlisted_at: datetime


def public(row: ProgrammeRow) -> ProgrammePublic:
    return ProgrammePublic.model_validate(row)


@router.put("/programmes/{programme_id}", response_model=ProgrammePublic, status_code=201,
            summary="A school proposes or revises its programme for a term; every rule is checked (R3, R7, R8, R28).")
async def save_programme(programme_id: Id, body: ProgrammeSpec, request: Request, response: Response,
                         who: Actor = Depends(actor)) -> ProgrammePublic:
    settings = request.app.state.runtime.settings
    async with uow(request) as u:
        row, created = await h.save_programme(u, who, h.SaveProgramme(programme_id, body, settings.default_off_work_local))
    response.status_code = 201 if created else 200
    return public(row)


@router.get("/programmes/{programme_id}", response_model=ProgrammePublic,
            summary="A programme, drafts included, for its school, district and the city.")
async def get_programme(programme_id: Id, request: Request, who: Actor = Depends(actor)) -> ProgrammePublic:
    async with uow(request) as u:
        row = await u.programme(programme_id)
        if row is None:
            raise NotFound(f"programme {programme_id} does not exist")
        require_school_scope(who, row.school_id, row.district_id, doing="read programme drafts")
        return public(row)


@router.post("/programmes/{programme_id}/fee-agreement", response_model=ProgrammePublic,
             summary="The school records its parents' committee's agreement to the fee standard (R10).")
async def fee_agreement(programme_id: Id, body: FeeAgreementIn, request: Request,
                        who: Actor = Depends(actor)) -> ProgrammePublic:
    async with uow(request) as u:
        return public(await h.record_fee_agreement(u, who, programme_id, agreed_on=body.agreed_on,
                                                   reference=body.reference))


@router.post("/programmes/{programme_id}/fee-review", response_model=ProgrammePublic,
             summary="The district reviews the agreed fee standard (R10).")
async def fee_review(programme_id: Id, body: FeeReviewIn, request: Request, who: Actor = Depends(actor)) -> ProgrammePublic:
    async with uow(request) as u:
        return public(await h.review_fees(u, who, programme_id, decision=body.decision, note=body.note))


@router.post("/programmes/{programme_id}/publish", response_model=ProgrammePublic,
             summary="The school discloses the programme (R4); applications open only from now (R7).")
async def publish(programme_id: Id, request: Request, who: Actor = Depends(actor),
                  correlation_id: str | None = Depends(correlation)) -> ProgrammePublic:
    async with uow(request) as u:
        row, _ = await h.publish_programme(u, who, programme_id, correlation_id=correlation_id)
        return public(row)


@router.get("/programmes/{programme_id}/waitlist", response_model=list[WaitlistEntry],
            summary="Approved applications waiting for a place, next first (R7).")
async def waitlist(programme_id: Id, request: Request, who: Actor = Depends(actor)) -> list[WaitlistEntry]:
    async with uow(request) as u:
        row = await u.programme(programme_id)
        if row is None:
            raise NotFound(f"programme {programme_id} does not exist")
        require_school_scope(who, row.school_id, row.district_id, doing="read waitlists")
        return [WaitlistEntry(position=i, application_id=a.application_id, student_id=a.student_id,
                              waitlisted_at=a.waitlisted_at) for i, a in enumerate(await u.waitlist(programme_id), 1)]


@public_router.get("/disclosures/{programme_id}", response_model=ProgrammePublished,
                   summary="Public: what the school disclosed (R4): who is served, times, content, delivery, fees, "
                           "safety, insurance. No token needed.")
async def get_disclosure(programme_id: Id, request: Request) -> ProgrammePublished:
    async with uow(request) as u:
        row = await u.programme(programme_id)
        if row is None or row.status != "published":
            raise NotFound(f"programme {programme_id} is not published")
        return h.disclosure(row)


@public_router.get("/schools/{school_id}/disclosures", response_model=list[ProgrammePublished],
                   summary="Public: every programme a school has disclosed (R4).")
async def school_disclosures(school_id: Id, request: Request) -> list[ProgrammePublished]:
    async with uow(request) as u:
        rows = (await u.session.exec(select(ProgrammeRow).where(
            ProgrammeRow.school_id == school_id, ProgrammeRow.status == "published").order_by(ProgrammeRow.term))).all()
        return [h.disclosure(r) for r in rows]
