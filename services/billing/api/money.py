"""Routes for money coming in and going out: payments (in batches, once per provider reference),
subsidies, expenses and the refusals of spending R19 forbids (R16, R17, R19, R25)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import select

from services.billing.api.common import Fen, Id, Period, actor, ensure_may_act, ensure_may_see, now, retry_on_conflict, uow
from services.billing.db import RefusalRow
from services.billing.handlers import money as m
from services.billing.settings import Context
from shared.auth import Principal, current_principal, require
from shared.contracts.common import PersonName, Text, UtcDatetime
from shared.messaging.http import RequestBody, problem_body
from shared.messaging.runtime import context_of

router = APIRouter(prefix="/v1", tags=["money"])

MAX_PAYMENTS = 5000


class PaymentIn(RequestBody):
    # Text and UtcDatetime: a NUL, a lone surrogate or an instant out of range is this record's rejection,
    # not a failed batch (R15's rule for school systems' batches, kept for payments too).
    external_ref: Text = Field(min_length=1, max_length=120, description="Provider's transaction id; records it once.")
    method: Literal["wechat_pay", "alipay", "unionpay", "bank_transfer"]
    school_id: Id
    student_id: Id
    programme_id: Id | None = None
    amount_fen: Fen
    received_at: UtcDatetime
    deposited_to_account: Text = Field(min_length=1, max_length=120, description="School account it went into (R19).")
    charge_ids: list[Id] = Field(default_factory=list, max_length=50, description="Charges it pays, if the payer said.")
    prepaid_period: Period | None = Field(None, description="Month paid in advance; settled on actuals (R17).")


class PaymentResultPublic(BaseModel):
    index: int
    external_ref: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    payment_id: str | None = None
    reason: str | None = None
    applied_fen: int = 0
    credit_fen: int = 0
    refunded_fen: int = 0


class PaymentBatchPublic(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[PaymentResultPublic]


class SubsidyIn(RequestBody):
    subsidy_ref: str = Field(min_length=1, max_length=120, description="Budget document number; grants it once.")
    school_id: Id
    amount_fen: Fen
    purpose: Literal["utilities", "materials", "hardship_cover", "staff_subsidy"]
    period: Period
    deposited_to_account: str = Field(min_length=1, max_length=120)


class SubsidyPublic(BaseModel):
    subsidy_id: str
    subsidy_ref: str
    school_id: str
    district_id: str
    amount_fen: int
    purpose: str
    period: str
    granted_by: str
    granted_at: datetime | None


class ExpenseIn(RequestBody):
    expense_ref: str = Field(min_length=1, max_length=120, description="The school's voucher number; records it once.")
    school_id: Id
    category: str = Field(min_length=1, max_length=80, description="staff_remuneration, extra_hours_operating or "
                          "group_accident_insurance (R19); anything else is refused and reported.")
    amount_fen: Fen
    payee: PersonName = Field(min_length=1, max_length=200, description="Who was paid; disclosed (R19), so no phone "
                              "or ID number in it.")
    details: str = Field(min_length=1, max_length=500)
    invoice_ref: str | None = Field(None, max_length=120)
    spent_on: date
    paid_from_account: str = Field(min_length=1, max_length=120)


class ExpensePublic(BaseModel):
    expense_id: str
    expense_ref: str
    school_id: str
    category: str
    amount_fen: int
    payee: str
    spent_on: date


class RefusalPublic(BaseModel):
    refusal_id: int
    school_id: str
    district_id: str | None
    kind: str
    reason: str
    request: dict
    requested_by: str
    requested_by_role: str
    refused_at: datetime | None


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors(include_url=False)[:5])


@router.post("/payments", response_model=PaymentBatchPublic,
             summary="Record payments in a batch, each once per provider reference; results per record (R17, R19).",
             responses={422: {"model": PaymentBatchPublic,
                              "description": "Every record was refused; each result says why (or the body is not a "
                                             "list of payments: the Problem shape)."}})
async def record_payments(request: Request, payments: list[Any] = Body(..., embed=True, max_length=MAX_PAYMENTS),
                          principal: Principal = Depends(require("school", "school_system"))) -> Any:
    results: list[PaymentResultPublic | None] = [None] * len(payments)
    valid: list[tuple[int, m.RecordPayment]] = []
    for index, raw in enumerate(payments):
        ref = raw.get("external_ref") if isinstance(raw, dict) else None
        try:
            p = PaymentIn.model_validate(raw)
        except ValidationError as exc:
            results[index] = PaymentResultPublic(index=index, external_ref=ref, status="rejected", reason=_reason(exc))
            continue
        if principal.school_id != p.school_id:
            results[index] = PaymentResultPublic(index=index, external_ref=p.external_ref, status="rejected",
                                                 reason=f"{principal.subject} records payments for "
                                                        f"{principal.school_id}, not {p.school_id}")
            continue
        valid.append((index, m.RecordPayment(**{**p.model_dump(), "charge_ids": tuple(p.charge_ids)})))

    async def call():
        async with uow(request) as u:
            out = await m.record_payments(u, [cmd for _, cmd in valid], actor(principal), now())
            return out

    recorded = await retry_on_conflict(call) if valid else []
    for (index, _), r in zip(valid, recorded):
        results[index] = PaymentResultPublic(index=index, external_ref=r.external_ref, status=r.status,
                                             payment_id=r.payment_id, reason=r.reason, applied_fen=r.applied_fen,
                                             credit_fen=r.credit_fen, refunded_fen=r.refunded_fen)
    final = [r for r in results if r is not None]
    body = PaymentBatchPublic(accepted=sum(r.status == "accepted" for r in final),
                              duplicates=sum(r.status == "duplicate" for r in final),
                              rejected=sum(r.status == "rejected" for r in final), results=final)
    status = 422 if final and body.rejected == len(final) else 200
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.post("/subsidies", response_model=SubsidyPublic, status_code=201,
             summary="The district (or city) grants budget money to a school: utilities, materials... (R16).")
async def grant_subsidy(body: SubsidyIn, request: Request, response: Response,
                        principal: Principal = Depends(require("district", "city"))) -> SubsidyPublic:
    await ensure_may_act(request, principal, body.school_id, "district", "city")

    async def call():
        async with uow(request) as u:
            row, created = await m.grant_subsidy(u, m.GrantSubsidy(**body.model_dump()), actor(principal), now())
            return row, created

    row, created = await retry_on_conflict(call)
    response.status_code = 201 if created else 200
    return SubsidyPublic(**row.model_dump(include=set(SubsidyPublic.model_fields)))


@router.post("/expenses", response_model=ExpensePublic, status_code=201,
             summary="A school spends fee income in an R19 category; any other category is refused and reported.",
             responses={422: {"description": "Refused: not an R19 category (a management fee above all)."}})
async def record_expense(body: ExpenseIn, request: Request, response: Response,
                         principal: Principal = Depends(require("school"))) -> Any:
    await ensure_may_act(request, principal, body.school_id, "school")

    async def call():
        async with uow(request) as u:
            outcome = await m.record_expense(u, m.RecordExpense(**body.model_dump()), actor(principal), now())
            return outcome

    outcome = await retry_on_conflict(call)
    if outcome.refusal is not None:
        context_of(request, Context).refusals.labels(outcome.refusal.kind).inc()
        return JSONResponse(problem_body(422, outcome.refusal.reason, "refused", refusal_id=outcome.refusal.refusal_id),
                            status_code=422)
    response.status_code = 201 if outcome.created else 200
    return ExpensePublic(**outcome.expense.model_dump(include=set(ExpensePublic.model_fields)))


@router.get("/refusals", response_model=list[RefusalPublic],
            summary="Refused money requests, for the district, the city and auditors (R19, R25).")
async def list_refusals(request: Request, school_id: str | None = None, district_id: str | None = None,
                        principal: Principal = Depends(current_principal)) -> list[RefusalPublic]:
    stmt = select(RefusalRow).order_by(RefusalRow.refusal_id)
    if principal.role == "school" or school_id:
        target = school_id or principal.school_id or ""
        await ensure_may_see(request, principal, target)
        stmt = stmt.where(RefusalRow.school_id == target)
    elif principal.role == "district":
        if district_id and district_id != principal.district_id:
            raise HTTPException(403, f"district {principal.district_id} may not see district {district_id}")
        stmt = stmt.where(RefusalRow.district_id == principal.district_id)
    elif principal.role in ("city", "auditor"):
        if district_id:
            stmt = stmt.where(RefusalRow.district_id == district_id)
    else:
        raise HTTPException(403, f"role {principal.role!r} may not see refusals")
    async with uow(request) as u:
        rows = (await u.session.execute(stmt)).scalars().all()
    return [RefusalPublic(**r.model_dump()) for r in rows]
