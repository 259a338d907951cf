"""An emergency broadcast on the real broker and database (issue 16, 应急处置预案): a school official's notice
to their school reaches every guardian there exactly once, across a retried request; the report counts
them; another school's guardians get nothing; a broadcast to another school is refused; a process killed in
the middle of a fan-out resumes it from its cursor and still sends each guardian one notice (R22, R27)."""
from __future__ import annotations

import uuid
from collections import Counter

import asyncpg
import httpx
import pytest

from local.platform import Platform
from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import decode, encode
from shared.contracts.topics import ENROLLMENT_EVENTS, NOTIFICATION_EVENTS
from shared.privacy import Sealer, mask_phone
from shared.settings import CommonSettings
from tests.integration.kafkatools import caught_up, eventually, produce, read_topic
from tests.tokens import bearer

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6]
OURS, THEIRS = f"sch-eb{RUN}a", f"sch-eb{RUN}b"
N = 15
SEALER = Sealer(CommonSettings().contact_sealing_key)
CITY = bearer("city-eb", "city")
OFFICIAL = bearer(f"stf-eb{RUN}", "school", school_id=OURS)


def _guardians(school: str, count: int) -> list[tuple[bytes, bytes]]:
    records = []
    for i in range(count):
        gid, phone = f"gdn-{school}-{i:02d}", f"137{i:08d}"
        event = GuardianRegistered(
            guardian_id=gid, school_id=school, student_ids=[f"stu-{school}-{i:02d}"], name=f"家长{i}",
            locale="en" if i % 3 == 0 else "zh-CN", phone_masked=mask_phone(phone), phone_sealed=SEALER.seal(phone),
            push_token_sealed=SEALER.seal(f"dev-{school}-{i}") if i % 2 else None, consent=True, registered_by=gid)
        envelope = new_envelope(event, producer="enrollment")
        records.append((envelope.key.encode(), encode(envelope)))
    return records


async def _messages(client: httpx.AsyncClient, school: str, broadcast_id: str) -> list[dict]:
    """The broadcast's messages to the school's guardians (the fuzzer may send city-wide notices of its own)."""
    reply = await client.get("/v1/sink", params={"limit": 10_000, "kind": "emergency_broadcast",
                                                 "recipient_prefix": f"gdn-{school}-"}, headers=CITY)
    assert reply.status_code == 200, reply.text
    return [m for m in reply.json() if m["event_id"] == broadcast_id]


async def test_a_school_broadcast_reaches_each_of_its_guardians_once_and_the_report_counts_them(
        platform: Platform, kafka_bootstrap: str) -> None:
    await produce(kafka_bootstrap, ENROLLMENT_EVENTS, _guardians(OURS, N) + _guardians(THEIRS, 3))
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ENROLLMENT_EVENTS), timeout=90,
                     what="notification to read the guardians")
    notice = {"scope": "school", "scope_id": OURS, "title": "暴雨停课", "body": "今日课后服务暂停，请16:00前接孩子。",
              "reason": "市气象台暴雨红色预警"}

    async with httpx.AsyncClient(base_url=platform["notification"].url, timeout=30) as client:
        headers = {**OFFICIAL, "Idempotency-Key": f"storm-{RUN}"}
        first = await client.post("/v1/broadcasts", json=notice, headers=headers)
        retried = await client.post("/v1/broadcasts", json=notice, headers=headers)
        elsewhere = await client.post("/v1/broadcasts", json={**notice, "scope_id": THEIRS}, headers=OFFICIAL)
        assert (first.status_code, retried.status_code, elsewhere.status_code) == (201, 200, 403), first.text
        bid = first.json()["broadcast_id"]
        assert retried.json()["broadcast_id"] == bid

        async def handed_over() -> dict | None:
            report = (await client.get(f"/v1/broadcasts/{bid}", headers=OFFICIAL)).json()
            return report if report["fan_out_complete"] and report["queued"] == 0 else None

        report = await eventually(handed_over, timeout=90, what="every guardian's notice to be handed over")
        ours, theirs = await _messages(client, OURS, bid), await _messages(client, THEIRS, bid)
        listed = (await client.get("/v1/broadcasts", headers=OFFICIAL)).json()

    per_guardian = Counter(m["recipient_id"] for m in ours)
    assert per_guardian == {f"gdn-{OURS}-{i:02d}": 1 for i in range(N)}
    assert {m["status"] for m in ours} == {"sent"} and theirs == []
    assert all("暴雨停课" in m["body"] for m in ours)
    assert (report["recipients"], report["handed_over"], report["failed"]) == (N, N, 0)
    assert sum(c["handed_over"] for c in report["by_channel"].values()) == N
    assert report["issued_by"] == f"stf-eb{RUN}" and report["reason"] == notice["reason"]
    assert [b["broadcast_id"] for b in listed if b["scope_id"] == OURS] == [bid]

    issued = [decode(r.value)[1] for r in await read_topic(kafka_bootstrap, NOTIFICATION_EVENTS)
              if dict(r.headers or []).get("type") == b"EmergencyBroadcastIssued"]
    assert [e.broadcast_id for e in issued if e.scope_id == OURS] == [bid]


