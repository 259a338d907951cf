"""R10: a school's labour-fee distribution plan is proposed until the district of the school reviews it;
payouts follow approved plans only (R20); the decision is filed with the city as DistributionPlanReviewed,
and the city lists every school's plans with their review."""
from __future__ import annotations

import pytest

from services.billing.domain import DomainError
from services.billing.handlers import schedules as s
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import auth, payloads, published
from tests.unit.billing.flows import NOW, OFFICER, approve_schedule, attend, enroll, settle
from tests.unit.billing.test_distribution_plan import _plan

DAYS = school_days("2025-09")


async def _proposed(consumer, uow_factory, school: School) -> str:
    await enroll(consumer, school, {1: (False, False)})
    async with uow_factory() as uow:
        row, _ = await s.record_distribution_plan(uow, _plan(school), s.Actor("stf-principal", "school_staff"), NOW)
        await uow.commit()
    return row.plan_id


async def test_no_payout_follows_a_plan_the_district_has_not_approved(consumer, uow_factory, billing_db) -> None:
    school = School("sch-plan-a")
    plan_id = await _proposed(consumer, uow_factory, school)
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, DAYS[:5])

    summary = await settle(uow_factory, school)
    assert summary.payouts == 0 and any("approved by the district" in why for why in summary.skipped)

    async with uow_factory() as uow:
        await s.review_distribution_plan(uow, plan_id, "approved", None, OFFICER, NOW)
        await uow.commit()
    events = await published(billing_db, school.school_id)
    (review,) = payloads(events, "DistributionPlanReviewed")
    assert (review["plan_id"], review["decision"], review["district_id"]) == (plan_id, "approved", school.district_id)
    assert (review["reviewed_by"], review["reviewed_by_role"]) == (OFFICER.subject, OFFICER.role)


async def test_a_plan_is_reviewed_once_returned_only_with_a_reason(consumer, uow_factory, billing_db) -> None:
    school = School("sch-plan-b")
    plan_id = await _proposed(consumer, uow_factory, school)
    async with uow_factory() as uow:
        with pytest.raises(DomainError) as no_reason:
            await s.review_distribution_plan(uow, plan_id, "returned", "  ", OFFICER, NOW)
    assert no_reason.value.status == 422
    for _ in range(2):  # the same decision again publishes nothing more
        async with uow_factory() as uow:
            await s.review_distribution_plan(uow, plan_id, "returned", "rates above the district standard", OFFICER, NOW)
            await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DomainError) as undone:
            await s.review_distribution_plan(uow, plan_id, "approved", None, OFFICER, NOW)
    assert undone.value.status == 409
    reviews = payloads(await published(billing_db, school.school_id), "DistributionPlanReviewed")
    assert [(r["decision"], r["reason"]) for r in reviews] == [("returned", "rates above the district standard")]


async def test_only_the_schools_district_or_the_city_reviews_and_the_city_sees_every_plan(consumer, uow_factory,
                                                                                          client) -> None:
    school = School("sch-plan-c")
    plan_id = await _proposed(consumer, uow_factory, school)
    url = f"/v1/distribution-plans/{plan_id}/review"
    approve = {"decision": "approved"}
    assert (await client.post(url, json=approve, headers=auth("school", school_id=school.school_id))).status_code == 403
    assert (await client.post(url, json=approve, headers=auth("district", district_id="dst-elsewhere"))).status_code == 403
    assert (await client.post(url, json={"decision": "returned"},
                              headers=auth("district", district_id=school.district_id))).status_code == 422
    ok = await client.post(url, json=approve, headers=auth("district", "off-9", district_id=school.district_id))
    assert ok.status_code == 200, ok.text
    assert (ok.json()["review_status"], ok.json()["reviewed_by"]) == ("approved", "off-9")
    assert (await client.post(url, json=approve, headers=auth("district", district_id=school.district_id))).status_code == 200

    city = (await client.get("/v1/distribution-plans?status=approved", headers=auth("city"))).json()
    assert plan_id in {p["plan_id"] for p in city}
    own = (await client.get("/v1/distribution-plans", headers=auth("district", district_id=school.district_id))).json()
    assert [p["plan_id"] for p in own if p["school_id"] == school.school_id] == [plan_id]
    foreign = await client.get(f"/v1/distribution-plans?district_id={school.district_id}",
                               headers=auth("district", district_id="dst-elsewhere"))
    assert foreign.status_code == 403
    assert (await client.get("/v1/distribution-plans", headers=auth("school", school_id=school.school_id))).status_code == 403
    mine = await client.get(f"/v1/distribution-plans?school_id={school.school_id}",
                            headers=auth("school", school_id=school.school_id))
    assert [p["review_status"] for p in mine.json()] == ["approved"]
