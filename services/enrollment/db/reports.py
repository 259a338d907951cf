"""Read-side queries the bureau, districts and schools need (R1, R7, R29): participation, waitlists,
time from application to filing, staff-entered shares. Reads only; scoping is the caller's filter."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import select

from services.enrollment.db.tables import ApplicationRow
from services.enrollment.db.uow import EnrollmentUoW


@dataclass(frozen=True)
class Scope:
    """Which rows a caller may read (R27): one school, one district, one guardian, or everything."""

    district_id: str | None = None
    school_id: str | None = None
    guardian_id: str | None = None


def _where(scope: Scope, alias: str = "") -> tuple[str, dict]:
    p = f"{alias}." if alias else ""
    clauses, params = ["true"], {}
    if scope.district_id is not None:
        clauses.append(f"{p}district_id = :district_id")
        params["district_id"] = scope.district_id
    if scope.school_id is not None:
        clauses.append(f"{p}school_id = :school_id")
        params["school_id"] = scope.school_id
    return " and ".join(clauses), params


async def participation(uow: EnrollmentUoW, scope: Scope, term: str | None) -> list[dict]:
    """Per school: eligible students, students enrolled (filed, not withdrawn) and the rate (R29)."""
    where, params = _where(scope, "s")
    params["term"] = term
    rows = await uow.session.execute(text(f"""
        with eligible as (
            select school_id, count(*) filter (where eligible) as n from students group by school_id),
        enrolled as (
            select a.school_id, count(distinct a.student_id) as n from applications a
            join programmes p on p.programme_id = a.programme_id
            where a.status = 'filed' and (cast(:term as text) is null or p.term = :term) group by a.school_id)
        select s.school_id, s.district_id, s.name, coalesce(e.n, 0) as eligible, coalesce(x.n, 0) as enrolled
        from schools s left join eligible e using (school_id) left join enrolled x using (school_id)
        where {where} order by s.district_id, s.school_id"""), params)
    return [dict(r._mapping) for r in rows]


async def staff_entered_shares(uow: EnrollmentUoW, scope: Scope) -> list[dict]:
    """Per class: applications, and how many school staff entered for guardians (R1 coercion signal)."""
    where, params = _where(scope, "a")
    rows = await uow.session.execute(text(f"""
        select a.school_id, a.district_id, a.class_id, count(*) as applications,
               count(*) filter (where a.on_behalf) as entered_by_staff
        from applications a where a.class_id is not null and {where}
        group by a.school_id, a.district_id, a.class_id order by a.school_id, a.class_id"""), params)
    return [dict(r._mapping) for r in rows]


async def filing_times(uow: EnrollmentUoW, scope: Scope) -> list[dict]:
    """Per district: how long from a guardian's application to the district's filing (R6), in hours."""
    where, params = _where(scope, "a")
    rows = await uow.session.execute(text(f"""
        select a.district_id, count(*) as filed,
               percentile_cont(0.5) within group (order by extract(epoch from a.filed_at - a.submitted_at)) / 3600
                   as median_hours,
               percentile_cont(0.9) within group (order by extract(epoch from a.filed_at - a.submitted_at)) / 3600
                   as p90_hours,
               max(extract(epoch from a.filed_at - a.submitted_at)) / 3600 as max_hours
        from applications a where a.filed_at is not null and {where}
        group by a.district_id order by a.district_id"""), params)
    return [{**dict(r._mapping), **{k: float(r._mapping[k]) for k in ("median_hours", "p90_hours", "max_hours")}}
            for r in rows]


async def waitlist_lengths(uow: EnrollmentUoW, scope: Scope) -> list[dict]:
    """Per programme: capacity, places taken, and how many wait (R7)."""
    where, params = _where(scope, "p")
    rows = await uow.session.execute(text(f"""
        select p.programme_id, p.school_id, p.district_id, p.capacity,
               count(a.*) filter (where a.status in ('approved', 'reported', 'filed')) as taken,
               count(a.*) filter (where a.status = 'waitlisted') as waiting
        from programmes p left join applications a on a.programme_id = p.programme_id
        where p.status = 'published' and {where}
        group by p.programme_id order by p.programme_id"""), params)
    return [dict(r._mapping) for r in rows]


async def applications(uow: EnrollmentUoW, scope: Scope, *, programme_id: str | None, status: str | None,
                       limit: int, offset: int) -> list[ApplicationRow]:
    query = select(ApplicationRow)
    if scope.district_id is not None:
        query = query.where(ApplicationRow.district_id == scope.district_id)
    if scope.school_id is not None:
        query = query.where(ApplicationRow.school_id == scope.school_id)
    if scope.guardian_id is not None:
        # A guardian sees the applications for their children, whichever guardian entered them.
        guardian = await uow.guardian(scope.guardian_id)
        query = query.where(ApplicationRow.student_id.in_(guardian.student_ids if guardian else []))
    if programme_id is not None:
        query = query.where(ApplicationRow.programme_id == programme_id)
    if status is not None:
        query = query.where(ApplicationRow.status == status)
    query = query.order_by(ApplicationRow.submitted_at, ApplicationRow.application_id).limit(limit).offset(offset)
    return list((await uow.session.exec(query)).all())
