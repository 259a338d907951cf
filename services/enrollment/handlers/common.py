"""What every use case shares: the clock, the school-local calendar, and who the caller is in events.

Every command handler that needs the time takes `clock` (default: the machine's UTC clock); a test
passes its own, so no rule depends on when the test runs."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from services.enrollment.db import EnrollmentUoW, SchoolRow
from services.enrollment.domain import Actor, NotFound, require_school_scope
from shared.time import SCHOOL_TZ
from shared.time import utc_now as utcnow

Clock = Callable[[], datetime]


def today_local(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SCHOOL_TZ).date()


async def with_position(uow: EnrollmentUoW, actor: Actor) -> Actor:
    """School callers carry their staff position into events, so the principal is named as such (R27)."""
    if actor.role != "school" or actor.position is not None:
        return actor
    staff = await uow.staff(actor.subject)
    position = staff.position if staff is not None and staff.school_id == actor.school_id else None
    return Actor(actor.subject, actor.role, actor.school_id, actor.district_id, (position or "").lower() or None)


async def school_in_scope(uow: EnrollmentUoW, actor: Actor, school_id: str, *, doing: str) -> SchoolRow:
    """The school, if the caller may act for it (R27); 404 when it does not exist."""
    school = await uow.school(school_id)
    if school is None:
        raise NotFound(f"school {school_id} does not exist")
    require_school_scope(actor, school.school_id, school.district_id, doing=doing)
    return school
