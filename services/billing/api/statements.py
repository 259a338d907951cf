"""Routes for fee accounts, statements, receipts, the school's books, month-end settlement and the
public disclosure (R9, R17, R21, R22, R27). Guardians see their own children only."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from sqlmodel import select

from services.billing.api.common import Id, Period, actor, ensure_may_act, ensure_may_see, now, retry_on_conflict, settings, uow
from services.billing.db import DisclosureRow, FeeAccountRow, PaymentRow, RefundRow, StatementRow
from services.billing.domain import balances, disclosure_figures, is_balanced, parse_period
from services.billing.domain.books import Move
from services.billing.handlers import money as m
from services.billing.handlers.settlement import settle_school_month
from shared.auth import Principal, current_principal, require
from shared.messaging.http import RequestBody

router = APIRouter(prefix="/v1", tags=["statements"])


class FeeAccountPublic(BaseModel):
    student_id: str
    programme_id: str
    school_id: str
    guardian_id: str
    hardship: bool
    chargeable: bool
    extended_care: bool
    outstanding_fen: int
    credit_fen: int
    balance_fen: int = Field(description="Owed minus credit held; negative when the family is in credit.")
    active: bool
    withdrawn_on: date | None


class StatementPublic(BaseModel):
    settlement_id: str
    student_id: str
    programme_id: str
    school_id: str
    guardian_id: str
    period: str
    period_start: date
    period_end: date
    hardship: bool
    sessions_provided: int
    sessions_attended: int
    extended_care_sessions: int
    charged_fen: int
    waived_fen: int
    paid_fen: int
    refund_due_fen: int
    outstanding_fen: int
    lines: list[dict]
    settled_at: datetime | None


class ReceiptPublic(BaseModel):
    kind: str
    id: str
    amount_fen: int
    at: datetime | None
    detail: str


class BooksPublic(BaseModel):
    school_id: str
    period_start: date
    period_end: date
    balances: dict[str, int] = Field(description="Per account, debits minus credits, in fen.")
    balanced: bool = Field(description="Debits equal credits over the period (double entry).")
    figures: dict[str, int]


class SettlementIn(RequestBody):
    period: Period
    school_id: Id | None = None
    district_id: Id | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> SettlementIn:
        if bool(self.school_id) == bool(self.district_id):
            raise ValueError("give exactly one of school_id or district_id")
        return self


class DisclosureIn(RequestBody):
    school_id: Id
    period_start: date
    period_end: date


def _account(row: FeeAccountRow) -> FeeAccountPublic:
    return FeeAccountPublic(**row.model_dump(include=set(FeeAccountPublic.model_fields) - {"balance_fen"}),
                            balance_fen=row.outstanding_fen - row.credit_fen)


def _statement(row: StatementRow) -> StatementPublic:
    return StatementPublic(**row.model_dump(include=set(StatementPublic.model_fields)))


async def _may_see_student(request: Request, principal: Principal, accounts: list[FeeAccountRow]) -> None:
    """A guardian sees their own children; staff and officials through the school (R27)."""
    if not accounts:
        raise HTTPException(404, "no fee account for this student")
    if principal.role == "guardian":
        if not any(a.guardian_id == principal.subject for a in accounts):
            raise HTTPException(403, "a guardian sees only their own children's accounts")
        return
    await ensure_may_see(request, principal, accounts[0].school_id)


@router.get("/accounts/{student_id}/{programme_id}", response_model=FeeAccountPublic,
            summary="A student's fee account for one programme.")
async def account(student_id: str, programme_id: str, request: Request,
                  principal: Principal = Depends(current_principal)) -> FeeAccountPublic:
    async with uow(request) as u:
        row = await u.account(student_id, programme_id)
    if row is None:
        raise HTTPException(404, f"no fee account for {student_id} in {programme_id}")
    await _may_see_student(request, principal, [row])
    return _account(row)


@router.get("/students/{student_id}/statements", response_model=list[StatementPublic],
            summary="A student's monthly statements on actuals (R17); guardians see their own children's.")
async def student_statements(student_id: str, request: Request, period: str | None = None,
                             principal: Principal = Depends(current_principal)) -> list[StatementPublic]:
    async with uow(request) as u:
        accounts = await u.accounts_of_student(student_id)
        await _may_see_student(request, principal, accounts)
        stmt = select(StatementRow).where(StatementRow.student_id == student_id).order_by(StatementRow.period)
        if period:
            stmt = stmt.where(StatementRow.period == period)
        rows = (await u.session.execute(stmt)).scalars().all()
    if principal.role == "guardian":
        mine = {a.programme_id for a in accounts if a.guardian_id == principal.subject}
        rows = [r for r in rows if r.programme_id in mine]
    return [_statement(r) for r in rows]


@router.get("/students/{student_id}/receipts", response_model=list[ReceiptPublic],
            summary="Payments received and refunds issued for a student (R22).")
async def receipts(student_id: str, request: Request,
                   principal: Principal = Depends(current_principal)) -> list[ReceiptPublic]:
    async with uow(request) as u:
        await _may_see_student(request, principal, await u.accounts_of_student(student_id))
        pays = (await u.session.execute(select(PaymentRow).where(PaymentRow.student_id == student_id))).scalars().all()
        refunds = (await u.session.execute(select(RefundRow).where(RefundRow.student_id == student_id))).scalars().all()
    out = [ReceiptPublic(kind="payment", id=p.payment_id, amount_fen=p.amount_fen, at=p.received_at,
                         detail=f"{p.method} {p.external_ref}: {p.applied_fen} fen to statements, "
                                f"{p.credit_fen} fen held as credit, {p.refunded_fen} fen refunded")
           for p in pays]
    out += [ReceiptPublic(kind="refund", id=r.refund_id, amount_fen=r.amount_fen, at=r.issued_at,
                          detail=f"{r.reason} (payment {r.payment_id})") for r in refunds]
    return sorted(out, key=lambda r: (r.at is None, r.at, r.id))


@router.get("/schools/{school_id}/statements", response_model=list[StatementPublic],
            summary="A school's statements for a month, in pages of student ids (R17).")
async def school_statements(school_id: str, period: Period, request: Request, after: str = "",
                            limit: int = Query(500, ge=1, le=5000),
                            principal: Principal = Depends(current_principal)) -> list[StatementPublic]:
    await ensure_may_see(request, principal, school_id)
    async with uow(request) as u:
        rows = (await u.session.execute(
            select(StatementRow).where(StatementRow.school_id == school_id, StatementRow.period == period,
                                       StatementRow.student_id > after)
            .order_by(StatementRow.student_id, StatementRow.programme_id).limit(limit))).scalars().all()
    return [_statement(r) for r in rows]


@router.get("/schools/{school_id}/books", response_model=BooksPublic,
            summary="The school's books over a period: balances per account and the disclosure figures (R19, R21).")
async def books(school_id: str, request: Request, period_start: date = Query(alias="from"),
                period_end: date = Query(alias="to"),
                principal: Principal = Depends(current_principal)) -> BooksPublic:
    await ensure_may_see(request, principal, school_id)
    async with uow(request) as u:
        lines = await u.journal_lines(school_id, period_start, period_end)
    moves = [Move(d, cr, fen) for _, d, cr, fen in lines]
    figures = disclosure_figures(lines)
    return BooksPublic(school_id=school_id, period_start=period_start, period_end=period_end, balances=balances(moves),
                       balanced=is_balanced(moves),
                       figures={**asdict(figures), "balance_fen": figures.balance_fen})


@router.post("/settlements", summary="Run month-end settlement on actuals for a school or a whole district (R17, R20).")
async def run_settlement(body: SettlementIn, request: Request,
                         principal: Principal = Depends(require("school", "district", "city"))) -> dict[str, Any]:
    parse_period(body.period)
    if body.school_id:
        await ensure_may_act(request, principal, body.school_id, "school", "district", "city")
        schools = [body.school_id]
    else:
        if principal.role == "school" or (principal.role == "district" and principal.district_id != body.district_id):
            raise HTTPException(403, f"{principal.role} {principal.subject} may not settle district {body.district_id}")
        async with uow(request) as u:
            schools = await u.schools(body.district_id)
    s = settings(request)
    summaries = []
    for school_id in schools:
        summary = await retry_on_conflict(lambda sid=school_id: settle_school_month(
            request.app.state.runtime.uow_factory, school_id=sid, period=body.period, actor=actor(principal),
            now=now(), chunk_size=s.settlement_chunk_size, due_days=s.payment_due_days))
        summaries.append(summary.as_dict())
    return {"period": body.period, "schools": summaries}


@router.post("/disclosures", status_code=201,
             summary="A school publishes its income and spending for a period (公示, R21); once per period.")
async def disclose(body: DisclosureIn, request: Request, response: Response,
                   principal: Principal = Depends(require("school"))) -> dict[str, Any]:
    await ensure_may_act(request, principal, body.school_id, "school")

    async def call():
        async with uow(request) as u:
            row, created = await m.publish_disclosure(u, body.school_id, body.period_start, body.period_end,
                                                      actor(principal), now(), settings(request).public_base_url)
            return row, created

    row, created = await retry_on_conflict(call)
    response.status_code = 201 if created else 200
    return row.body


@router.get("/disclosures", summary="Published disclosures of a school (public, R4, R21).")
async def list_disclosures(school_id: str, request: Request) -> list[dict[str, Any]]:
    async with uow(request) as u:
        rows = (await u.session.execute(select(DisclosureRow).where(DisclosureRow.school_id == school_id)
                                        .order_by(DisclosureRow.period_start))).scalars().all()
    return [r.body for r in rows]


@router.get("/disclosures/{disclosure_id}", summary="One published disclosure (public, R21).")
async def get_disclosure(disclosure_id: str, request: Request) -> dict[str, Any]:
    async with uow(request) as u:
        row = await u.session.get(DisclosureRow, disclosure_id)
    if row is None:
        raise HTTPException(404, f"no disclosure {disclosure_id}")
    return row.body
