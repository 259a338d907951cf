"""Billing's HTTP routes in process, on PostgreSQL: role-scoped access (R27), schedule review under
the cap (R10), payments once per reference with a reason per refused record, the refusal of a
management fee (R19), and the public disclosure that reconciles with the books (R21)."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import auth, payloads, published
from tests.unit.billing.flows import approve_schedule, attend, enroll

DAYS = school_days("2025-09")


async def _settled_school(consumer, uow_factory, client) -> School:
    school = School("sch-api")
    await enroll(consumer, school, {1: (False, False), 2: (True, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, DAYS[:10])
    await attend(consumer, school, 2, DAYS[:12])
    reply = await client.post("/v1/settlements", json={"school_id": school.school_id, "period": "2025-09"},
                              headers=auth("school", "stf-1", school_id=school.school_id))
    assert reply.status_code == 200, reply.text
    return school


async def test_a_guardian_sees_only_their_own_childs_statements(consumer, uow_factory, client) -> None:
    school = await _settled_school(consumer, uow_factory, client)

    own = await client.get(f"/v1/students/{school.student(1)}/statements", headers=auth("guardian", school.guardian(1)))
    other = await client.get(f"/v1/students/{school.student(2)}/statements", headers=auth("guardian", school.guardian(1)))
    anonymous = await client.get(f"/v1/students/{school.student(1)}/statements")

    assert own.status_code == 200 and [s["charged_fen"] for s in own.json()] == [10 * 1500]
    assert other.status_code == 403
    assert anonymous.status_code == 401


async def test_a_school_or_district_sees_only_its_own_schools(consumer, uow_factory, client) -> None:
    school = await _settled_school(consumer, uow_factory, client)
    url = f"/v1/schools/{school.school_id}/statements?period=2025-09"

    assert (await client.get(url, headers=auth("school", school_id=school.school_id))).status_code == 200
    assert (await client.get(url, headers=auth("school", school_id="sch-elsewhere"))).status_code == 403
    assert (await client.get(url, headers=auth("district", district_id=school.district_id))).status_code == 200
    assert (await client.get(url, headers=auth("district", district_id="dst-elsewhere"))).status_code == 403
    assert (await client.get(url, headers=auth("auditor"))).status_code == 200
    hardship = [s for s in (await client.get(url, headers=auth("auditor"))).json() if s["hardship"]]
    assert [(s["charged_fen"], s["outstanding_fen"], s["waived_fen"]) for s in hardship] == [(0, 0, 12 * 1500)]


async def test_a_district_approves_only_its_own_schools_schedules_and_never_above_the_cap(consumer, uow_factory,
                                                                                         client, billing_db) -> None:
    school = School("sch-cap", fee_fen=5000)
    await enroll(consumer, school, {1: (False, False)})
    head = auth("school", "stf-1", school_id=school.school_id)
    body = {"school_id": school.school_id, "programme_id": school.programme_id,
            "items": [{"category": "session", "amount_fen": 2500}],
            "parents_committee_agreed_on": "2025-08-15", "parents_committee_ref": "pc-1", "effective_from": "2025-09-01"}
    cap = await client.put(f"/v1/fee-caps/districts/{school.district_id}", json={"cap_per_session_fen": 2000},
                           headers=auth("district", district_id=school.district_id))
    over = await client.post("/v1/fee-schedules", json=body, headers=head)
    body["items"] = [{"category": "session", "amount_fen": 1800}, {"category": "extended_care", "amount_fen": 700}]
    submitted = await client.post("/v1/fee-schedules", json=body, headers=head)
    schedule_id = submitted.json()["fee_schedule_id"]
    foreign = await client.post(f"/v1/fee-schedules/{schedule_id}/approve", headers=auth("district", district_id="dst-x"))
    approved = await client.post(f"/v1/fee-schedules/{schedule_id}/approve",
                                 headers=auth("district", "off-7", district_id=school.district_id))
    again = await client.post(f"/v1/fee-schedules/{schedule_id}/approve",
                              headers=auth("district", "off-7", district_id=school.district_id))
    float_money = await client.post("/v1/fee-schedules", headers=head, json={
        **body, "items": [{"category": "session", "amount_fen": 12.5}]})
    management = await client.post("/v1/fee-schedules", headers=head, json={
        **body, "items": [{"category": "management_fee", "amount_fen": 100}]})

    assert cap.status_code == 200
    assert over.status_code == 422 and "above the cap of 2000 fen" in over.json()["detail"]
    assert submitted.status_code == 201 and submitted.json()["status"] == "submitted"
    assert foreign.status_code == 403
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert again.status_code == 200
    assert float_money.status_code == 422 and management.status_code == 422
    events = await published(billing_db, school.school_id)
    (fsa,) = payloads(events, "FeeScheduleApproved")
    assert (fsa["approved_by"], fsa["cap_per_session_fen"], fsa["parents_committee_ref"]) == ("off-7", 2000, "pc-1")


async def test_payments_are_recorded_once_per_reference_with_a_reason_for_each_refused_record(consumer, uow_factory,
                                                                                              client, billing_db) -> None:
    school = await _settled_school(consumer, uow_factory, client)
    head = auth("school_system", "gate-1", school_id=school.school_id)
    good = {"external_ref": f"wx-{school.school_id}-1", "method": "wechat_pay", "school_id": school.school_id,
            "student_id": school.student(1), "amount_fen": 20000, "received_at": "2025-10-02T12:10:00+08:00",
            "deposited_to_account": "acct-main"}
    batch = [good, {**good, "external_ref": "wx-float", "amount_fen": 12.5},
             {**good, "external_ref": "wx-other", "school_id": "sch-other"},
             {**good, "external_ref": "wx-nobody", "student_id": "stu-nobody"}, "not an object"]

    first = await client.post("/v1/payments", json={"payments": batch}, headers=head)
    second = await client.post("/v1/payments", json={"payments": [good]}, headers=head)
    changed = await client.post("/v1/payments", json={"payments": [{**good, "amount_fen": 1}]}, headers=head)

    results = first.json()["results"]
    assert first.status_code == 200 and [r["status"] for r in results] == ["accepted"] + ["rejected"] * 4
    assert (results[0]["applied_fen"], results[0]["credit_fen"]) == (15000, 5000)  # the rest is held as credit
    assert "amount_fen" in results[1]["reason"] and "sch-other" in results[2]["reason"]
    assert "no fee account" in results[3]["reason"] and results[4]["reason"]
    assert second.status_code == 200 and second.json()["results"][0]["status"] == "duplicate"
    assert changed.status_code == 422 and "already recorded" in changed.json()["results"][0]["reason"]
    account = await client.get(f"/v1/accounts/{school.student(1)}/{school.programme_id}",
                               headers=auth("guardian", school.guardian(1)))
    assert (account.json()["outstanding_fen"], account.json()["credit_fen"], account.json()["balance_fen"]) == (0, 5000, -5000)
    events = await published(billing_db, school.school_id)
    assert len(payloads(events, "PaymentReceived")) == 1
    receipts = await client.get(f"/v1/students/{school.student(1)}/receipts", headers=auth("guardian", school.guardian(1)))
    assert [(r["kind"], r["amount_fen"]) for r in receipts.json()] == [("payment", 20000)]
    assert (await client.get(f"/v1/students/{school.student(1)}/receipts",
                             headers=auth("guardian", school.guardian(2)))).status_code == 403


async def test_a_management_fee_is_refused_and_reported_to_the_district(consumer, uow_factory, client, billing_db) -> None:
    school = School("sch-mgmt")
    await enroll(consumer, school, {1: (False, False)})
    head = auth("school", "stf-1", school_id=school.school_id)
    body = {"expense_ref": "v-1", "school_id": school.school_id, "category": "management_fee", "amount_fen": 50000,
            "payee": "学校", "details": "提取管理费", "spent_on": "2025-09-30", "paid_from_account": "acct-main"}

    refused = await client.post("/v1/expenses", json=body, headers=head)
    other = await client.post("/v1/expenses", json={**body, "expense_ref": "v-2", "category": "banquet"}, headers=head)
    allowed = await client.post("/v1/expenses", json={**body, "expense_ref": "v-3", "category": "group_accident_insurance",
                                                      "details": "团体意外险"}, headers=head)
    reported = await client.get("/v1/refusals", headers=auth("district", district_id=school.district_id))

    assert refused.status_code == 422 and "management fee" in refused.json()["detail"]
    assert other.status_code == 422 and "R19" in other.json()["detail"]
    assert allowed.status_code == 201
    mine = [r for r in reported.json() if r["school_id"] == school.school_id]
    assert [r["request"]["category"] for r in mine] == ["management_fee", "banquet"]
    events = await published(billing_db, school.school_id)
    assert [p["category"] for p in payloads(events, "ExpenseRecorded")] == ["group_accident_insurance"]


async def test_the_disclosure_is_public_and_reconciles_with_the_books(consumer, uow_factory, client) -> None:
    school = await _settled_school(consumer, uow_factory, client)
    await client.post("/v1/payments", headers=auth("school", school_id=school.school_id), json={"payments": [
        {"external_ref": f"wx-{school.school_id}-d", "method": "alipay", "school_id": school.school_id,
         "student_id": school.student(1), "amount_fen": 15000, "received_at": "2025-09-30T08:00:00Z",
         "deposited_to_account": "acct-main"}]})
    await client.post("/v1/subsidies", headers=auth("district", district_id=school.district_id), json={
        "subsidy_ref": "czj-1", "school_id": school.school_id, "amount_fen": 120000, "purpose": "utilities",
        "period": "2025-09", "deposited_to_account": "acct-main"})
    # Cash basis: each amount counts on the day it moved, and settlement happened today.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    body = {"school_id": school.school_id, "period_start": "2025-01-01", "period_end": today}

    published_now = await client.post("/v1/disclosures", json=body, headers=auth("school", "stf-p", school_id=school.school_id))
    again = await client.post("/v1/disclosures", json=body, headers=auth("school", "stf-p", school_id=school.school_id))
    public = await client.get(f"/v1/disclosures?school_id={school.school_id}")
    books = await client.get(f"/v1/schools/{school.school_id}/books?from=2025-01-01&to={today}",
                             headers=auth("auditor"))

    disclosure = published_now.json()
    assert published_now.status_code == 201 and again.status_code == 200 and public.json() == [disclosure]
    assert (disclosure["fee_income_fen"], disclosure["subsidy_income_fen"], disclosure["charged_fen"]) == (15000, 120000, 15000)
    assert disclosure["waived_fen"] == 12 * 1500 and disclosure["students_served"] == 2
    assert disclosure["balance_fen"] == books.json()["balances"]["bank"] == 135000
    assert books.json()["balanced"] is True and disclosure["outstanding_fen"] == 0


async def test_settlement_over_http_is_for_the_school_its_district_or_the_city(consumer, uow_factory, client) -> None:
    school = School("sch-who")
    await enroll(consumer, school, {1: (False, False)})
    body = {"school_id": school.school_id, "period": "2025-09"}

    assert (await client.post("/v1/settlements", json=body, headers=auth("guardian", school.guardian(1)))).status_code == 403
    assert (await client.post("/v1/settlements", json=body, headers=auth("auditor"))).status_code == 403
    assert (await client.post("/v1/settlements", json=body,
                              headers=auth("school", school_id="sch-other"))).status_code == 403
    assert (await client.post("/v1/settlements", json={**body, "period": "2025-13"},
                              headers=auth("city"))).status_code == 422
    unfinished = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    early = await client.post("/v1/settlements", json={**body, "period": unfinished}, headers=auth("city"))
    assert early.status_code == 409 and "has not ended" in early.json()["detail"]
    ok = await client.post("/v1/settlements", json={"district_id": school.district_id, "period": "2025-09"},
                           headers=auth("district", district_id=school.district_id))
    assert ok.status_code == 200 and [s["school_id"] for s in ok.json()["schools"]] == [school.school_id]


async def test_hostile_payments_are_each_refused_with_a_reason_and_their_neighbour_is_recorded(consumer, uow_factory,
                                                                                                client) -> None:
    school = await _settled_school(consumer, uow_factory, client)
    good = {"external_ref": f"wx-{school.school_id}-h", "method": "wechat_pay", "school_id": school.school_id,
            "student_id": school.student(1), "amount_fen": 1000, "received_at": "2025-10-02T12:10:00+08:00",
            "deposited_to_account": "acct-main"}
    nested: object = "x"
    for _ in range(200):
        nested = [nested]
    hostile = [{**good, "external_ref": "wx-\x00nul"}, {**good, "external_ref": "wx-sur", "deposited_to_account": "a\ud800"},
               {**good, "external_ref": "wx-late", "received_at": "9999-12-31T23:59:59-14:00"},
               {**good, "external_ref": "wx-big", "amount_fen": 2**64}, {**good, "external_ref": "wx-deep", "charge_ids": nested}]
    # json.dumps writes the lone surrogate as the escape \ud800, as a hostile client would send it
    body = json.dumps({"payments": [hostile[0], hostile[1], good, *hostile[2:]]}).encode()

    reply = await client.post("/v1/payments", content=body, headers={
        **auth("school_system", "gate-1", school_id=school.school_id), "Content-Type": "application/json"})

    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted", "rejected", "rejected", "rejected"]
    reasons = [r["reason"] for r in results]
    assert "NUL" in reasons[0] and "deposited_to_account" in reasons[1] and "years 1-9999" in reasons[3]
    assert "amount_fen" in reasons[4] and "charge_ids" in reasons[5]
