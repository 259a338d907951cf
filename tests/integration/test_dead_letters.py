"""A record no consumer can ever process lands in its topic's DLQ with a reason and the original
bytes, and every consumer keeps going with the records behind it (ARCHITECTURE: delivery)."""
from __future__ import annotations

import base64
import json
import uuid

import pytest

from local.platform import Platform
from shared.contracts import topics as T
from shared.contracts.registry import EVENT_TYPES, encode
from shared.contracts.schema import example_envelope
from tests.integration.kafkatools import committed, eventually, produce, read_topic

pytestmark = pytest.mark.integration

CONSUMED = sorted({topic for topics in T.CONSUMES.values() for topic in topics})


def _valid_record(topic: str) -> tuple[bytes, bytes]:
    """A well-formed event that belongs on the topic (the first one its contracts define)."""
    cls = next(c for (_, _), c in sorted(EVENT_TYPES.items()) if c.topic == topic)
    envelope = example_envelope(cls).model_copy(update={"event_id": uuid.uuid4()})
    return envelope.key.encode(), encode(envelope)


@pytest.mark.parametrize("topic", CONSUMED)
async def test_a_malformed_record_goes_to_the_dlq_and_the_records_behind_it_are_consumed(
    platform: Platform, kafka_bootstrap: str, topic: str
) -> None:
    key, valid = _valid_record(topic)
    garbage = b'{"this is": "not an envelope", "id": "' + uuid.uuid4().hex.encode() + b'"}'
    (part, bad_offset), (part2, good_offset) = await produce(kafka_bootstrap, topic, [(key, garbage), (key, valid)])
    assert part == part2, "same key, same partition: the valid record sits right behind the bad one"
    consumers = sorted(svc for svc, topics in T.CONSUMES.items() if topic in topics)

    async def dead_letters() -> dict[str, dict] | None:
        found = {}
        for record in await read_topic(kafka_bootstrap, T.dlq(topic)):
            body = json.loads(record.value)
            if body["partition"] == part and body["offset"] == bad_offset:
                found[body["consumer"]] = body
        return found if set(found) == set(consumers) else None

    found = await eventually(dead_letters, timeout=120, what=f"DLQ records from {consumers} on {T.dlq(topic)}")
    for body in found.values():
        assert body["topic"] == topic
        assert body["kind"] == "contract:bad_envelope", body
        assert "invalid envelope" in body["reason"]
        assert base64.b64decode(body["original_b64"]) == garbage

    for consumer in consumers:
        async def moved_past(consumer: str = consumer) -> bool:
            return (await committed(kafka_bootstrap, consumer)).get((topic, part), -1) > good_offset

        await eventually(moved_past, timeout=120, what=f"{consumer} to commit past offset {good_offset} of {topic}")
    for name in consumers:
        assert platform[name].alive(), f"{name} must survive a malformed record"