async def test_a_broadcast_whose_process_is_killed_mid_fan_out_resumes_and_still_reaches_each_guardian_once(
        platform: Platform, kafka_bootstrap: str, database_url: str) -> None:
    school, many = f"sch-eb{RUN}k", 1200
    await produce(kafka_bootstrap, ENROLLMENT_EVENTS, _guardians(school, many))
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ENROLLMENT_EVENTS), timeout=90,
                     what="notification to read the guardians")
    svc = platform["notification"]
    original = dict(svc.env)
    svc.env["SEND_BATCH_SIZE"] = "10"  # chunks of ten: the fan-out takes long enough to be killed in the middle
    svc.kill()
    svc.start()
    svc.wait_ready()
    official = bearer(f"stf-eb{RUN}k", "school", school_id=school)
    try:
        async with httpx.AsyncClient(base_url=svc.url, timeout=30) as client:
            reply = await client.post("/v1/broadcasts", headers=official, json={
                "scope": "school", "scope_id": school, "title": "燃气泄漏", "body": "学校附近燃气泄漏，请立即接孩子。",
                "reason": "消防通报"})
            assert reply.status_code == 201, reply.text
            bid = reply.json()["broadcast_id"]

            async def under_way() -> bool:
                report = (await client.get(f"/v1/broadcasts/{bid}", headers=official)).json()
                return report["recipients"] >= 50

            await eventually(under_way, timeout=60, every=0.02, what="the fan-out to be under way")
        svc.kill()
        conn = await asyncpg.connect(database_url)
        try:
            at_kill = await conn.fetchrow("select fanned_out, fanned_out_at from notification.broadcasts"
                                          " where broadcast_id = $1", uuid.UUID(bid))
        finally:
            await conn.close()
        assert at_kill["fanned_out_at"] is None and at_kill["fanned_out"] < many  # killed in the middle
    finally:
        svc.env.clear()
        svc.env.update(original)
        svc.kill()
        svc.start()
        svc.wait_ready()

    async with httpx.AsyncClient(base_url=svc.url, timeout=30) as client:
        async def done() -> dict | None:
            report = (await client.get(f"/v1/broadcasts/{bid}", headers=official)).json()
            return report if report["fan_out_complete"] and report["queued"] == 0 else None

        report = await eventually(done, timeout=120, what="the resumed fan-out to hand every notice over")
        messages = await _messages(client, school, bid)
    assert Counter(m["recipient_id"] for m in messages) == {f"gdn-{school}-{i:02d}": 1 for i in range(many)}
    assert (report["recipients"], report["handed_over"]) == (many, many)
