"""Programme session times: the school-local timetable and the UTC instants it means on one day (R7, R8, R13)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

# Timetables are school-local wall-clock times; every instant the service stores or publishes is UTC.
from shared.time import at_local

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Slot:
    """One weekly session slot: the days it runs, its start and the normal end (R7, R8)."""

    weekdays: frozenset[str]
    starts: time
    ends: time


@dataclass(frozen=True)
class SessionWindow:
    """One day's session of a programme, in UTC instants."""

    session_date: date
    starts_at: datetime
    ends_at: datetime
    # None when the programme offers no extended care (R8): a child still present at the normal end
    # is then escalated straight away.
    extended_care_ends_at: datetime | None

    def absence_due_at(self, grace: timedelta) -> datetime:
        return self.starts_at + grace

    @property
    def escalation_due_at(self) -> datetime:
        return self.extended_care_ends_at or self.ends_at

    def minutes_past_end(self, instant: datetime) -> int:
        """Whole minutes (rounded up) an instant lies past the normal end; 0 if not past it (R13, R17)."""
        past = (instant - self.ends_at).total_seconds()
        return 0 if past <= 0 else int(-(-past // 60))


@dataclass(frozen=True)
class Schedule:
    """A published programme as attendance needs it: when it runs, who is admitted to run it (R28) and
    who is first responsible (the publisher, normally the principal, R27)."""

    programme_id: str
    school_id: str
    district_id: str
    slots: tuple[Slot, ...]
    extended_care_until: time | None
    staff_ids: frozenset[str]
    responsible_id: str
    # The programme's activities as (activity_id, tier) pairs (R3, R7); None for a programme stored before
    # attendance kept them, whose activity records are then not checked against it.
    activities: tuple[tuple[str, str], ...] | None = None

    def window(self, day: date) -> SessionWindow | None:
        """The session on `day`, or None if the programme does not run that weekday."""
        return _window(self.slots, self.extended_care_until, day)

    def admits(self, staff_id: str) -> bool:
        """Only staff admitted to run this programme may check children in or hand them over (R11, R28)."""
        return staff_id in self.staff_ids

    def tier_of(self, activity_id: str) -> str | None:
        """The tier of one of the programme's activities; None if the programme has no such activity."""
        return dict(self.activities or ()).get(activity_id)


@lru_cache(maxsize=8192)
def _window(slots: tuple[Slot, ...], extended_care_until: time | None, day: date) -> SessionWindow | None:
    # Cached: a batch of thousands of records asks for the same few programme-days, and the time zone
    # arithmetic is the costly part.
    weekday = WEEKDAYS[day.weekday()]
    running = sorted((s for s in slots if weekday in s.weekdays), key=lambda s: s.starts)
    if not running:
        return None
    slot = running[0]
    extended = None
    if extended_care_until is not None and extended_care_until > slot.ends:
        extended = at_local(day, extended_care_until)
    return SessionWindow(day, at_local(day, slot.starts), at_local(day, slot.ends), extended)
