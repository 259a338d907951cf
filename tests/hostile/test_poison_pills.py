"""The poison-pill set of issue 14 against the running platform, on real Kafka and PostgreSQL: NUL
bytes, lone surrogates, integers past int64, instants at year 1 and 9999 with -14:00 offsets, deep
nesting, oversized records, bytes that are not JSON, wrong types.

Over HTTP each bad record is refused with its reason and its neighbours are accepted; a whole request
that cannot be read is refused 4xx, before routing or parsing where it can be. On Kafka (the attendance
ingest topic, and enrollment.events as notification consumes it) each poison is dead-lettered once with
its reason and each valid neighbour is applied once, also across a SIGKILL of the consumer and a restart;
no offset is ever committed past a record that was not processed (R15, issue 14)."""
from __future__ import annotations

import base64
import copy
import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import text

from local.platform import Platform
from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.ingest import SchoolCheckInRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, ATTENDANCE_INGEST, ENROLLMENT_EVENTS, dlq
from shared.messaging.consumer import RawRecord, dead_claim_id
from shared.messaging.db import Database
from tests.integration.kafkatools import committed, eventually, produce, read_topic
from tests.integration.test_attendance_ingest import SchoolFixture, _full, _produce, signed

pytestmark = pytest.mark.integration

NUL, SURROGATE = "\x00", "\ud800"
PAST_INT64 = 2**64
YEAR_1, YEAR_9999 = "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59-14:00"


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _now_minus(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


async def _rostered(platform: Platform, bootstrap: str, tag: str, students: int) -> SchoolFixture:
    """A school with a programme and its students filed, as attendance knows them once it has read them."""
    school = SchoolFixture(tag, students)
    await _produce(bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        await eventually(lambda: _full(client, school), timeout=120, what="the roster")
    return school


# -- over HTTP -------------------------------------------------------------------------------------------
async def test_each_hostile_record_in_a_batch_is_refused_with_its_reason_and_its_neighbours_are_accepted(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = await _rostered(platform, kafka_bootstrap, "hostile", 5)
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        at = _now_minus(2)
        valid = [json.dumps(school.check_in(s) | {"at": at}) for s in school.students]
        base = school.check_in(school.students[0]) | {"at": at}
        activity = {**base, "kind": "activity", "activity_id": "act-run", "tier": "sports", "minutes": 30,
                    "exercise_minutes": 30}
        poisons = {  # name: the record as JSON text (json.dumps writes a lone surrogate as the escape \ud800)
            "nul": json.dumps({**base, "record_id": f"p-nul-{NUL}"}),
            "surrogate": json.dumps({**base, "record_id": "p-sur", "student_id": f"stu-{SURROGATE}"}),
            "int64": json.dumps({**activity, "record_id": "p-int", "minutes": PAST_INT64}),
            "year 1": json.dumps({**base, "record_id": "p-year1", "at": YEAR_1}),
            "year 9999": json.dumps({**base, "record_id": "p-year9999", "at": YEAR_9999}),
            "deep": json.dumps({**base, "record_id": "p-deep"})[:-1] + f', "programme_id": {_deep(400)}}}',
            "oversized": json.dumps({**base, "record_id": "p-big", "staff_id": "s" * (2 * 1024 * 1024)}),
            "not an object": json.dumps("a check-in, honest"),
            "wrong types": json.dumps({"record_id": "p-types", "kind": "check_in", "student_id": ["x"], "at": True,
                                       "staff_id": 7}),
            "no kind": json.dumps({**base, "record_id": "p-kind", "kind": None}),
        }
        # Poisons between the valid records: each valid one has a bad neighbour on both sides.
        order: list[str | None] = []
        parts: list[str] = []
        names = iter(poisons)
        for record in valid:
            for name in (next(names, None), next(names, None)):
                if name:
                    order.append(name)
                    parts.append(poisons[name])
            order.append(None)
            parts.append(record)
        for name in names:
            order.append(name)
            parts.append(poisons[name])
        body = '{"records": [' + ", ".join(parts) + "]}"

        reply = await client.post(f"/v1/schools/{school.school_id}/records", content=body.encode(),
                                  headers={**school.headers(), "Content-Type": "application/json"})

        assert reply.status_code == 200, reply.text[:2000]
        results = reply.json()["results"]
        assert len(results) == len(order)
        for name, result in zip(order, results):
            if name is None:
                assert result["status"] == "accepted", result
            else:
                assert result["status"] == "rejected" and result["reason"], (name, result)
        assert sum(r["status"] == "accepted" for r in results) == len(valid)


async def test_a_request_that_cannot_be_read_is_refused_with_a_reason_before_any_route_runs(
    platform: Platform
) -> None:
    attendance, billing, audit = platform["attendance"].url, platform["billing"].url, platform["audit"].url
    async with httpx.AsyncClient(timeout=60) as client:
        # Public routes: no token needed to reach them, so none needed to be refused by them either.
        nul_path = await client.get(f"{billing}/v1/disclosures/dis%00x")
        nul_query = await client.get(f"{billing}/v1/fee-schedules", params={"school_id": f"sch{NUL}"})
        bad_escape = await client.get(f"{billing}/v1/fee-schedules?school_id=sch%zz")
        surrogate = await client.get(f"{billing}/v1/fee-schedules?school_id=sch%ED%A0%80")  # \ud800 as UTF-8
        past_int64 = await client.get(f"{audit}/v1/ledger/checkpoints", params={"after": PAST_INT64})
        gate = SchoolFixture("deep", 1)
        deep = await client.post(f"{attendance}/v1/schools/{gate.school_id}/records",
                                 content=f'{{"records": {_deep(100_000)}}}',
                                 headers={**gate.headers(), "Content-Type": "application/json"})
        huge = await client.post(f"{billing}/v1/payments", content=b" " * (9 * 1024 * 1024),
                                 headers={"Content-Type": "application/json"})

    for reply in (nul_path, nul_query, bad_escape, surrogate):
        assert reply.status_code == 400 and reply.json()["reason"] == "invalid_request_target", reply.text
    assert "NUL" in nul_path.json()["detail"] and "NUL" in nul_query.json()["detail"]
    assert "not followed by two hexadecimal digits" in bad_escape.json()["detail"]
    assert "not UTF-8" in surrogate.json()["detail"]
    assert past_int64.status_code == 422 and "9223372036854775807" in past_int64.text
    assert deep.status_code == 400 and "nested too deeply" in deep.text, deep.text
    assert huge.status_code == 413 and huge.json()["reason"] == "body_too_large", huge.text


# -- over Kafka ------------------------------------------------------------------------------------------
@dataclass
class Sent:
    """One record produced: where it landed, and the inbox ids that say it was processed."""

    name: str  # "valid" or the poison's name
    key: bytes
    value: bytes
    partition: int = -1
    offset: int = -1
    event_id: uuid.UUID | None = None

    @property
    def poison(self) -> bool:
        """Must be dead-lettered. A "maybe" is a record one reading of the contracts takes and another
        refuses (an envelope time at year 9999 -14:00): it must be applied or dead-lettered, once."""
        return self.name != "valid" and not self.maybe

    @property
    def maybe(self) -> bool:
        return self.name.startswith("maybe")

    def claims(self, topic: str) -> set[uuid.UUID]:
        dead = dead_claim_id(RawRecord(topic, self.partition, self.offset, self.key, self.value))
        return {dead} | ({self.event_id} if self.event_id else set())


def _poisons(valid: Sent, text_field: str, stamp: tuple[str, ...]) -> list[Sent]:
    """The Kafka poison pills, made from one valid record of the topic: `text_field` of its payload gets
    the NUL and the lone surrogate, the field at `stamp` the instants out of range. A poison that still
    reads as an envelope has an event id of its own, so it is never taken for a redelivery of `valid`."""
    base = json.loads(valid.value)

    def variant(name: str, change: Callable[[dict], object]) -> Sent:
        body = copy.deepcopy(base)
        body["event_id"] = str(uuid.uuid4())
        change(body)
        return Sent(name, valid.key, json.dumps(body).encode(), event_id=uuid.UUID(body["event_id"]))

    def at(when: str) -> Callable[[dict], object]:
        def put(body: dict) -> None:
            *path, last = stamp
            functools.reduce(lambda node, k: node[k], path, body)[last] = when
        return put

    return [
        Sent("nul key", valid.key + b"\x00", b"\xff\xfe\x00 not text"),
        Sent("not json", valid.key, b"<xml>not json</xml>"),
        Sent("deep", valid.key, b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        Sent("oversized", valid.key, json.dumps({"type": base["type"], "padding": "x" * (300 * 1024)}).encode()),
        Sent("empty", valid.key, b""),
        variant("nul", lambda b: b["payload"].update({text_field: b["payload"][text_field] + NUL})),
        variant("surrogate", lambda b: b["payload"].update({text_field: b["payload"][text_field] + SURROGATE})),
        variant("int64", lambda b: b.update(version=PAST_INT64)),
        variant("wrong type", lambda b: b["payload"].update({text_field: 12})),
        variant("year 9999" if stamp[0] == "payload" else "maybe: year 9999", at(YEAR_9999)),
        variant("year 1" if stamp[0] == "payload" else "maybe: year 1", at(YEAR_1)),
    ]


def _interleave(valid: list[Sent], poisons: list[Sent]) -> list[Sent]:
    out: list[Sent] = []
    for i, record in enumerate(valid):
        out.append(record)
        out.extend(poisons[i::len(valid)])
    return out


async def _produce_all(bootstrap: str, topic: str, records: list[Sent], signed_for: str | None = None) -> None:
    """Produce in order; on attendance.ingest signed, as school systems must, with `signed_for`'s system token."""
    placed = await produce(bootstrap, topic, [(r.key, r.value) for r in records], signed(signed_for) if signed_for else None)
    for record, (partition, offset) in zip(records, placed):
        record.partition, record.offset = partition, offset


async def _inbox(database_url: str, consumer: str) -> set[uuid.UUID]:
    db = Database(database_url, consumer, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(text("select event_id from inbox where consumer = :c"), {"c": consumer})
            return {r.event_id for r in rows}
    finally:
        await db.dispose()


async def _dead_letters(bootstrap: str, topic: str, consumer: str, sent: list[Sent]) -> dict[tuple[int, int], list[dict]]:
    """This consumer's dead letters of our records, by (partition, offset), each once; a record its handler
    refused (attendance's rejected ingest records, dead-lettered without a place) is found by its event id."""
    by_place = {(r.partition, r.offset): r for r in sent}
    by_event = {r.event_id: r for r in sent if r.event_id}
    found: dict[tuple[int, int], list[dict]] = {}
    seen: set[bytes] = set()
    for record in await read_topic(bootstrap, dlq(topic)):
        letter, dlq_id = json.loads(record.value), dict(record.headers).get("dlq_id", b"")
        # The relay publishes at least once: a kill between Kafka's ack and the outbox row's delete sends
        # the same dead letter again, under the same dlq_id. Once per dlq_id is once.
        if letter["consumer"] != consumer or letter["topic"] != topic or dlq_id in seen:
            continue
        seen.add(dlq_id)
        if letter["offset"] >= 0:
            mine = by_place.get((letter["partition"], letter["offset"]))
        else:
            mine = by_event.get(uuid.UUID(json.loads(base64.b64decode(letter["original_b64"]))["event_id"]))
        if mine is not None:
            found.setdefault((mine.partition, mine.offset), []).append(letter)
    return found


async def _unprocessed_below_committed(bootstrap: str, database_url: str, topic: str, consumer: str,
                                       sent: list[Sent]) -> list[str]:
    """Records below the group's committed offset that the consumer's inbox does not hold: a committed
    offset past an unprocessed record (the inbox row commits with the effect or the dead letter)."""
    offsets = await committed(bootstrap, consumer)
    inbox = await _inbox(database_url, consumer)
    return [f"{r.name}@{r.partition}/{r.offset}" for r in sent
            if r.offset < offsets.get((topic, r.partition), 0) and not (r.claims(topic) & inbox)]


async def _kill_and_restart_between(platform: Platform, service: str, bootstrap: str, database_url: str,
                                    topic: str, first: list[Sent], second: list[Sent], signed_for: str | None = None) -> None:
    """The consumer takes the first records, is SIGKILLed, the second records are produced while it is
    dead, and it is started again. At the kill, nothing below its committed offsets is unprocessed."""
    await _produce_all(bootstrap, topic, first, signed_for)

    async def taken() -> bool:
        offsets = await committed(bootstrap, service)
        return all(offsets.get((topic, r.partition), 0) > r.offset for r in first)

    await eventually(taken, timeout=120, what=f"{service} to commit past the first records")
    platform[service].kill()
    assert await _unprocessed_below_committed(bootstrap, database_url, topic, service, first) == []
    await _produce_all(bootstrap, topic, second, signed_for)
    platform[service].start()
    platform[service].wait_ready(120)


async def _settled(bootstrap: str, database_url: str, topic: str, consumer: str, sent: list[Sent]):
    """Once every record is processed: this consumer's dead letters of them, and its inbox."""
    async def done() -> tuple[dict, set] | None:
        inbox = await _inbox(database_url, consumer)
        if not all(r.claims(topic) & inbox for r in sent):
            return None
        dead = await _dead_letters(bootstrap, topic, consumer, sent)
        return (dead, inbox) if all((r.partition, r.offset) in dead for r in sent if r.poison) else None

    return await eventually(done, timeout=180, what=f"{consumer} to process and dead-letter every record")


def _assert_each_poison_dead_once_and_each_valid_applied(topic: str, sent: list[Sent], dead: dict, inbox: set) -> None:
    for record in sent:
        letters = dead.get((record.partition, record.offset), [])
        if record.poison:
            assert len(letters) == 1, f"{record.name} dead-lettered exactly once: {letters}"
            assert letters[0]["reason"] and letters[0]["kind"], letters[0]
        elif record.maybe:
            assert len(letters) + (record.event_id in inbox and not letters) == 1, f"{record.name}: {letters}"
        else:
            assert letters == [], f"a valid record was dead-lettered: {letters}"
            assert record.event_id in inbox, "a valid record was applied"
    assert [r.name for r in sent if r.poison and r.name == "oversized" and not dead[(r.partition, r.offset)][0][
        "original_truncated"]] == [], "an oversized original is kept truncated in its dead letter"


async def test_poison_records_on_the_ingest_topic_are_dead_lettered_once_across_a_kill_and_valid_ones_checked_in_once(
    platform: Platform, kafka_bootstrap: str, database_url: str
) -> None:
    school = await _rostered(platform, kafka_bootstrap, "poison", 6)
    at = datetime.now(UTC) - timedelta(minutes=2)
    tag = uuid.uuid4().hex[:8]

    def check_in(student: str) -> Sent:
        event = SchoolCheckInRecorded(
            record_id=f"gate-{student}-{tag}", system_id=f"sys-{school.school_id}", school_id=school.school_id,
            student_id=student, session_date=at.astimezone(timezone(timedelta(hours=8))).date(),
            checked_in_at=at, checked_in_by=school.staff_id, checked_in_by_role="school_staff")
        envelope = new_envelope(event, producer=f"sys-{school.school_id}")
        return Sent("valid", envelope.key.encode(), encode(envelope), event_id=envelope.event_id)

    valid = [check_in(s) for s in school.students]
    sent = _interleave(valid, _poisons(valid[0], "record_id", ("payload", "checked_in_at")))
    half = len(sent) // 2
    await _kill_and_restart_between(platform, "attendance", kafka_bootstrap, database_url, ATTENDANCE_INGEST,
                                    sent[:half], sent[half:], signed_for=school.school_id)

    dead, inbox = await _settled(kafka_bootstrap, database_url, ATTENDANCE_INGEST, "attendance", sent)
    _assert_each_poison_dead_once_and_each_valid_applied(ATTENDANCE_INGEST, sent, dead, inbox)

    async def checked_in() -> list[str] | None:
        events = [json.loads(r.value) for r in await read_topic(kafka_bootstrap, ATTENDANCE_EVENTS)]
        # by event id: the relay may publish an event twice across the kill; consumers take it once
        ours = {e["event_id"]: e["payload"]["source_record_id"] for e in events if e["type"] == "StudentCheckedIn"
                and e["payload"].get("school_id") == school.school_id}
        return list(ours.values()) if len(ours) >= len(valid) else None

    ours = await eventually(checked_in, timeout=120, what="a check-in event per valid record")
    assert sorted(ours) == sorted(f"gate-{s}-{tag}" for s in school.students), "each valid record checked in once"


async def test_poison_records_on_enrollment_events_are_dead_lettered_once_by_notification_across_a_kill(
    platform: Platform, kafka_bootstrap: str, database_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]

    def guardian(i: int) -> Sent:
        event = GuardianRegistered(guardian_id=f"gdn-{tag}-{i}", school_id=f"sch-{tag}", student_ids=[f"stu-{tag}-{i}"],
                                   name="王芳", phone_masked="138****0000", phone_sealed="sealed", consent=False,
                                   registered_by="stf-1")
        envelope = new_envelope(event, producer="enrollment")
        return Sent("valid", envelope.key.encode(), encode(envelope), event_id=envelope.event_id)

    valid = [guardian(i) for i in range(6)]
    # one key for all: one partition, so every poison sits between valid records of the same run
    key = valid[0].key
    valid = [Sent(v.name, key, v.value, event_id=v.event_id) for v in valid]
    sent = _interleave(valid, _poisons(valid[0], "guardian_id", ("occurred_at",)))
    half = len(sent) // 2
    await _kill_and_restart_between(platform, "notification", kafka_bootstrap, database_url, ENROLLMENT_EVENTS,
                                    sent[:half], sent[half:])

    dead, inbox = await _settled(kafka_bootstrap, database_url, ENROLLMENT_EVENTS, "notification", sent)
    _assert_each_poison_dead_once_and_each_valid_applied(ENROLLMENT_EVENTS, sent, dead, inbox)
