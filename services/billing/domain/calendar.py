"""Months and session days as bit masks: bit d-1 of a month's mask is its school-local day d.

A month of attendance for one student is one integer, so a fact seen twice or out of order is an
idempotent OR (R15, R17), and a whole month of a school settles from one row per student."""
from __future__ import annotations

import calendar
import re
from datetime import date
from functools import lru_cache

_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


@lru_cache(maxsize=256)
def parse_period(period: str) -> tuple[date, date]:
    """First and last school-local day of a month given as YYYY-MM; ValueError otherwise."""
    match = _PERIOD.match(period)
    if not match:
        raise ValueError(f"period {period!r} is not a month written YYYY-MM")
    year, month = int(match[1]), int(match[2])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_mask(period: str) -> int:
    """Every day of the month."""
    first, last = parse_period(period)
    return (1 << last.day) - 1


def day_bit(day: date) -> int:
    return 1 << (day.day - 1)


def mask_from(day: date | None, period: str) -> int:
    """Days of the month on or after `day` (all of them if day is None or before the month)."""
    first, last = parse_period(period)
    full = (1 << last.day) - 1
    if day is None or day <= first:
        return full
    if day > last:
        return 0
    return full & ~((1 << (day.day - 1)) - 1)


def mask_until(day: date | None, period: str) -> int:
    """Days of the month strictly before `day` (all of them if day is None or after the month)."""
    return period_mask(period) & ~mask_from(day, period) if day is not None else period_mask(period)


def days_in(mask: int, period: str) -> list[date]:
    """The school-local days whose bits are set, in order."""
    first, last = parse_period(period)
    out = []
    rest = mask & ((1 << last.day) - 1)
    while rest:
        lowest = rest & -rest
        out.append(first.replace(day=lowest.bit_length()))
        rest ^= lowest
    return out
