"""The month so far on actual attendance, on PostgreSQL: it charges and waives exactly what settling
the month makes (R9, R13, R17), writes and locks nothing, and answers only the school, its district,
the city and auditors (R27), with a clear 4xx for a bad period or an unknown school."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import text

from services.billing.handlers.month_to_date import month_to_date
from tests.tokens import mint
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published, record
from tests.unit.billing.flows import NOW, approve_schedule, attend, billing_app, enroll, pay, settle

DAYS = school_days("2025-09")  # 22 weekdays; DAYS[:10] are 1-12 September
MID_MONTH = datetime(2025, 9, 16, 4, 0, tzinfo=UTC)  # noon in Shanghai, the month still running


@pytest.fixture
async def client(uow_factory) -> AsyncIterator[httpx.AsyncClient]:
    app = billing_app(uow_factory)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        yield c


def auth(role: str, subject: str = "someone", **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role, **scope)}"}


async def _month_of_a_school(consumer, uow_factory) -> School:
    """Five families in September 2025: extended care asked for and used, care used but never asked
    for (free, R13), a hardship family (R9), a prepaid family, and one withdrawn on the 5th (R1)."""
    school = School("sch-mtd")
    await enroll(consumer, school, {1: (False, True), 2: (False, False), 3: (True, True), 4: (False, False),
                                   5: (False, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, DAYS[:10], care_days=DAYS[:3])
    await attend(consumer, school, 2, DAYS[:6], care_days=DAYS[:2])
    await attend(consumer, school, 3, DAYS[:9], care_days=DAYS[:4])
    await attend(consumer, school, 4, DAYS[2:8])
    await attend(consumer, school, 5, DAYS[:7])
    await consumer.process([record(school.withdrawn(5, date(2025, 9, 5)))])
    await pay(uow_factory, school, 4, 22 * 1500, f"wx-{school.school_id}-4", prepaid_period="2025-09")
    return school


async def _view(uow_factory, school: School, now: datetime, period: str = "2025-09"):
    async with uow_factory() as uow:
        return await month_to_date(uow, school_id=school.school_id, period=period, now=now, chunk_size=2)


async def test_the_month_so_far_charges_and_waives_exactly_what_settling_the_month_makes(consumer, uow_factory,
                                                                                        billing_db) -> None:
    school = await _month_of_a_school(consumer, uow_factory)

    running = await _view(uow_factory, school, MID_MONTH)
    summary = await settle(uow_factory, school)
    settled = await _view(uow_factory, school, NOW)

    charged = (10 * 1500 + 3 * 800) + 6 * 1500 + 6 * 1500 + 4 * 1500  # student 5 only until the 5th (R1)
    waived = 9 * 1500 + 4 * 800
    assert (running.total.charged_fen, running.total.waived_fen) == (charged, waived)
    assert (summary.charged_fen, summary.waived_fen) == (charged, waived)
    statements = payloads(await published(billing_db, school.school_id), "FeeSettled")
    assert sum(s["charged_fen"] for s in statements) == charged and sum(s["waived_fen"] for s in statements) == waived
    assert (running.total.accounts, running.total.hardship_accounts) == (summary.statements, summary.hardship_statements) == (5, 1)
    assert running.total.sessions_attended == 10 + 6 + 9 + 6 + 4
    assert running.total.extended_care_sessions == 3 + 2 + 4  # care used but not asked for is counted, not charged
    assert (running.month_over, running.provisional, running.through) == (False, True, date(2025, 9, 16))
    assert running.total.statements_made == 0 and "Provisional" in running.note
    assert (settled.total.charged_fen, settled.total.waived_fen) == (charged, waived)
    assert (settled.month_over, settled.provisional, settled.total.statements_made) == (True, False, 5)
    ((provided, _),) = running.programmes.values()
    assert provided == 10


async def test_the_month_so_far_writes_nothing_publishes_nothing_and_waits_for_no_lock(consumer, uow_factory,
                                                                                      billing_db) -> None:
    school = await _month_of_a_school(consumer, uow_factory)
    before = await published(billing_db, school.school_id)

    async with uow_factory() as holder:  # a payment in flight holds its account row
        assert await holder.account(school.student(1), school.programme_id, lock=True) is not None
        view = await asyncio.wait_for(_view(uow_factory, school, NOW), timeout=60)
        await holder.session.rollback()

    assert view.total.accounts == 5 and view.month_over and view.provisional
    assert await published(billing_db, school.school_id) == before
    async with billing_db.engine.connect() as conn:
        made = (await conn.execute(text("select count(*) from statements where school_id = :s"),
                                   {"s": school.school_id})).scalar()
        runs = (await conn.execute(text("select count(*) from settlement_runs where school_id = :s"),
                                   {"s": school.school_id})).scalar()
    assert (made, runs) == (0, 0)


async def test_a_programme_without_an_approved_schedule_shows_nothing_charged_and_says_why(consumer,
                                                                                          uow_factory) -> None:
    school = School("sch-mtd")
    await enroll(consumer, school, {1: (False, False)})
    await attend(consumer, school, 1, DAYS[:4])

    view = await _view(uow_factory, school, MID_MONTH)

    assert view.programmes == {} and (view.total.charged_fen, view.total.waived_fen) == (0, 0)
    assert "no approved fee schedule" in view.skipped[0]


async def test_the_school_its_district_the_city_and_auditors_may_read_it_and_a_guardian_may_not(
        consumer, uow_factory, client) -> None:
    school = await _month_of_a_school(consumer, uow_factory)
    url = f"/v1/schools/{school.school_id}/month-to-date"

    own = await client.get(url, params={"period": "2025-09"}, headers=auth("school", school_id=school.school_id))
    district = await client.get(url, params={"period": "2025-09"}, headers=auth("district", district_id=school.district_id))
    city = await client.get(url, params={"period": "2025-09"}, headers=auth("city"))
    auditor = await client.get(url, params={"period": "2025-09"}, headers=auth("auditor"))
    guardian = await client.get(url, params={"period": "2025-09"}, headers=auth("guardian", school.guardian(1)))
    other_school = await client.get(url, params={"period": "2025-09"}, headers=auth("school", school_id="sch-elsewhere"))
    other_district = await client.get(url, params={"period": "2025-09"}, headers=auth("district", district_id="dst-x"))
    anonymous = await client.get(url, params={"period": "2025-09"})

    assert [r.status_code for r in (own, district, city, auditor)] == [200] * 4
    assert [r.status_code for r in (guardian, other_school, other_district, anonymous)] == [403, 403, 403, 401]
    body = own.json()
    assert (body["total"]["charged_fen"], body["total"]["waived_fen"]) == (
        (10 * 1500 + 3 * 800) + 6 * 1500 + 6 * 1500 + 4 * 1500, 9 * 1500 + 4 * 800)
    assert body["month_over"] and body["provisional"] and body["through"] == "2025-09-30"
    assert [p["programme_id"] for p in body["programmes"]] == [school.programme_id]
    assert body["programmes"][0]["accounts"] == body["total"]["accounts"] == 5


async def test_a_bad_period_or_an_unknown_school_gets_a_clear_4xx(consumer, uow_factory, client) -> None:
    school = await _month_of_a_school(consumer, uow_factory)
    url = f"/v1/schools/{school.school_id}/month-to-date"
    city = auth("city")

    malformed = [await client.get(url, params={"period": p}, headers=city) for p in ("2025-13", "202509", "Sept")]
    future = await client.get(url, params={"period": "2999-01"}, headers=city)
    unknown = await client.get("/v1/schools/sch-nowhere-at-all/month-to-date", params={"period": "2025-09"},
                               headers=city)
    running = await client.get(url, headers=city)

    assert [r.status_code for r in malformed] == [422, 422, 422]
    assert future.status_code == 422 and "has not begun" in future.json()["detail"]
    assert unknown.status_code == 404 and "sch-nowhere-at-all" in unknown.json()["detail"]
    assert running.status_code == 200 and running.json()["provisional"] and not running.json()["month_over"]
    # This school's attendance is all in September 2025; only the prepaid family's credit is still held.
    assert (running.json()["total"]["accounts"], running.json()["total"]["charged_fen"]) == (1, 0)
