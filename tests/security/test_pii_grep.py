"""A PII grep over the running platform (issue 15): phone and resident ID numbers are seeded where people put
them by mistake (as a student id, a record id, a school id, a collector's, guardian's or imported person's
name) over HTTP and on attendance.ingest and enrollment.events, including records nobody can read; the
platform runs them; then every service's log file, every record of every topic (dead-letter topics and the
originals inside them included), every answer to the seeding requests and every public route (no token)
is searched. Not one seeded number may appear in the clear (masked forms may), and no seeded person's
name may appear on a public route. Before: a phone sent as `student_id` came back in the HTTP reason and
landed unmasked in the DLQ reason, key and original, and a phone in a collector's name reached events."""
from __future__ import annotations

import asyncio
import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from local.platform import SERVICES, Platform
from services.audit.api.tiles import format_index
from shared.contracts.attendance import StudentCheckedIn
from shared.contracts.envelope import new_envelope
from shared.contracts.ingest import SchoolCheckInRecorded, SchoolCheckOutRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, ATTENDANCE_INGEST, ENROLLMENT_EVENTS
from shared.privacy import redact
from tests.integration import test_attendance_ingest as ingest
from tests.integration.kafkatools import caught_up, eventually, read_topic
from tests.integration.test_attendance_ingest import SchoolFixture, signed
from tests.tokens import bearer

pytestmark = pytest.mark.integration

_rng = random.Random()


def _phone() -> str:
    return f"1{_rng.choice('3456789')}{_rng.randrange(10**9):09d}"


def _id_number() -> str:
    """A well-formed resident ID number (GB 11643 check character) nobody holds: a random region and day."""
    born = date(1970, 1, 1) + timedelta(days=_rng.randrange(365 * 45))
    body = f"{_rng.randint(11, 65)}{_rng.randrange(10**4):04d}{born:%Y%m%d}{_rng.randrange(1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _name() -> str:
    return "隐名" + "".join(chr(0x4E00 + _rng.randrange(0x5000)) for _ in range(3))


@dataclass
class Run:
    """What was seeded and what the platform answered and kept."""

    numbers: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)  # seeded in records that can only be dead-lettered
    names: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # what the seeding requests were answered
    produced: set[tuple[str, int, int]] = field(default_factory=set)  # our own records on the topics
    topics: dict[str, list[str]] = field(default_factory=dict)  # every other record, as searchable text
    public: dict[str, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    def number(self, make) -> str:
        value = make()
        self.numbers.append(value)
        return value


def _clear(run: Run, texts: dict[str, str]) -> dict[str, list[str]]:
    """Where each seeded number stands in the clear."""
    return {n: hits for n in run.numbers if (hits := [where for where, text in texts.items() if n in text])}


def _searchable(value: bytes | None) -> str:
    """Bytes as text, with every base64 string inside a JSON document decoded too (a DLQ's original)."""
    if not value:
        return ""
    text = value.decode("utf-8", "replace")
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):  # not JSON, or the hostile battery's nesting past any parser's depth
        return text
    parts = [text]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) >= 16:
            try:
                parts.append(_searchable(base64.b64decode(item, validate=True)))
            except ValueError:
                pass
    return "\n".join(parts)


