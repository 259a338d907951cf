"""HTTP routes of the bureau's queries (R1, R6, R7, R29): participation, staff-entered shares per
class, time from application to filing, waitlists. Each caller sees its own scope (R27)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.enrollment.api.deps import ERRORS, actor, uow
from services.enrollment.db import reports
from services.enrollment.db.reports import Scope
from services.enrollment.domain import Actor, Forbidden, coercion_signal
from services.enrollment.domain.values import Id

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=ERRORS)


class Participation(BaseModel):
    school_id: str | None = None
    district_id: str | None = None
    eligible: int = Field(description="Students eligible for the service.")
    enrolled: int = Field(description="Students enrolled (filed, not withdrawn).")
    rate: float | None = Field(description="enrolled / eligible; the city reported 78.5% (R29). Null with none eligible.")


class ParticipationReport(BaseModel):
    schools: list[Participation]
    districts: list[Participation]
    total: Participation


class StaffEnteredShare(BaseModel):
    school_id: str
    district_id: str | None
    class_id: str
    applications: int
    entered_by_staff: int
    share: float = Field(description="Share of the class's applications entered by school staff (R1).")


class FilingTime(BaseModel):
    district_id: str | None
    filed: int
    median_hours: float
    p90_hours: float
    max_hours: float


class WaitlistLength(BaseModel):
    programme_id: str
    school_id: str
    district_id: str
    capacity: int
    taken: int
    waiting: int


def scope_of(who: Actor, district_id: str | None, school_id: str | None) -> Scope:
    """R27: the city and auditors read all (narrowed as asked); a district its schools; a school itself."""
    if who.role in ("city", "auditor"):
        return Scope(district_id=district_id, school_id=school_id)
    if who.role == "district":
        if district_id not in (None, who.district_id):
            raise Forbidden(f"district {who.district_id} may not read district {district_id} (R27)")
        return Scope(district_id=who.district_id or "", school_id=school_id)
    if who.role == "school":
        if school_id not in (None, who.school_id) or district_id is not None:
            raise Forbidden(f"school {who.school_id} may read only its own figures (R27)")
        return Scope(school_id=who.school_id or "")
    raise Forbidden(f"role {who.role!r} may not read reports (R27)")


def _rate(enrolled: int, eligible: int) -> float | None:
    return round(enrolled / eligible, 4) if eligible else None


@router.get("/participation", response_model=ParticipationReport,
            summary="Participation per school and district: enrolled / eligible (R29, the 78.5% figure).")
async def participation(request: Request, who: Actor = Depends(actor), district_id: Id | None = None,
                        school_id: Id | None = None,
                        term: str | None = Query(None, pattern=r"^[0-9]{4}-(spring|autumn)$")) -> ParticipationReport:
    async with uow(request) as u:
        rows = await reports.participation(u, scope_of(who, district_id, school_id), term)
    schools = [Participation(school_id=r["school_id"], district_id=r["district_id"], eligible=r["eligible"],
                             enrolled=r["enrolled"], rate=_rate(r["enrolled"], r["eligible"])) for r in rows]
    by_district: dict[str, list[int]] = {}
    for s in schools:
        totals = by_district.setdefault(s.district_id, [0, 0])
        totals[0] += s.eligible
        totals[1] += s.enrolled
    districts = [Participation(district_id=d, eligible=e, enrolled=n, rate=_rate(n, e))
                 for d, (e, n) in sorted(by_district.items())]
    eligible, enrolled = sum(s.eligible for s in schools), sum(s.enrolled for s in schools)
    return ParticipationReport(schools=schools, districts=districts,
                               total=Participation(eligible=eligible, enrolled=enrolled, rate=_rate(enrolled, eligible)))


@router.get("/staff-entered", response_model=list[StaffEnteredShare],
            summary="Classes where school staff entered a high share of the applications: a sign of coercion (R1).")
async def staff_entered(request: Request, who: Actor = Depends(actor), district_id: Id | None = None,
                        school_id: Id | None = None,
                        threshold: float = Query(0.5, ge=0.0, le=1.0, description="Share from which a class is listed."),
                        min_applications: int = Query(5, ge=1, le=10_000, description="Ignore smaller classes.")
                        ) -> list[StaffEnteredShare]:
    async with uow(request) as u:
        rows = await reports.staff_entered_shares(u, scope_of(who, district_id, school_id))
    return [StaffEnteredShare(**r, share=round(r["entered_by_staff"] / r["applications"], 4)) for r in rows
            if coercion_signal(r["applications"], r["entered_by_staff"], threshold=threshold, minimum=min_applications)]


@router.get("/filing-times", response_model=list[FilingTime],
            summary="Hours from a guardian's application to the district's filing, per district (R6).")
async def filing_times(request: Request, who: Actor = Depends(actor), district_id: Id | None = None,
                       school_id: Id | None = None) -> list[FilingTime]:
    async with uow(request) as u:
        return [FilingTime(**r) for r in await reports.filing_times(u, scope_of(who, district_id, school_id))]


@router.get("/waitlists", response_model=list[WaitlistLength],
            summary="Per published programme: capacity, places taken, applications waiting (R7).")
async def waitlists(request: Request, who: Actor = Depends(actor), district_id: Id | None = None,
                    school_id: Id | None = None) -> list[WaitlistLength]:
    async with uow(request) as u:
        return [WaitlistLength(**r) for r in await reports.waitlist_lengths(u, scope_of(who, district_id, school_id))]
