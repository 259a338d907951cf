"""Fee schedules: what may be charged, per session, under a cap, as agreed and approved (R2, R10, R18).

A schedule lists at most one rate per fee category. Nothing outside an approved schedule is ever
charged: a category missing from it, or a day before it takes effect, is simply not chargeable."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from services.billing.domain.calendar import mask_from, parse_period

# R16/R18: parents pay only the labour of the staff who deliver the session and extended care.
CATEGORIES: tuple[str, ...] = ("session", "extended_care")


@dataclass(frozen=True)
class FeeItem:
    category: str
    amount_fen: int
    unit: str


@dataclass(frozen=True)
class ApprovedSchedule:
    """The rates of one approved schedule, from its first school-local day."""

    fee_schedule_id: str
    effective_from: date
    session_fen: int | None
    extended_care_fen: int | None

    @classmethod
    def of(cls, fee_schedule_id: str, effective_from: date, items: Iterable[FeeItem]) -> ApprovedSchedule:
        rates = {item.category: item.amount_fen for item in items}
        return cls(fee_schedule_id, effective_from, rates.get("session"), rates.get("extended_care"))


@dataclass(frozen=True)
class Span:
    """The days of a month (a mask) on which one approved schedule is the one in force."""

    schedule: ApprovedSchedule
    mask: int


def effective_cap(city_cap_fen: int | None, district_cap_fen: int | None) -> int | None:
    """The binding cap per session: the lower of the city's and the district's, where set (R2, R10)."""
    caps = [c for c in (city_cap_fen, district_cap_fen) if c is not None]
    return min(caps) if caps else None


def schedule_problems(items: list[FeeItem], *, cap_fen: int | None,
                      disclosed_fen: Mapping[str, int] | None = None) -> list[str]:
    """Every reason a proposed schedule cannot be approved; empty when it can."""
    problems: list[str] = []
    if not items:
        problems.append("a fee schedule needs at least one item")
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}] ({item.category})"
        if item.category not in CATEGORIES:
            problems.append(f"{where}: only {', '.join(CATEGORIES)} may be charged to families (R16, R18)")
        if item.category in seen:
            problems.append(f"{where}: a category may appear once; two rates for one service is not a standard")
        seen.add(item.category)
        if item.unit != "per_session":
            problems.append(f"{where}: charged {item.unit}, but charges follow the sessions actually attended, "
                            "so every item is per_session (R17)")
        if item.amount_fen < 0:
            problems.append(f"{where}: amount_fen {item.amount_fen} is negative")
        if cap_fen is not None and item.amount_fen > cap_fen:
            problems.append(f"{where}: {item.amount_fen} fen per session is above the cap of {cap_fen} fen (R2, R10)")
        if disclosed_fen is not None and item.category in disclosed_fen and item.amount_fen > disclosed_fen[item.category]:
            problems.append(f"{where}: {item.amount_fen} fen is above the disclosed standard of "
                            f"{disclosed_fen[item.category]} fen for the programme (R4, R25)")
    return problems


def spans_for(period: str, schedules: Iterable[ApprovedSchedule]) -> list[Span]:
    """Which approved schedule is in force on each day of the month: the one with the latest
    effective_from on or before that day. Days before every schedule belong to no span."""
    first, last = parse_period(period)
    ordered = sorted((s for s in schedules if s.effective_from <= last), key=lambda s: (s.effective_from, s.fee_schedule_id))
    spans: list[Span] = []
    claimed = 0
    for schedule in reversed(ordered):
        mask = mask_from(schedule.effective_from, period) & ~claimed
        if mask:
            spans.append(Span(schedule, mask))
            claimed |= mask
    return list(reversed(spans))
