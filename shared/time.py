"""School time, one way for every service: the schools' timezone, the school-local day an instant falls on,
wall-clock times as timetables and settings write them (HH:MM), and the UTC clock. Every instant stored or
published is UTC; days and wall-clock times are school-local (R7, R8, R12, R13)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

# The city's schools keep Asia/Shanghai time, UTC+8 without daylight saving since 1991: a fixed offset, so
# no time-zone database is needed (an auditor's machine recomputing school days from the ledger has none).
SCHOOL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utc_now() -> datetime:
    """Now, in UTC: the default clock services inject into their handlers."""
    return datetime.now(UTC)


def local_day(instant: datetime) -> date:
    """The school-local calendar day an instant falls on."""
    return instant.astimezone(SCHOOL_TZ).date()


def parse_hhmm(text: str) -> time:
    """A school-local wall-clock time written HH:MM (timetables, quiet hours)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def at_local(day: date, wall: time) -> datetime:
    """The UTC instant of a school-local wall-clock time on a day."""
    return datetime.combine(day, wall, SCHOOL_TZ).astimezone(UTC)


def term_bounds(term: str) -> tuple[date, date]:
    """First and last school-local day of a term written YYYY-autumn (September to January) or YYYY-spring
    (February to mid-July), the span insurance must cover (R30)."""
    year, season = term.split("-")
    if season == "autumn":
        return date(int(year), 9, 1), date(int(year) + 1, 1, 31)
    if season == "spring":
        return date(int(year), 2, 1), date(int(year), 7, 15)
    raise ValueError(f"unknown term {term!r}: YYYY-autumn or YYYY-spring")
