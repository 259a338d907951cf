"""Small Kafka helpers for tests: read a whole topic, produce raw bytes, read committed offsets."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

T = TypeVar("T")


async def partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


def envelope_of(value: bytes | None) -> dict:
    """A record's envelope; {} for what is not one: the hostile battery leaves poison (non-JSON, nesting past
    any parser's depth, envelopes without a payload) on the topics the whole run shares."""
    try:
        body = json.loads(value or b"")
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) and isinstance(body.get("payload"), dict) else {}


async def read_topic(bootstrap: str, topic: str, *, idle_ms: int = 1500) -> list:
    """Every record on the topic now, from the beginning, without joining a consumer group."""
    parts = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list = []
        deadline = time.monotonic() + 30
        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in parts])

        while await behind() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]],
                  headers: list[tuple[str, bytes]] | None = None) -> list[tuple[int, int]]:
    """Produce (key, value) pairs in order, each with `headers`; returns (partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        placed = []
        for key, value in items:
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            placed.append((meta.partition, meta.offset))
        return placed
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """The group has committed offsets at the end of every partition of the topic."""
    offsets = await committed(bootstrap, group)
    parts = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    return bool(ends) and all(offsets.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items())


async def eventually(probe: Callable[[], asyncio.Future[T] | T], *, timeout: float = 60, every: float = 0.5,
                     what: str = "condition") -> T:
    """Poll until probe() returns something truthy; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
