"""Kafka ingest as another school's system, on the real broker and the running services (issue 15, R15, R27):
a school system's records on attendance.ingest are taken only under its own school's token, the rule the HTTP
batch route applies. Before: every school system shared one Kafka user and the payload's school_id was taken as
given, so a check-in for another school's student was accepted over Kafka while HTTP refused it."""
from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from local.platform import Platform
from shared.contracts.envelope import new_envelope
from shared.contracts.ingest import SchoolCheckInRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_INGEST, ENROLLMENT_EVENTS, dlq
from tests.integration import test_attendance_ingest as ingest
from tests.integration.kafkatools import eventually, read_topic
from tests.integration.test_attendance_ingest import (  # noqa: F401 - _clear_of_midnight is a fixture used by name
    SchoolFixture,
    _clear_of_midnight,
    _events_of,
    _full,
    _produce,
)
from tests.tokens import ISSUER, mint

pytestmark = pytest.mark.integration

HOUR = 3600


def _bearer(token: str) -> list[tuple[str, bytes]]:
    return [("authorization", f"Bearer {token}".encode())]


async def test_records_signed_for_another_school_or_unsigned_are_refused_and_a_backlog_signed_in_time_is_kept(
    platform: Platform, kafka_bootstrap: str
) -> None:
    victim, attacker = SchoolFixture("bind-v", 5), SchoolFixture("bind-a", 1)
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, victim.events() + attacker.events(), "enrollment")
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        await eventually(lambda: _full(client, victim), timeout=120, what="the roster")
        # Over HTTP the attacker's system is refused for the victim's school: the Kafka path must agree.
        over_http = await client.post(f"/v1/schools/{victim.school_id}/records", headers=attacker.headers(),
                                      json={"records": [victim.check_in(victim.students[1])]})
        assert over_http.status_code == 403, over_http.text

    own, foreign, bare, backlog, lapsed = victim.students
    now = time.time()
    own_token = mint(f"sys-{victim.school_id}", "school_system", school_id=victim.school_id)
    attacker_token = mint(f"sys-{attacker.school_id}", "school_system", school_id=attacker.school_id)
    # Issued three hours ago for one hour: long lapsed when attendance reads the records.
    old_token = ISSUER.mint(f"sys-{victim.school_id}", "school_system", school_id=victim.school_id, ttl_seconds=HOUR,
                            now=now - 3 * HOUR)

    def record(student: str) -> SchoolCheckInRecorded:
        return SchoolCheckInRecorded(record_id=f"gate-{student}", system_id="sys-gate", school_id=victim.school_id,
                                     student_id=student, session_date=ingest.BASE.date(), checked_in_at=ingest.BASE,
                                     checked_in_by=victim.staff_id, checked_in_by_role="school_staff")

    sent = [  # (student, headers, Kafka timestamp in ms)
        (own, _bearer(own_token), None),
        (foreign, _bearer(attacker_token), None),
        (bare, [], None),
        (backlog, _bearer(old_token), int((now - 2.5 * HOUR) * 1000)),  # written while the token was valid
        (lapsed, _bearer(old_token), None),  # written now, with the lapsed token
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        for student, headers, written_ms in sent:
            envelope = new_envelope(record(student), producer="sys-gate")
            futures.append(await producer.send(ATTENDANCE_INGEST, value=encode(envelope), key=envelope.key.encode(),
                                               headers=headers, timestamp_ms=written_ms))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    refused = {foreign, bare, lapsed}

    async def settled() -> tuple[list[dict], dict[str, dict]] | None:
        events = [e for e in await _events_of(kafka_bootstrap, victim) if e["type"] == "StudentCheckedIn"]
        dead = {r.key.decode(): json.loads(r.value) for r in await read_topic(kafka_bootstrap, dlq(ATTENDANCE_INGEST))
                if r.key and r.key.decode() in refused}
        return (events, dead) if len({e["payload"]["student_id"] for e in events}) == 2 and len(dead) == 3 else None

    events, dead = await eventually(settled, timeout=90, what="two check-ins and three refusals")
    assert sorted(e["payload"]["student_id"] for e in events) == sorted([own, backlog]), "each neighbour applied once"
    assert {k: d["kind"] for k, d in dead.items()} == {s: "unauthorised" for s in refused}
    assert f"authorised for school {attacker.school_id}, not {victim.school_id}" in dead[foreign]["reason"]
    assert "no 'authorization: Bearer <token>' header" in dead[bare]["reason"]
    assert "before the record was written" in dead[lapsed]["reason"]
    for letter in dead.values():
        assert json.loads(base64.b64decode(letter["original_b64"]))["payload"]["school_id"] == victim.school_id
        assert all(t not in json.dumps(letter) for t in (own_token, attacker_token, old_token)), "no usable token kept"
