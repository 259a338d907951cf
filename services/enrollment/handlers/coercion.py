"""Coercion reports (R1): a guardian reports being pressed to enroll a child, anonymously; districts, the city
and auditors read the reports of their schools, never who made them; the school does not read them."""
from __future__ import annotations

import hashlib
from datetime import date

from services.enrollment.db import EnrollmentUoW
from services.enrollment.domain import Actor, DomainError, Forbidden, NotFound, Problem
from services.enrollment.handlers.common import SCHOOL_TZ, Clock, utcnow
from shared.contracts.enrollment import CoercionReported
from shared.privacy import redact

READERS = ("district", "city", "auditor")


def report_id_of(guardian_id: str, report_key: str) -> str:
    """The same guardian resending the same report (same key) gets the same id; the id names nobody."""
    return "rpt-" + hashlib.sha256(f"{guardian_id}\x00{report_key}".encode()).hexdigest()[:20]


async def report_coercion(uow: EnrollmentUoW, actor: Actor, *, report_key: str, school_id: str,
                          programme_id: str | None, what_happened: str, happened_on: date,
                          clock: Clock = utcnow) -> tuple[CoercionReported, bool]:
    """Record and publish the report; (the report, whether it is new). Only a guardian reports."""
    if actor.role != "guardian":
        raise Forbidden("only a guardian reports pressure to enroll (R1)")
    if await uow.school(school_id) is None:
        raise NotFound(f"no school {school_id}")
    now = clock()
    if happened_on > now.astimezone(SCHOOL_TZ).date():
        raise DomainError(problems=[Problem(("body", "happened_on"), "happened_on is in the future", "R1")])
    report_id = report_id_of(actor.subject, report_key)
    found = await uow.coercion_report(report_id)
    if found is not None:
        return CoercionReported(**found), False
    event = CoercionReported(report_id=report_id, school_id=school_id, programme_id=programme_id,
                             what_happened=redact(what_happened), happened_on=happened_on, reported_at=now)
    await uow.add_coercion_report(event.model_dump())
    uow.publish(event)
    await uow.commit()
    return event, True


async def coercion_reports(uow: EnrollmentUoW, actor: Actor, school_id: str) -> list[CoercionReported]:
    """A school's reports for its district, the city and auditors (R1, R27); the school itself reads none."""
    school = await uow.school(school_id)
    if school is None:
        raise NotFound(f"no school {school_id}")
    if actor.role not in READERS or (actor.role == "district" and actor.district_id != school.district_id):
        raise Forbidden(f"{actor.subject} ({actor.role}) may not read coercion reports about {school_id} (R1, R27)")
    rows = await uow.coercion_reports_about(school_id)
    return [CoercionReported(**r) for r in rows]