async def _produce(bootstrap: str, run: Run, topic: str, records: list[tuple[bytes, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers or None)
            run.produced.add((topic, meta.partition, meta.offset))
    finally:
        await producer.stop()


async def _seed_http(platform: Platform, run: Run, school: SchoolFixture) -> None:
    async def answer(what: str, service: str, path: str, body: object, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=platform[service].url, timeout=60) as client:
            reply = await client.post(path, json=body, headers=headers)
        assert reply.status_code < 500, (what, reply.status_code, reply.text)
        run.answers[f"{what}: {reply.status_code}"] = reply.text

    n = run.number
    staff = bearer(f"stf-{school.school_id}", "school", school_id=school.school_id)
    await answer("attendance records", "attendance", f"/v1/schools/{school.school_id}/records", {"records": [
        school.check_in(n(_phone), record_id=n(_id_number)),  # a phone as student id: unknown student
        school.check_out(school.students[0], collected_by_name=f"王芳 {n(_phone)}"),
    ]}, school.headers())
    await answer("guardian", "enrollment", "/v1/guardians", {
        "guardian_id": f"gdn-pii-{uuid.uuid4().hex[:6]}", "school_id": school.school_id, "name": f"家长{n(_phone)}",
        "phone": "13900000000", "student_ids": [school.students[0]], "consent": True}, staff)
    await answer("guardian import", "enrollment", "/v1/reference/guardians", {"records": [{
        "guardian_id": f"gdn-pii-{uuid.uuid4().hex[:6]}", "school_id": school.school_id, "name": f"家长 {n(_id_number)}",
        "phone": "13900000000", "student_ids": school.students[0], "consent": True}]}, bearer("city-pii", "city"))
    await answer("payments", "billing", "/v1/payments", {"payments": [{
        "external_ref": n(_id_number), "method": "wechat_pay", "school_id": n(_phone), "student_id": n(_phone),
        "amount_fen": 1500, "received_at": "2026-09-01T08:00:00+08:00", "deposited_to_account": "acc-1"}]}, staff)


async def _seed_topics(bootstrap: str, run: Run, school: SchoolFixture) -> None:
    def n(make) -> str:
        run.dead.append(run.number(make))
        return run.dead[-1]

    day, at = ingest.BASE.date(), ingest.BASE
    unknown = SchoolCheckInRecorded(record_id=n(_id_number), system_id="sys-gate", school_id=school.school_id,
                                    student_id=n(_phone), session_date=day, checked_in_at=at,
                                    checked_in_by=school.staff_id, checked_in_by_role="school_staff")
    check_out = encode(new_envelope(SchoolCheckOutRecorded(
        record_id=f"out-pii-{uuid.uuid4().hex[:6]}", system_id="sys-gate", school_id=school.school_id,
        student_id=school.students[1], session_date=day, checked_out_at=at, handed_over_by=school.staff_id,
        handed_over_by_role="school_staff", collected_by_id=f"gdn-{school.students[1]}", collected_by_name="王芳"),
        producer="sys-gate"))
    await _produce(bootstrap, run, ATTENDANCE_INGEST, [
        (unknown.student_id.encode(), encode(new_envelope(unknown, producer="sys-gate")), signed(school.school_id)),
        # Kept with the number masked (CollectorName): the child has left, so not a dead letter.
        (school.students[1].encode(), check_out.replace("王芳".encode(), f"王芳{run.number(_phone)}".encode()),
         signed(school.school_id)),
        (n(_phone).encode(), f"not json: call {n(_phone)}, id {n(_id_number)}".encode(), []),
    ])
    bad_payload = json.loads(encode(new_envelope(SchoolFixture("pii-x", 1).events()[1], producer="enrollment")))
    bad_payload["payload"] = {"guardian_id": n(_phone), "name": 5, "student_ids": [n(_id_number)]}
    await _produce(bootstrap, run, ENROLLMENT_EVENTS, [
        (n(_id_number).encode(), json.dumps(bad_payload, ensure_ascii=False).encode(), []),
        (b"pii", f"{{\"guardian\": \"{n(_phone)}\", ".encode(), []),
    ])
    # A check-in of a student the school knows by a resident ID number (a school using 学籍号 would): there is
    # no guardian on file for it, which notification logs, naming the student.
    stranger = StudentCheckedIn(student_id=run.number(_id_number), school_id=school.school_id,
                                programme_id=school.programme_id, session_date=day, checked_in_at=at,
                                checked_in_by=school.staff_id, checked_in_by_role="school_staff", source="school_system")
    await _produce(bootstrap, run, ATTENDANCE_EVENTS,
                   [(stranger.student_id.encode(), encode(new_envelope(stranger, producer="attendance")), [])])


async def _everything_dead_lettered(bootstrap: str, run: Run) -> bool:
    """Every consumer past the seeded records, and a dead letter of each (masked or not) on the topics."""
    for group in SERVICES:
        for topic in (ATTENDANCE_INGEST, ENROLLMENT_EVENTS, ATTENDANCE_EVENTS):
            offsets_seen = any(t == topic for t, _, _ in run.produced)
            if offsets_seen and not await caught_up(bootstrap, group, topic) and await _consumes(bootstrap, group, topic):
                return False
    texts = [_searchable(r.value) for topic in (f"{ATTENDANCE_INGEST}.dlq", f"{ENROLLMENT_EVENTS}.dlq")
             for r in await read_topic(bootstrap, topic, idle_ms=500)]
    blob = "\n".join(texts)
    return all(v in blob or redact(v) in blob for v in run.dead)


async def _consumes(bootstrap: str, group: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return any(tp.topic == topic for tp in await admin.list_consumer_group_offsets(group))
    finally:
        await admin.close()


async def _read_all_topics(bootstrap: str, run: Run) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    finally:
        await admin.close()
    for topic in topics:
        run.topics[topic] = [
            "\n".join([r.key.decode("utf-8", "replace") if r.key else "", _searchable(r.value),
                       *(v.decode("utf-8", "replace") for _, v in r.headers or ())])
            for r in await read_topic(bootstrap, topic, idle_ms=300)
            if (r.topic, r.partition, r.offset) not in run.produced
        ]


async def _read_public_routes(platform: Platform, run: Run, school: SchoolFixture) -> None:
    n = run.number  # numbers typed into a public route's path: a 404 must not repeat them
    paths = {
        "enrollment": [f"/v1/schools/{school.school_id}/disclosures", f"/v1/disclosures/{school.programme_id}",
                       f"/v1/disclosures/{n(_phone)}"],
        "billing": ["/v1/fee-caps", "/v1/fee-schedules", "/v1/disclosures", f"/v1/fee-schedules/{n(_id_number)}",
                    f"/v1/disclosures/{n(_phone)}"],
        "audit": ["/v1/ledger/head", "/v1/ledger/checkpoint", "/v1/ledger/checkpoints", "/v1/ledger/key",
                  "/v1/ledger/witnesses", "/checkpoint"],
    }
    for service in SERVICES:
        async with httpx.AsyncClient(base_url=platform[service].url, timeout=30) as public:  # never a token
            for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json", "/asyncapi.json",
                         *paths.get(service, [])]:
                reply = await public.get(path)
                run.public[f"{service} {path}"] = reply.content.decode("utf-8", "replace")
            if service == "audit":  # the newest tiles: of the signed tree, or of all appended if none is signed
                head = json.loads(run.public["audit /v1/ledger/head"])
                last, width = divmod(max(head["size"] or head["appended"], 1) - 1, 256)
                suffix = "" if width == 255 else f".p/{width + 1}"
                for tile in (f"/tile/0/{format_index(last)}{suffix}", f"/tile/entries/{format_index(last)}{suffix}"):
                    run.public[f"audit {tile}"] = _searchable((await public.get(tile)).content)


@pytest.fixture(scope="module")
async def run(platform: Platform, kafka_bootstrap: str, logs_dir: Path) -> Run:
    wait = ingest._wait_out_midnight()  # the fixture school's session is anchored to the local day
    if wait:
        await asyncio.sleep(wait)
    ingest.BASE = ingest._base_time()
    seeded = Run()
    school = SchoolFixture(f"pii{uuid.uuid4().hex[:4]}", 2)
    # The school's roster and guardian carry seeded names: they must reach no public route.
    events = school.events()
    names = [_name() for _ in range(3)]
    seeded.names.extend(names)
    events[1] = events[1].model_copy(update={"name": names[0]})  # the guardian
    events[2:] = [e.model_copy(update={"student_name": nm}) for e, nm in zip(events[2:], names[1:])]
    await ingest._produce(kafka_bootstrap, ENROLLMENT_EVENTS, events, "enrollment")
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        await eventually(lambda: ingest._full(client, school), timeout=90, what="the roster")

    await _seed_http(platform, seeded, school)
    await _seed_topics(kafka_bootstrap, seeded, school)
    await eventually(lambda: _everything_dead_lettered(kafka_bootstrap, seeded), timeout=90,
                     what="the seeded records consumed and dead-lettered")
    await _read_all_topics(kafka_bootstrap, seeded)
    await _read_public_routes(platform, seeded, school)
    seeded.logs = {p.name: p.read_text(errors="replace") for p in sorted(logs_dir.glob("*.log"))}
    return seeded


async def test_no_answer_to_a_seeding_request_repeats_a_number_in_the_clear(run: Run) -> None:
    assert len(run.answers) == 4 and all(" 4" in k or " 2" in k for k in run.answers), run.answers
    assert not _clear(run, run.answers), _clear(run, run.answers)
    # It can fail: the answers do speak of the seeded records (masked), one reason each.
    assert any(redact(v) in text for v in run.numbers for text in run.answers.values())


async def test_no_topic_and_no_dead_letter_holds_a_seeded_number_in_the_clear(run: Run) -> None:
    records = {f"{topic}#{i}": text for topic, texts in run.topics.items() for i, text in enumerate(texts)}
    assert not _clear(run, records), _clear(run, records)
    dead = "\n".join(text for topic, texts in run.topics.items() if topic.endswith(".dlq") for text in texts)
    assert all(redact(v) in dead for v in run.dead), "the dead letters hold every seeded record, masked"


async def test_no_service_log_holds_a_seeded_number_in_the_clear(run: Run) -> None:
    assert set(SERVICES) <= {name.removesuffix(".log") for name in run.logs}
    assert not _clear(run, run.logs), _clear(run, run.logs)
    assert any(redact(v) in text for v in run.numbers for text in run.logs.values()), "the logs speak of them, masked"


async def test_no_public_route_shows_a_seeded_number_or_name(run: Run) -> None:
    assert len(run.public) >= 5 * 5 + 14 and any(k.startswith("audit /tile/0/") for k in run.public)
    assert not _clear(run, run.public), _clear(run, run.public)
    assert sum(redact(v) in text for v in run.numbers for text in run.public.values()) >= 3, "404s name what they miss"
    escaped = {nm: [nm, json.dumps(nm).strip('"')] for nm in run.names}
    shown = {nm for nm, forms in escaped.items() for form in forms for text in run.public.values() if form in text}
    assert not shown, shown
