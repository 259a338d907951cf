"""A month of a school's money on the real broker and database: enrollment and attendance events in,
schedule approval, prepayment, subsidy and spending over HTTP, month-end settlement (twice), payments
and the disclosure; every money event exactly once on billing.events and the totals reconcile to the
fen (R9, R10, R16-R21)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from local.platform import Platform
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, BILLING_EVENTS, ENROLLMENT_EVENTS
from tests.integration.kafkatools import caught_up, eventually, produce, read_topic
from tests.tokens import mint
from tests.unit.billing.builders import School, school_days

pytestmark = pytest.mark.integration
DAYS = school_days("2025-09")  # 22 weekdays
SESSION_FEN, CARE_FEN = 1500, 800
# n -> (hardship, extended care granted, days attended, days in extended care)
STUDENTS = {
    1: (False, True, 22, 5),
    2: (False, True, 18, 0),
    3: (False, False, 20, 2),  # kept late twice without asking for care: not charged for it (R13)
    4: (False, False, 15, 0),  # prepaid the whole month; 7 sessions not used are refunded (R17)
    5: (False, False, 0, 0),  # enrolled, never came, paid nothing: nothing to settle, no statement
    6: (True, True, 21, 3),  # hardship: charged nothing, waived with the verification reference (R9)
    7: (True, False, 12, 0),
}
MONEY_EVENTS = ("FeeCharged", "FeeWaived", "SubsidyGranted", "PaymentReceived", "FeeSettled", "RefundIssued",
                "PayoutIssued", "ExpenseRecorded")
ID_FIELD = {"FeeCharged": "charge_id", "FeeWaived": "waiver_id", "SubsidyGranted": "subsidy_id",
            "PaymentReceived": "payment_id", "FeeSettled": "settlement_id", "RefundIssued": "refund_id",
            "PayoutIssued": "payout_id", "ExpenseRecorded": "expense_id", "DisclosurePublished": "disclosure_id",
            "FeeScheduleApproved": "fee_schedule_id", "DistributionPlanRecorded": "plan_id",
            "DistributionPlanReviewed": "plan_id"}


def _pair(event: Event, producer: str) -> tuple[bytes, bytes]:
    envelope = new_envelope(event, producer=producer)
    return envelope.key.encode(), encode(envelope)


def _bearer(role: str, subject: str, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role, **scope)}"}


async def _billing_events(kafka_bootstrap: str, school_id: str) -> list[dict]:
    out = []
    for r in await read_topic(kafka_bootstrap, BILLING_EVENTS):
        envelope = json.loads(r.value)
        if envelope["payload"].get("school_id") == school_id:
            out.append(envelope)
    return out


async def test_a_month_of_attendance_settles_pays_and_discloses_each_money_event_once_and_to_the_fen(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = School("sch-bil", fee_fen=SESSION_FEN, care_fen=CARE_FEN)
    sid = school.school_id
    as_school = _bearer("school", "stf-bil-principal", school_id=sid)
    as_district = _bearer("district", "off-bil", district_id=school.district_id)

    # Enrollment as enrollment publishes it (its service is not needed for billing's flow).
    enrollment = [_pair(school.programme(), "enrollment")]
    for n, (hardship, care, _, _) in STUDENTS.items():
        enrollment += [_pair(school.approved(n, hardship=hardship, extended_care=care), "enrollment"),
                      _pair(school.filed(n, hardship=hardship, extended_care=care), "enrollment")]
    await produce(kafka_bootstrap, ENROLLMENT_EVENTS, enrollment)

    async with httpx.AsyncClient(base_url=platform["billing"].url, timeout=60) as client:
        async def accounts_open() -> bool:
            for n in STUDENTS:
                reply = await client.get(f"/v1/accounts/{school.student(n)}/{school.programme_id}", headers=as_school)
                if reply.status_code != 200:
                    return False
            return True

        await eventually(accounts_open, timeout=90, what="billing to open every fee account")

        # R10: the school submits what its parents' committee agreed; the district approves it.
        submitted = await client.post("/v1/fee-schedules", headers=as_school, json={
            "school_id": sid, "programme_id": school.programme_id, "district_id": school.district_id,
            "items": [{"category": "session", "amount_fen": SESSION_FEN}, {"category": "extended_care", "amount_fen": CARE_FEN}],
            "parents_committee_agreed_on": "2025-08-15", "parents_committee_ref": "pc-bil-1", "effective_from": "2025-09-01"})
        assert submitted.status_code == 201, submitted.text
        approved = await client.post(f"/v1/fee-schedules/{submitted.json()['fee_schedule_id']}/approve", headers=as_district)
        assert approved.status_code == 200, approved.text
        plan = await client.post("/v1/distribution-plans", headers=as_school, json={
            "school_id": sid, "per_session_fen": 6000, "extended_care_per_session_fen": 3000, "approval_ref": "jdh-bil",
            "approved_on": "2025-08-30", "effective_from": "2025-09-01", "paid_from_account": f"acct-{sid}"})
        assert plan.status_code == 201, plan.text
        assert plan.json()["review_status"] == "proposed"
        reviewed = await client.post(f"/v1/distribution-plans/{plan.json()['plan_id']}/review", headers=as_district,
                                     json={"decision": "approved"})
        assert reviewed.status_code == 200 and reviewed.json()["review_status"] == "approved", reviewed.text
        prepay = await client.post("/v1/payments", headers=as_school, json={"payments": [{
            "external_ref": f"wx-{sid}-pre4", "method": "wechat_pay", "school_id": sid, "student_id": school.student(4),
            "programme_id": school.programme_id, "amount_fen": 22 * SESSION_FEN, "received_at": "2025-09-01T02:00:00Z",
            "deposited_to_account": f"acct-{sid}", "prepaid_period": "2025-09"}]})
        assert prepay.json()["accepted"] == 1, prepay.text
        subsidy = await client.post("/v1/subsidies", headers=as_district, json={
            "subsidy_ref": f"czj-{sid}", "school_id": sid, "amount_fen": 500000, "purpose": "utilities",
            "period": "2025-09", "deposited_to_account": f"acct-{sid}"})
        assert subsidy.status_code == 201, subsidy.text
        expense = {"expense_ref": "v-1", "school_id": sid, "category": "group_accident_insurance", "amount_fen": 35000,
                   "payee": "中国人民财产保险", "details": "2025秋季学生团体意外险", "spent_on": "2025-09-03",
                   "paid_from_account": f"acct-{sid}"}
        assert (await client.post("/v1/expenses", headers=as_school, json=expense)).status_code == 201
        refused = await client.post("/v1/expenses", headers=as_school,
                                    json={**expense, "expense_ref": "v-2", "category": "management_fee"})
        assert refused.status_code == 422 and "management fee" in refused.json()["detail"]

        # A month of attendance, as the attendance service publishes it, every record sent twice (R15).
        attendance = []
        for n, (_, _, attended, cared) in STUDENTS.items():
            for i, day in enumerate(DAYS[:attended]):
                attendance.append(_pair(school.check_in(n, day, staff="stf-bil-1"), "attendance"))
                if i < cared:
                    attendance.append(_pair(school.extended_care(n, day, staff="stf-bil-2"), "attendance"))
                attendance.append(_pair(school.check_out(n, day, extended_care=i < cared, staff="stf-bil-1"), "attendance"))
        await produce(kafka_bootstrap, ATTENDANCE_EVENTS, attendance + attendance)
        await eventually(lambda: caught_up(kafka_bootstrap, "billing", ATTENDANCE_EVENTS), timeout=120,
                         what="billing to consume the month of attendance")

        first = await client.post("/v1/settlements", headers=as_school, json={"school_id": sid, "period": "2025-09"})
        second = await client.post("/v1/settlements", headers=as_district, json={"school_id": sid, "period": "2025-09"})
        assert first.status_code == 200, first.text
        (run,) = first.json()["schools"]
        (rerun,) = second.json()["schools"]
        assert run["statements"] == len(STUDENTS) - 1 and run["skipped"] == []
        assert (rerun["statements"], rerun["events"], rerun["settled_concurrently"]) == (0, 0, 0)

        # Families pay their statements; one pays twice with the same reference.
        statements = {s["student_id"]: s for s in (await client.get(
            f"/v1/schools/{sid}/statements", params={"period": "2025-09"}, headers=as_school)).json()}
        payments = []
        for n in (1, 2, 3):
            owed = statements[school.student(n)]["outstanding_fen"]
            payments.append({"external_ref": f"wx-{sid}-{n}", "method": "alipay", "school_id": sid,
                             "student_id": school.student(n), "amount_fen": owed,
                             "received_at": "2025-10-03T04:00:00Z", "deposited_to_account": f"acct-{sid}"})
        paid = await client.post("/v1/payments", headers=as_school, json={"payments": payments + payments[:1]})
        assert [r["status"] for r in paid.json()["results"]] == ["accepted"] * 3 + ["duplicate"]
        # Cash basis: amounts count on the day the money moved; the month was settled today.
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        disclosure = await client.post("/v1/disclosures", headers=as_school,
                                       json={"school_id": sid, "period_start": "2025-09-01", "period_end": today})
        assert disclosure.status_code == 201, disclosure.text
        books = (await client.get(f"/v1/schools/{sid}/books", params={"from": "2025-09-01", "to": today},
                                  headers=as_district)).json()
        guardian_view = await client.get(f"/v1/students/{school.student(6)}/statements",
                                         headers=_bearer("guardian", school.guardian(6)))

    expected_events = {"FeeScheduleApproved": 1, "DistributionPlanRecorded": 1, "DistributionPlanReviewed": 1,
                       "SubsidyGranted": 1,
                       "ExpenseRecorded": 1, "FeeSettled": 6, "FeeWaived": 2, "RefundIssued": 1, "PayoutIssued": 2,
                       "PaymentReceived": 4, "DisclosurePublished": 1, "FeeCharged": 5}
    total = sum(expected_events.values())
    events = await eventually(lambda: _at_least(kafka_bootstrap, sid, total), timeout=90,
                              what=f"{total} billing events of {sid} on the topic")

    # Exactly once: one record per event id, and one event per business id, of each type.
    assert Counter(e["type"] for e in events) == expected_events
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(len({e["payload"][ID_FIELD[t]] for e in events if e["type"] == t}) == n for t, n in expected_events.items())

    by_type = defaultdict(list)
    for e in events:
        by_type[e["type"]].append(e["payload"])
    charged = {}
    for n, (hardship, care, attended, cared) in STUDENTS.items():
        charged[school.student(n)] = 0 if hardship else attended * SESSION_FEN + (cared * CARE_FEN if care else 0)
    per_student = defaultdict(int)
    for charge in by_type["FeeCharged"]:
        assert charge["unit_price_fen"] in (SESSION_FEN, CARE_FEN)
        per_student[charge["student_id"]] += charge["amount_fen"]
    assert {s: per_student.get(s, 0) for s in charged} == charged
    assert {s["student_id"]: s["charged_fen"] for s in by_type["FeeSettled"]} == {
        s: fen for s, fen in charged.items() if s != school.student(5)}
    waivers = {w["student_id"]: w for w in by_type["FeeWaived"]}
    assert waivers[school.student(6)]["amount_fen"] == 21 * SESSION_FEN + 3 * CARE_FEN
    assert waivers[school.student(7)]["amount_fen"] == 12 * SESSION_FEN
    assert all(w["reason"] == "hardship" and w["verified_by"] == "stf-verifier" and w["verification_ref"] for w in waivers.values())
    (refund,) = by_type["RefundIssued"]
    assert (refund["student_id"], refund["amount_fen"], refund["reason"]) == (school.student(4), 7 * SESSION_FEN,
                                                                          "session_not_provided")
    payouts = {p["staff_id"]: p["amount_fen"] for p in by_type["PayoutIssued"]}
    # stf-bil-1 ran all 22 sessions and handed children over from extended care on 5 days; stf-bil-2 supervised those 5.
    assert payouts == {"stf-bil-1": 22 * 6000 + 5 * 3000, "stf-bil-2": 5 * 3000}

    # Every money event is balanced double entry, and the books add up to the fen.
    bank = 0
    accounts = defaultdict(int)
    for e in events:
        if e["type"] in MONEY_EVENTS:
            for p in e["payload"]["postings"]:
                accounts[p["debit"]] += p["amount_fen"]
                accounts[p["credit"]] -= p["amount_fen"]
    assert sum(accounts.values()) == 0
    assert {k: v for k, v in books["balances"].items() if v} == {k: v for k, v in accounts.items() if v}
    income = sum(p["amount_fen"] for p in by_type["PaymentReceived"])
    bank = income + 500000 - refund["amount_fen"] - sum(payouts.values()) - 35000
    (published,) = by_type["DisclosurePublished"]
    assert published == disclosure.json()
    assert (published["fee_income_fen"], published["refunded_fen"], published["payouts_fen"]) == (
        income, 7 * SESSION_FEN, sum(payouts.values()))
    assert published["balance_fen"] == bank == accounts["bank"]
    assert published["waived_fen"] == sum(w["amount_fen"] for w in waivers.values())
    assert published["students_served"] == 6 and published["outstanding_fen"] == 0
    assert accounts["parent_receivables"] == accounts["parent_credit"] == accounts["refunds_payable"] == 0
    assert [s["charged_fen"] for s in guardian_view.json()] == [0]


async def _at_least(kafka_bootstrap: str, school_id: str, n: int) -> list[dict] | None:
    events = await _billing_events(kafka_bootstrap, school_id)
    return events if len(events) >= n else None
