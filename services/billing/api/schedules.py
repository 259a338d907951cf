"""Routes for fee caps, fee schedules (school proposes, district approves) and distribution plans
(R2, R10, R18, R20). Fee standards are public (R4); plans are for the school and its supervisors."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from services.billing.api.common import Id, RateFen, actor, ensure_may_act, ensure_may_see, now, retry_on_conflict, settings, uow
from services.billing.db import FeeCapRow, FeeScheduleRow
from services.billing.domain import FeeItem
from services.billing.handlers import schedules as s
from shared.auth import Principal, current_principal, require
from shared.messaging.http import RequestBody

router = APIRouter(prefix="/v1", tags=["fee schedules"])


class CapIn(RequestBody):
    cap_per_session_fen: RateFen


class CapPublic(BaseModel):
    scope: str
    cap_per_session_fen: int
    set_by: str
    set_by_role: str
    set_at: datetime | None


class FeeItemIn(RequestBody):
    category: Literal["session", "extended_care"] = Field(description="R16/R18: nothing else may be charged.")
    amount_fen: RateFen
    unit: Literal["per_session", "per_month", "per_term"] = "per_session"


class ScheduleIn(RequestBody):
    fee_schedule_id: Id | None = None
    school_id: Id
    programme_id: Id
    district_id: Id | None = Field(None, description="Needed only if the programme was not published yet.")
    items: list[FeeItemIn] = Field(min_length=1, max_length=2)
    parents_committee_agreed_on: date
    parents_committee_ref: str = Field(min_length=1, max_length=200, description="Minutes of the parents' committee (R10).")
    effective_from: date


class ScheduleReview(RequestBody):
    reason: str = Field(min_length=1, max_length=500)


class SchedulePublic(BaseModel):
    fee_schedule_id: str
    school_id: str
    district_id: str
    programme_id: str
    items: list[dict]
    parents_committee_agreed_on: date
    parents_committee_ref: str
    effective_from: date
    status: str
    submitted_by: str
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    cap_per_session_fen: int | None


class PlanIn(RequestBody):
    plan_id: Id | None = None
    school_id: Id
    per_session_fen: RateFen = Field(description="Labour fee per session run (R20).")
    extended_care_per_session_fen: RateFen = Field(description="Labour fee per extended-care session supervised.")
    approval_ref: str = Field(min_length=1, max_length=200, description="Where the plan was approved (教代会 minutes).")
    approved_on: date
    effective_from: date
    paid_from_account: str = Field(min_length=1, max_length=120, examples=["acct-0042-main"])


class PlanPublic(BaseModel):
    plan_id: str
    school_id: str
    per_session_fen: int
    extended_care_per_session_fen: int
    approval_ref: str
    approved_on: date
    effective_from: date
    paid_from_account: str
    recorded_by: str
    review_status: Literal["proposed", "approved", "returned"] = Field(
        description="Proposed until the school's district reviews it (R10); payouts follow approved plans only (R20).")
    district_id: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_reason: str | None = None


class PlanReview(RequestBody):
    decision: Literal["approved", "returned"]
    reason: str | None = Field(None, min_length=1, max_length=500,
                               description="Required when the plan is returned: what the school must change.")


def _schedule(row: FeeScheduleRow) -> SchedulePublic:
    return SchedulePublic(**row.model_dump(include=set(SchedulePublic.model_fields)))


# -- caps -----------------------------------------------------------------------------------------
@router.get("/fee-caps", response_model=list[CapPublic], summary="Caps per session in force (public, R2, R4).")
async def list_caps(request: Request) -> list[CapPublic]:
    async with uow(request) as u:
        rows = (await u.session.execute(select(FeeCapRow).order_by(FeeCapRow.scope))).scalars().all()
    default = settings(request).city_cap_per_session_fen
    out = [CapPublic(**r.model_dump()) for r in rows]
    if default is not None and not any(r.scope == s.CITY for r in rows):
        out.insert(0, CapPublic(scope=s.CITY, cap_per_session_fen=default, set_by="settings", set_by_role="platform",
                                set_at=None))
    return out


@router.put("/fee-caps/city", response_model=CapPublic, summary="The city sets its cap per session (R2, R10).")
async def set_city_cap(body: CapIn, request: Request, principal: Principal = Depends(require("city"))) -> CapPublic:
    async with uow(request) as u:
        row = await s.set_fee_cap(u, s.CITY, body.cap_per_session_fen, actor(principal), now())
    return CapPublic(**row.model_dump())


@router.put("/fee-caps/districts/{district_id}", response_model=CapPublic,
            summary="A district sets its own cap per session (R10); the lower of city and district binds.")
async def set_district_cap(district_id: str, body: CapIn, request: Request,
                           principal: Principal = Depends(require("district", "city"))) -> CapPublic:
    if principal.role == "district" and principal.district_id != district_id:
        raise HTTPException(403, f"district {principal.district_id} may not set the cap of {district_id}")
    async with uow(request) as u:
        row = await s.set_fee_cap(u, s.district_scope(district_id), body.cap_per_session_fen, actor(principal), now())
    return CapPublic(**row.model_dump())


# -- schedules ------------------------------------------------------------------------------------
@router.post("/fee-schedules", response_model=SchedulePublic, status_code=201,
             summary="A school submits the fee standard its parents' committee agreed, for district review (R10).")
async def submit_schedule(body: ScheduleIn, request: Request, response: Response,
                          principal: Principal = Depends(require("school"))) -> SchedulePublic:
    await ensure_may_act(request, principal, body.school_id, "school")
    cmd = s.SubmitFeeSchedule(
        school_id=body.school_id, programme_id=body.programme_id,
        items=tuple(FeeItem(i.category, i.amount_fen, i.unit) for i in body.items),
        parents_committee_agreed_on=body.parents_committee_agreed_on, parents_committee_ref=body.parents_committee_ref,
        effective_from=body.effective_from, district_id=body.district_id, fee_schedule_id=body.fee_schedule_id)

    async def call():
        async with uow(request) as u:
            row, created = await s.submit_fee_schedule(u, cmd, actor(principal), now(),
                                                        settings(request).city_cap_per_session_fen)
            return row, created

    row, created = await retry_on_conflict(call)
    response.status_code = 201 if created else 200
    return _schedule(row)


async def _review_access(request: Request, principal: Principal, fee_schedule_id: str) -> None:
    async with uow(request) as u:
        row = await u.schedule(fee_schedule_id)
    if row is None:
        raise HTTPException(404, f"no fee schedule {fee_schedule_id}")
    if principal.role == "district" and principal.district_id != row.district_id:
        raise HTTPException(403, f"fee schedule {fee_schedule_id} is reviewed by district {row.district_id}")


@router.post("/fee-schedules/{fee_schedule_id}/approve", response_model=SchedulePublic,
             summary="The district approves a schedule; FeeScheduleApproved is published (R10, R21).")
async def approve_schedule(fee_schedule_id: str, request: Request,
                           principal: Principal = Depends(require("district", "city"))) -> SchedulePublic:
    await _review_access(request, principal, fee_schedule_id)

    async def call():
        async with uow(request) as u:
            row, _ = await s.approve_fee_schedule(u, fee_schedule_id, actor(principal), now(),
                                                  settings(request).city_cap_per_session_fen)
            return row

    return _schedule(await retry_on_conflict(call))


@router.post("/fee-schedules/{fee_schedule_id}/reject", response_model=SchedulePublic,
             summary="The district sends a schedule back, with the reason (R10).")
async def reject_schedule(fee_schedule_id: str, body: ScheduleReview, request: Request,
                          principal: Principal = Depends(require("district", "city"))) -> SchedulePublic:
    await _review_access(request, principal, fee_schedule_id)
    async with uow(request) as u:
        row = await s.reject_fee_schedule(u, fee_schedule_id, body.reason, actor(principal), now())
    return _schedule(row)


@router.get("/fee-schedules", response_model=list[SchedulePublic],
            summary="Fee schedules, by school, programme or status (public: fee standards are disclosed, R4).")
async def list_schedules(request: Request, school_id: str | None = None, programme_id: str | None = None,
                         status: Literal["submitted", "approved", "rejected"] | None = None) -> list[SchedulePublic]:
    async with uow(request) as u:
        rows = await u.schedules(school_id=school_id, programme_id=programme_id, status=status)
    return [_schedule(r) for r in rows]


@router.get("/fee-schedules/{fee_schedule_id}", response_model=SchedulePublic, summary="One fee schedule (public, R4).")
async def get_schedule(fee_schedule_id: str, request: Request) -> SchedulePublic:
    async with uow(request) as u:
        row = await u.schedule(fee_schedule_id)
    if row is None:
        raise HTTPException(404, f"no fee schedule {fee_schedule_id}")
    return _schedule(row)


# -- distribution plans ---------------------------------------------------------------------------
@router.post("/distribution-plans", response_model=PlanPublic, status_code=201,
             summary="A school records its approved labour-fee distribution plan (劳务费分配方案, R20).")
async def record_plan(body: PlanIn, request: Request, response: Response,
                      principal: Principal = Depends(require("school"))) -> PlanPublic:
    await ensure_may_act(request, principal, body.school_id, "school")
    cmd = s.RecordDistributionPlan(**body.model_dump())
    async with uow(request) as u:
        row, created = await s.record_distribution_plan(u, cmd, actor(principal), now())
    response.status_code = 201 if created else 200
    return PlanPublic(**row.model_dump(include=set(PlanPublic.model_fields)))


@router.post("/distribution-plans/{plan_id}/review", response_model=PlanPublic,
             summary="The school's district approves or returns its distribution plan; the decision is filed with "
                     "the city as DistributionPlanReviewed (R10, R20).")
async def review_plan(plan_id: str, body: PlanReview, request: Request, response: Response,
                      principal: Principal = Depends(require("district", "city"))) -> PlanPublic:
    async with uow(request) as u:
        row = await u.plan_row(plan_id)
    if row is None:
        raise HTTPException(404, f"no distribution plan {plan_id}")
    await ensure_may_act(request, principal, row.school_id, "district", "city")

    async def call():
        async with uow(request) as u:
            reviewed, changed = await s.review_distribution_plan(u, plan_id, body.decision, body.reason,
                                                                 actor(principal), now())
            return reviewed, changed

    reviewed, _ = await retry_on_conflict(call)
    return PlanPublic(**reviewed.model_dump(include=set(PlanPublic.model_fields)))


@router.get("/distribution-plans", response_model=list[PlanPublic],
            summary="Distribution plans with their review (R10, R20): a school its own, a district its schools', "
                    "the city and auditors every school's (the filing with the city bureau).")
async def list_plans(request: Request, school_id: str | None = None, district_id: str | None = None,
                     status: Literal["proposed", "approved", "returned"] | None = None,
                     principal: Principal = Depends(current_principal)) -> list[PlanPublic]:
    if school_id is not None:
        await ensure_may_see(request, principal, school_id)
    elif principal.role == "district":
        if district_id not in (None, principal.district_id):
            raise HTTPException(403, f"district {principal.district_id} may not list district {district_id}'s plans")
        district_id = principal.district_id
    elif principal.role not in ("city", "auditor"):
        raise HTTPException(403, "name the school (school_id) whose plans to list")
    async with uow(request) as u:
        rows = await u.plan_rows(school_id=school_id, district_id=district_id, status=status)
    return [PlanPublic(**r.model_dump(include=set(PlanPublic.model_fields))) for r in rows]
