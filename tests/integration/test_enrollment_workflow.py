"""The voluntary workflow on real Kafka and PostgreSQL (R1, R4, R6, R7): nothing before disclosure;
then apply → approve → report → file → withdraw, each step's event on enrollment.events exactly once
and in order however often each command is sent; the freed place goes to the waitlist."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest

from local.platform import Platform
from shared.contracts.topics import ENROLLMENT_EVENTS
from tests.integration.kafkatools import eventually, read_topic
from tests.unit.enrollment.builders import World

pytestmark = pytest.mark.integration


async def _events_by_key(bootstrap: str, keys: set[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {k: [] for k in keys}
    for record in await read_topic(bootstrap, ENROLLMENT_EVENTS):
        key = record.key.decode() if record.key else None
        if key in found:
            found[key].append(json.loads(record.value))
    return found


async def test_the_whole_workflow_reaches_the_topic_in_order_once_per_step_despite_redelivered_commands(
    platform: Platform, kafka_bootstrap: str
) -> None:
    w = World(f"ienr{uuid.uuid4().hex[:6]}", students=2, capacity=1)
    first, second = w.students
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=60) as client:
        await w.load_reference(client)
        draft = await client.put(f"/v1/programmes/{w.programme}", json=w.programme_spec(), headers=w.school_token)
        assert draft.status_code == 201
        early = await client.post("/v1/applications", json=w.application(0), headers=w.guardian_token(0))
        assert early.status_code == 422 and early.json()["detail"][0]["type"] == "R4"
        await w.open_programme(client)
        again = await client.post(f"/v1/programmes/{w.programme}/publish", headers=w.school_token)
        assert again.status_code == 200

        ids = []
        for i in range(2):
            replies = [await client.post("/v1/applications", json=w.application(i, hardship=i == 0),
                                         headers={**w.guardian_token(i), "Idempotency-Key": f"apply-{i}"})
                       for _ in range(2)]  # a client retrying after a timeout
            assert [r.status_code for r in replies] == [201, 200]
            ids.append(replies[0].json()["application_id"])

        steps = [("approve", w.school_token, {"hardship_verified": True}, "approved"),
                 ("report", w.school_token, None, "reported"),
                 ("file", w.district_token, None, "filed"),
                 ("withdraw", w.guardian_token(0), {"reason": "家中有人接送"}, "withdrawn")]
        for name, token, body, status in steps:
            if name == "withdraw":  # the programme is full: the second approval waits for a place (R7)
                waiting = await client.post(f"/v1/applications/{ids[1]}/approve", headers=w.school_token)
                assert waiting.json()["status"] == "waitlisted"
            for _ in range(2):  # every command delivered twice: the repeat changes nothing
                reply = await client.post(f"/v1/applications/{ids[0]}/{name}", json=body, headers=token)
                assert reply.status_code == 200 and reply.json()["status"] == status, reply.text
        promoted = await client.get(f"/v1/applications/{ids[1]}", headers=w.guardian_token(1))
        assert promoted.json()["status"] == "approved"

    async def arrived() -> dict[str, list[dict]] | None:
        events = await _events_by_key(kafka_bootstrap, {w.school, first, second})
        return events if len(events[first]) >= 5 and len(events[second]) >= 3 else None

    events = await eventually(arrived, timeout=120, what="the workflow's events on enrollment.events")
    assert [e["type"] for e in events[first]] == ["ApplicationSubmitted", "ApplicationApproved", "ApplicationReported",
                                                  "EnrollmentFiled", "EnrollmentWithdrawn"]
    assert [e["type"] for e in events[second]] == ["ApplicationSubmitted", "ApplicationWaitlisted", "ApplicationApproved"]
    assert [e["type"] for e in events[w.school]] == ["ProgrammePublished"]

    submitted, approved, reported, filed, withdrawn = (e["payload"] for e in events[first])
    assert submitted["submitted_by"] == w.guardians[0] and submitted["hardship"] is True
    assert approved["approved_by"] == w.principal and approved["approved_by_role"] == "principal"
    assert approved["hardship"] is True and approved["hardship_verified_by"] == w.principal
    assert reported["reported_by"] == w.principal and reported["district_id"] == w.district
    assert filed["filed_by"] == w.officer and filed["hardship"] is True and filed["class_teacher_id"] == w.teacher
    assert withdrawn["withdrawn_by"] == w.guardians[0] and withdrawn["enrollment_id"] == filed["enrollment_id"]
    assert all(p[f] for p, f in ((submitted, "submitted_at"), (approved, "approved_at"), (reported, "reported_at"),
                                  (filed, "filed_at"), (withdrawn, "withdrawn_at")))
    assert events[second][2]["payload"]["promoted_from_waitlist"] is True
