"""What the simulator reads off the broker to know a service has heard a decision before it acts on it;
read-only, without a consumer group, and never a record of its own."""
from __future__ import annotations

import json
import time

from aiokafka import AIOKafkaConsumer, TopicPartition


def _type(value: bytes | None) -> str | None:
    try:
        body = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None  # not an envelope: others' records on a shared topic are none of the simulator's business
    return body.get("type") if isinstance(body, dict) else None


async def await_record(bootstrap: str, since: dict[TopicPartition, int], key: str, type_name: str,
                       timeout: float) -> None:
    """Returns once a record of `type_name` keyed by `key` is on the topic after `since`: a producer's outbox
    publishes some time after the HTTP answer, so a consumer's lag reads zero until it has."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                if any(r.key == key.encode() and _type(r.value) == type_name for r in records):
                    return
        raise RuntimeError(f"no {type_name} for {key} was published within {timeout:.0f} s")
    finally:
        await consumer.stop()
