"""What every use case shares: the clock, the school-local calendar, and who the caller is in events."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from services.enrollment.db import EnrollmentUoW, SchoolRow
from services.enrollment.domain import Actor, NotFound, require_school_scope

# Schools keep Asia/Shanghai time, which has had no daylight saving since 1991: a fixed offset.
SCHOOL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


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
