"""R1: a guardian reports pressure to enroll, anonymously: the report and its event name no one, a resent report
is the same report, the school never reads the reports, its district and the city do."""
from __future__ import annotations

import httpx

from tests.unit.enrollment.builders import World, bearer
from tests.unit.enrollment.conftest import outbox_events


async def test_a_guardians_report_is_anonymous_resendable_and_read_by_the_district_not_the_school(
        client: httpx.AsyncClient, runtime, prefix) -> None:
    w = World(prefix)
    await w.load_reference(client)
    body = {"report_key": "k-1", "school_id": w.school, "programme_id": w.programme, "happened_on": "2025-08-26",
            "what_happened": "班主任在家长群要求全班必须报名，不报名打电话13812345678说明"}
    first = await client.post("/v1/coercion-reports", json=body, headers=w.guardian_token(0))
    assert first.status_code == 201, first.text
    again = await client.post("/v1/coercion-reports", json=body, headers=w.guardian_token(0))
    assert again.status_code == 200 and again.json()["report_id"] == first.json()["report_id"]
    other = await client.post("/v1/coercion-reports", json=body, headers=w.guardian_token(1))
    assert other.status_code == 201 and other.json()["report_id"] != first.json()["report_id"]
    assert "13812345678" not in first.text  # a number in the account is masked before anyone reads it

    (event, _) = [e for e in await outbox_events(runtime, key=w.school) if e["type"] == "CoercionReported"]
    assert event["payload"]["reported_by"] == "anonymous" and event["payload"]["reported_by_role"] == "guardian"
    assert not any(g in str(event) for g in w.guardians) and not any(s in str(event) for s in w.students)

    url = f"/v1/schools/{w.school}/coercion-reports"
    assert (await client.get(url, headers=w.school_token)).status_code == 403
    assert (await client.get(url, headers=bearer("district", "off-x", district="dst-elsewhere"))).status_code == 403
    assert (await client.get(url, headers=w.guardian_token(0))).status_code == 403
    listed = await client.get(url, headers=w.district_token)
    assert listed.status_code == 200 and len(listed.json()) == 2
    assert not any(g in listed.text for g in w.guardians)
    assert (await client.get(url, headers=w.city)).status_code == 200

    assert (await client.post("/v1/coercion-reports", json=body, headers=w.school_token)).status_code == 403
    future = await client.post("/v1/coercion-reports", json={**body, "report_key": "k-2", "happened_on": "2099-01-01"},
                               headers=w.guardian_token(0))
    assert future.status_code == 422
