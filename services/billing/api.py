"""Billing's HTTP routes: fee accounts (schedules and statements come with R10 and R17)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["billing"])


class FeeAccountPublic(BaseModel):
    student_id: str
    programme_id: str
    school_id: str
    hardship: bool
    chargeable: bool
    balance_fen: int
    active: bool


@router.get("/accounts/{student_id}/{programme_id}", response_model=FeeAccountPublic,
            summary="A student's fee account for one programme.")
async def account(student_id: str, programme_id: str, request: Request) -> FeeAccountPublic:
    async with request.app.state.runtime.uow_factory() as uow:
        row = await uow.account(student_id, programme_id)
    if row is None:
        raise HTTPException(404, f"no fee account for {student_id} in {programme_id}")
    return FeeAccountPublic(**row.model_dump())
