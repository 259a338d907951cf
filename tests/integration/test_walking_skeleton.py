"""Walking skeleton on the real broker: an application accepted by enrollment reaches notification,
which records exactly one message per guardian, across retried requests, a SIGKILL of the consumer
and redelivered events (R1, R6, R22)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from local.platform import Platform
from shared.contracts.topics import ENROLLMENT_EVENTS
from tests.integration.kafkatools import caught_up, eventually, produce, read_topic
from tests.tokens import mint

pytestmark = pytest.mark.integration

N = 12


def _bearer(role: str, subject: str, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role, **scope)}"}


CITY = _bearer("city", "city-ws")
SCHOOL = _bearer("school", "stf-ws-head", school_id="sch-ws")
DISTRICT = _bearer("district", "off-ws", district_id="dst-ws")


async def _open_programme(client: httpx.AsyncClient) -> None:
    """Enrollment's preconditions (R4, R7, R10, R28): the school's records exist and its programme is
    disclosed before anyone applies."""
    reference = {
        "districts": [{"district_id": "dst-ws", "name": "骨架区"}],
        "schools": [{"school_id": "sch-ws", "district_id": "dst-ws", "name": "骨架小学"}],
        "staff": [{"staff_id": "stf-ws-head", "school_id": "sch-ws", "name": "校长", "position": "principal",
                   "admission": "admitted"}],
        "students": [{"student_id": f"stu-ws-{i:03d}", "school_id": "sch-ws", "name": f"学生{i}", "grade": 3}
                     for i in range(N)],
    }
    for kind, records in reference.items():
        reply = await client.post(f"/v1/reference/{kind}", json={"records": records}, headers=CITY)
        assert reply.status_code == 200 and reply.json()["rejected"] == 0, reply.text
    today = date.today()
    programme = {
        "school_id": "sch-ws", "term": "2026-autumn", "name": "骨架课后服务",
        "sessions": [{"weekdays": ["mon", "wed", "fri"], "starts_at_local": "15:30", "ends_at_local": "17:30"}],
        "extended_care_until_local": "18:30",
        "activities": [{"activity_id": "act-ws", "name": "作业辅导", "tier": "homework_help",
                        "staff_ids": ["stf-ws-head"], "capacity": 100}],
        "capacity": 100, "fee_per_session_fen": 1000, "extended_care_fee_per_session_fen": 500,
        "safety_measures": ["凭接送卡交接"],
        "insurance": {"liability_policy_no": "PL-ws", "accident_policy_no": "GA-ws", "insurer": "人保",
                      "valid_from": str(today), "valid_until": str(today + timedelta(days=200))},
        "applications_close_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    for method, url, body, token in [
        ("put", "/v1/programmes/prg-ws-2026a", programme, SCHOOL),
        ("post", "/v1/programmes/prg-ws-2026a/fee-agreement", {"agreed_on": str(today), "reference": "纪要"}, SCHOOL),
        ("post", "/v1/programmes/prg-ws-2026a/fee-review", {"decision": "approved"}, DISTRICT),
        ("post", "/v1/programmes/prg-ws-2026a/publish", None, SCHOOL),
    ]:
        reply = await client.request(method, url, json=body, headers=token)
        assert reply.status_code in (200, 201), reply.text


def _guardian(i: int) -> dict:
    return {"guardian_id": f"gdn-ws-{i:03d}", "school_id": "sch-ws", "student_ids": [f"stu-ws-{i:03d}"],
            "name": f"家长{i}", "phone": f"139{i:08d}", "consent": True, "locale": "en" if i % 4 == 0 else "zh-CN"}


def _application(i: int) -> dict:
    return {"programme_id": "prg-ws-2026a", "school_id": "sch-ws", "student_id": f"stu-ws-{i:03d}",
            "student_name": f"学生{i}", "guardian_id": f"gdn-ws-{i:03d}", "consent": True}


def _as_guardian(i: int, key: str) -> dict[str, str]:
    return {**_bearer("guardian", f"gdn-ws-{i:03d}"), "Idempotency-Key": key}


async def _sink(platform: Platform) -> list[dict]:
    """The application messages to this test's guardians (the programme's disclosure may reach them too)."""
    async with httpx.AsyncClient(base_url=platform["notification"].url) as client:
        reply = await client.get("/v1/sink", params={"limit": 10_000, "kind": "application_submitted"}, headers=CITY)
        reply.raise_for_status()
        return [m for m in reply.json() if m["recipient_id"].startswith("gdn-ws-")]


async def test_an_application_reaches_the_guardian_exactly_once_despite_retries_and_a_killed_consumer(
    platform: Platform, kafka_bootstrap: str
) -> None:
    enrollment = platform["enrollment"]
    async with httpx.AsyncClient(base_url=enrollment.url, timeout=30) as client:
        await _open_programme(client)
        for i in range(N):
            assert (await client.post("/v1/guardians", json=_guardian(i), headers=SCHOOL)).status_code == 201

        # Half the applications go in while notification runs; then it is killed mid-stream.
        first_ids = []
        for i in range(N // 2):
            reply = await client.post("/v1/applications", json=_application(i), headers=_as_guardian(i, f"ws-{i}"))
            assert reply.status_code == 201, reply.text
            first_ids.append(reply.json()["application_id"])
        platform["notification"].kill()

        # The other half while it is down, every request sent twice (a client retrying on a timeout).
        for i in range(N // 2, N):
            for attempt in range(2):
                reply = await client.post("/v1/applications", json=_application(i), headers=_as_guardian(i, f"ws-{i}"))
                assert reply.status_code == (201 if attempt == 0 else 200), reply.text
        # The first half retried too: same application back, nothing new published.
        for i in range(N // 2):
            reply = await client.post("/v1/applications", json=_application(i), headers=_as_guardian(i, f"ws-{i}"))
            assert reply.status_code == 200
            assert reply.json()["application_id"] == first_ids[i]

    platform["notification"].start()
    platform["notification"].wait_ready()

    messages = await eventually(lambda: _at_least(platform, N), timeout=90, what=f"{N} messages in the sink")
    submitted = [r for r in await read_topic(kafka_bootstrap, ENROLLMENT_EVENTS)
                 if (e := _envelope(r.value)) and e.get("type") == "ApplicationSubmitted"
                 and e["payload"]["guardian_id"].startswith("gdn-ws-")]
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
    # The sender hands messages over after the consumer records them: wait for them to be sent.
    messages = await _sink(platform)
    return messages if sum(1 for m in messages if m["status"] == "sent") >= n else None


def _envelope(value: bytes | None) -> dict | None:
    """A record's envelope, or None: the topic is shared with other tests, some of which put records on
    it that are deliberately not JSON (a reader must pass over what it cannot read)."""
    try:
        data = json.loads((value or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
