"""Notification on the real broker and database, with Aliyun SMS and JPush imitated by local servers:
a burst of check-outs, redelivered and with the notification process SIGKILLed in the middle, yields
exactly one pickup message per event and guardian, and the providers receive exactly as many; no
log holds a full mobile number (R11, R22)."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from local.platform import Platform
from services.notification.domain.templates import template
from shared.contracts.attendance import StudentCheckedOut
from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import Envelope, new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, ENROLLMENT_EVENTS
from shared.privacy import Sealer, mask_phone
from shared.settings import CommonSettings
from tests.fakes.aliyun_sms import AliyunSmsFake
from tests.fakes.jpush import JPushFake
from tests.fakes.server import ThreadServer
from tests.integration.kafkatools import caught_up, eventually, produce

pytestmark = pytest.mark.integration

STUDENTS = 12
DAYS = 4  # check-outs per student: 48 events, each to two guardians
RUN = uuid.uuid4().hex[:6]
PREFIX = f"gdn-nb{RUN}-"
SEALER = Sealer(CommonSettings().contact_sealing_key)
# A mainland mobile number not embedded in a longer run of letters or digits.
FULL_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")


def _phone(n: int) -> str:
    return f"139{n:08d}"


def _guardians() -> tuple[list[Envelope], dict[str, str]]:
    """Per student: one guardian by SMS, one with the app (every third app removed, so SMS takes over);
    student 0 also has a guardian who never consented."""
    events, kinds = [], {}
    for s in range(STUDENTS):
        student = f"stu-nb{RUN}-{s:02d}"
        plans = [("sms", None), ("push", f"dev-{RUN}-{s}" if s % 3 else f"gone-{RUN}-{s}")]
        if s == 0:
            plans.append(("no_consent", None))
        for g, (kind, token) in enumerate(plans):
            gid = f"{PREFIX}{s:02d}{g}"
            phone = _phone(s * 10 + g)
            event = GuardianRegistered(
                guardian_id=gid, school_id="sch-nb", student_ids=[student], name=f"家长{s}{g}",
                locale="en" if g == 1 and s % 2 else "zh-CN", phone_masked=mask_phone(phone),
                phone_sealed=SEALER.seal(phone), push_token_sealed=SEALER.seal(token) if token else None,
                consent=kind != "no_consent", registered_by=gid)
            events.append(new_envelope(event, producer="enrollment"))
            kinds[gid] = "fallback" if token and token.startswith("gone") else kind
    return events, kinds


def _checkouts() -> list[Envelope]:
    out = []
    start = datetime.now(UTC) - timedelta(minutes=5)
    for day in range(DAYS):
        for s in range(STUDENTS):
            event = StudentCheckedOut(
                student_id=f"stu-nb{RUN}-{s:02d}", school_id="sch-nb", programme_id="prg-nb",
                session_date=date.today() - timedelta(days=DAYS - day), checked_out_at=start + timedelta(seconds=s),
                handed_over_by="stf-0311", handed_over_by_role="school_staff", collected_by_id=f"{PREFIX}{s:02d}0",
                collected_by_name=f"家长{s}0", collected_by_relation="guardian", source="staff_app")
            out.append(new_envelope(event, producer="attendance"))
    return out


def _records(envelopes: list[Envelope]) -> list[tuple[bytes, bytes]]:
    return [(e.key.encode(), encode(e)) for e in envelopes]


async def _sink(database_url: str) -> list[dict]:
    """The message log of this test's guardians, from notification's table: with real providers (here
    their imitations) no sink route is served (R27: the log is every child's pickups)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT event_id::text, recipient_id, kind, status, channel, to_masked, body "
                                "FROM notification.messages WHERE starts_with(recipient_id, $1)", PREFIX)
    finally:
        await conn.close()
    return [dict(r) for r in rows]


@pytest.fixture
def providers(platform: Platform):
    """Aliyun SMS and JPush imitations, and the notification process pointed at them (restored after)."""
    fields = list(template("pickup").fields)
    aliyun = AliyunSmsFake(templates={"SMS_9001": fields, "SMS_9002": fields}, latency=0.15)
    jpush = JPushFake(devices={f"dev-{RUN}-{s}" for s in range(STUDENTS)}, latency=0.15)
    with ThreadServer(aliyun.app()) as aliyun_url, ThreadServer(jpush.app()) as jpush_url:
        svc = platform["notification"]
        original = dict(svc.env)
        svc.env.update({
            "SMS_PROVIDER": "aliyun", "ALIYUN_ENDPOINT": aliyun_url, "ALIYUN_ACCESS_KEY_ID": aliyun.access_key_id,
            "ALIYUN_ACCESS_KEY_SECRET": aliyun.access_key_secret, "ALIYUN_SIGN_NAME": aliyun.sign_name,
            "SMS_TEMPLATE_CODES": json.dumps({"pickup:zh-CN": "SMS_9001", "pickup:en": "SMS_9002"}),
            "PUSH_PROVIDER": "jpush", "JPUSH_ENDPOINT": jpush_url, "JPUSH_APP_KEY": jpush.app_key,
            "JPUSH_MASTER_SECRET": jpush.master_secret, "PUSH_RATE_PER_SECOND": "200",
            # Quiet hours off: the test may run at any hour; small rounds so the kill lands mid-send.
            "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00", "SEND_LEASE_SECONDS": "6",
            "PROVIDER_TIMEOUT_SECONDS": "2", "SEND_BATCH_SIZE": "10", "SEND_CONCURRENCY": "4",
        })
        svc.kill()
        svc.start()
        svc.wait_ready()
        try:
            yield aliyun, jpush
        finally:
            svc.env.clear()
            svc.env.update(original)
            svc.kill()
            svc.start()
            svc.wait_ready()


