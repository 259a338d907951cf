"""The route for a school's month so far on actual attendance: provisional fees charged and waived,
per programme and in total, for the school, its district, the city and auditors (R9, R17, R27)."""
from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.billing.api.common import Period, ensure_may_see, now, settings, uow
from services.billing.handlers.common import local_day
from services.billing.handlers.month_to_date import Tally, month_to_date
from shared.auth import Principal, current_principal

router = APIRouter(prefix="/v1", tags=["statements"])


class FiguresPublic(BaseModel):
    accounts: int = Field(description="Fee accounts with something to settle so far: present at least once, "
                                      "or holding credit (the accounts the month-end makes statements for).")
    hardship_accounts: int = Field(description="Of those, verified hardship families, charged nothing (R9).")
    statements_made: int = Field(description="Of those, accounts whose statement for the month exists already.")
    sessions_attended: int
    extended_care_sessions: int = Field(description="Extended-care sessions attended (charged only to families "
                                                    "who asked for extended care, R13).")
    charged_fen: int
    waived_fen: int = Field(description="The standard amount hardship families are spared (R9).")

    @classmethod
    def of(cls, tally: Tally) -> FiguresPublic:
        return cls(**vars(tally))


class ProgrammeFiguresPublic(FiguresPublic):
    programme_id: str
    sessions_provided: int = Field(description="Days the programme's session ran in the month so far.")


class MonthToDatePublic(BaseModel):
    school_id: str
    period: str
    as_of: datetime
    through: date = Field(description="The last school-local day the figures cover.")
    month_over: bool
    provisional: bool = Field(description="True until the month is over and every statement of it is made.")
    note: str
    programmes: list[ProgrammeFiguresPublic]
    total: FiguresPublic
    skipped: list[str] = Field(description="Programmes not charged at all, with the reason (R18).")


@router.get("/schools/{school_id}/month-to-date", response_model=MonthToDatePublic,
            summary="The month so far on actual attendance: provisional charges and waivers, computed as "
                    "the month-end statement would be (R9, R17). Read-only.")
async def school_month_to_date(school_id: str, request: Request, period: Period | None = None,
                               principal: Principal = Depends(current_principal)) -> MonthToDatePublic:
    await ensure_may_see(request, principal, school_id)
    at = now()
    period = period or local_day(at).strftime("%Y-%m")  # the running school-local month by default
    async with uow(request) as u:
        view = await month_to_date(u, school_id=school_id, period=period, now=at,
                                   chunk_size=settings(request).settlement_chunk_size)
    return MonthToDatePublic(
        school_id=view.school_id, period=view.period, as_of=view.as_of, through=view.through,
        month_over=view.month_over, provisional=view.provisional, note=view.note,
        programmes=[ProgrammeFiguresPublic(programme_id=pid, sessions_provided=provided, **vars(tally))
                    for pid, (provided, tally) in view.programmes.items()],
        total=FiguresPublic.of(view.total), skipped=view.skipped)
