"""Walking skeleton on the real broker: an application accepted by enrollment reaches notification,
which records exactly one message per guardian, across retried requests, a SIGKILL of the consumer
and redelivered events (R1, R6, R22)."""
from __future__ import annotations

import json

import httpx
import pytest

from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.local.platform import Platform
from tests.integration.kafkatools import caught_up, eventually, produce, read_topic

pytestmark = pytest.mark.integration

N = 12


def _guardian(i: int) -> dict:
    return {"guardian_id": f"gdn-ws-{i:03d}", "school_id": "sch-ws", "student_ids": [f"stu-ws-{i:03d}"],
            "name": f"家长{i}", "phone": f"139{i:08d}", "consent": True, "locale": "en" if i % 4 == 0 else "zh-CN"}


def _application(i: int) -> dict:
    return {"programme_id": "prg-ws-2026a", "school_id": "sch-ws", "student_id": f"stu-ws-{i:03d}",
            "student_name": f"学生{i}", "guardian_id": f"gdn-ws-{i:03d}", "consent": True}


async def _sink(platform: Platform) -> list[dict]:
    async with httpx.AsyncClient(base_url=platform["notification"].url) as client:
        reply = await client.get("/v1/sink", params={"limit": 10_000})
        reply.raise_for_status()
        return [m for m in reply.json() if m["recipient_id"].startswith("gdn-ws-")]


async def test_an_application_reaches_the_guardian_exactly_once_despite_retries_and_a_killed_consumer(
    platform: Platform, kafka_bootstrap: str
) -> None:
    enrollment = platform["enrollment"]
    async with httpx.AsyncClient(base_url=enrollment.url, timeout=30) as client:
        for i in range(N):
            assert (await client.post("/v1/guardians", json=_guardian(i))).status_code == 201

        # Half the applications go in while notification runs; then it is killed mid-stream.
        first_ids = []
        for i in range(N // 2):
            reply = await client.post("/v1/applications", json=_application(i), headers={"Idempotency-Key": f"ws-{i}"})
            assert reply.status_code == 201, reply.text
            first_ids.append(reply.json()["application_id"])
        platform["notification"].kill()

        # The other half while it is down, every request sent twice (a client retrying on a timeout).
        for i in range(N // 2, N):
            for attempt in range(2):
                reply = await client.post("/v1/applications", json=_application(i), headers={"Idempotency-Key": f"ws-{i}"})
                assert reply.status_code == (201 if attempt == 0 else 200), reply.text
        # The first half retried too: same application back, nothing new published.
        for i in range(N // 2):
            reply = await client.post("/v1/applications", json=_application(i), headers={"Idempotency-Key": f"ws-{i}"})
            assert reply.status_code == 200
            assert reply.json()["application_id"] == first_ids[i]

    platform["notification"].start()
    platform["notification"].wait_ready()

    messages = await eventually(lambda: _at_least(platform, N), timeout=90, what=f"{N} messages in the sink")
    submitted = [r for r in await read_topic(kafka_bootstrap, ENROLLMENT_EVENTS)
                 if json.loads(r.value).get("type") == "ApplicationSubmitted"
                 and json.loads(r.value)["payload"]["guardian_id"].startswith("gdn-ws-")]
    assert len(submitted) == N, "each application is published once, however often it was requested"

    # Redeliver every ApplicationSubmitted (as a relay crash between send and delete would).
    await produce(kafka_bootstrap, ENROLLMENT_EVENTS, [(r.key, r.value) for r in submitted])
    platform["notification"].kill()
    platform["notification"].start()
    platform["notification"].wait_ready()
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ENROLLMENT_EVENTS), timeout=60, what="notification to catch up")

    messages = await _sink(platform)
    per_guardian = {}
    for m in messages:
        per_guardian.setdefault(m["recipient_id"], []).append(m)
    assert sorted(per_guardian) == [f"gdn-ws-{i:03d}" for i in range(N)]
    assert all(len(v) == 1 for v in per_guardian.values()), {k: len(v) for k, v in per_guardian.items()}
    assert all(m["status"] == "sent" and m["to_masked"].count("*") == 4 for m in messages)
    english = per_guardian["gdn-ws-000"][0]["body"]
    chinese = per_guardian["gdn-ws-001"][0]["body"]
    assert english.startswith("[Beilei]") and "学生0" in english
    assert chinese.startswith("【蓓蕾课后服务】") and "学生1" in chinese


async def _at_least(platform: Platform, n: int) -> list[dict] | None:
    messages = await _sink(platform)
    return messages if len(messages) >= n else None