async def test_a_burst_of_checkouts_with_redeliveries_and_a_killed_sender_sends_one_pickup_per_guardian(
    platform: Platform, kafka_bootstrap: str, database_url: str, providers, logs_dir: Path
) -> None:
    aliyun, jpush = providers
    notification = platform["notification"]
    guardians, kinds = _guardians()
    await produce(kafka_bootstrap, ENROLLMENT_EVENTS, _records(guardians))
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ENROLLMENT_EVENTS), timeout=90,
                     what="notification to read the guardians")

    checkouts = _checkouts()
    half = len(checkouts) // 2
    await produce(kafka_bootstrap, ATTENDANCE_EVENTS, _records(checkouts[:half]))
    await eventually(lambda: len(aliyun.delivered()) >= 8 and aliyun.answering > 0, timeout=90, every=0.01,
                     what="SMS accepted by the provider and not yet answered")
    notification.kill()  # mid-send: Aliyun has some messages whose answers the sender never reads

    # While it is down: the rest of the burst, and the first half again (a relay republishing).
    await produce(kafka_bootstrap, ATTENDANCE_EVENTS, _records(checkouts[half:] + checkouts[:half]))
    notification.start()
    notification.wait_ready()
    await produce(kafka_bootstrap, ATTENDANCE_EVENTS, _records(checkouts))  # and everything once more

    expected = len(checkouts) * 2  # two consenting guardians per student
    await eventually(lambda: _sent_at_least(database_url, expected), timeout=120, what=f"{expected} messages sent")
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ATTENDANCE_EVENTS), timeout=90,
                     what="notification to catch up")
    await asyncio.sleep(2)  # a late duplicate would have shown by now: the sender polls every 0.5 s

    messages = await _sink(database_url)
    pickups = [m for m in messages if m["kind"] == "pickup"]
    per_pair: dict[tuple[str, str], int] = {}
    for m in pickups:
        per_pair[(m["event_id"], m["recipient_id"])] = per_pair.get((m["event_id"], m["recipient_id"]), 0) + 1
    consenting = [g for g, k in kinds.items() if k != "no_consent"]
    # Every (event, guardian) pair once: two consenting guardians per check-out, plus a refusal recorded
    # for each check-out of student 0, whose third guardian never consented.
    assert len(per_pair) == len(checkouts) * 2 + DAYS and set(per_pair.values()) == {1}
    sent = [m for m in pickups if m["status"] == "sent"]
    assert len(sent) == expected and {m["recipient_id"] for m in sent} == set(consenting)
    assert all(m["status"] == "suppressed_no_consent" for m in pickups if kinds[m["recipient_id"]] == "no_consent")
    assert all(m["channel"] == "sms" for m in sent if kinds[m["recipient_id"]] == "fallback")
    assert all(m["to_masked"].count("*") == 4 and "家长" in m["body"] for m in sent)

    # The providers saw exactly what the sink shows: no message twice, none missing.
    by_sms = [m for m in sent if m["channel"] == "sms"]
    by_push = [m for m in sent if m["channel"] == "push"]
    sms_out_ids = [a["out_id"] for a in aliyun.delivered()]
    push_ids = [p["extras"]["notification_id"] for p in jpush.delivered()]
    assert len(sms_out_ids) == len(set(sms_out_ids)) == len(by_sms)
    assert len(push_ids) == len(set(push_ids)) == len(by_push)
    assert aliyun.requests["SendSms"] == len(by_sms), "nothing sent twice, even what was in flight at the kill"
    async with httpx.AsyncClient(base_url=notification.url) as client:
        metrics = (await client.get("/metrics")).text
    found = re.search(r'beilei_notification_in_doubt_total\{provider="aliyun",settled="found"\} (\d+)', metrics)
    assert found and int(found.group(1)) >= 1, "a message in flight at the kill was settled by a look-up, not a resend"

    leaked = {path.name: FULL_MOBILE.findall(path.read_text(errors="replace")) for path in logs_dir.glob("*.log")}
    assert all(path.stat().st_size > 0 for path in logs_dir.glob("notification*.log"))
    assert {name: found for name, found in leaked.items() if found} == {}


async def _sent_at_least(database_url: str, n: int) -> bool:
    return sum(1 for m in await _sink(database_url) if m["kind"] == "pickup" and m["status"] == "sent") >= n
