"""Batch handlers and the consumer's promise never to pass a record over, on real PostgreSQL: runs of
events in partition order, a culprit isolated to the DLQ, redelivery idempotent, any undecodable
record dead-lettered once with a bounded body, and a record that cannot be dead-lettered holding its
batch back (stuck) until it can."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import EVENT_TYPES, encode
from shared.contracts.schema import example_envelope
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.messaging.consumer import (
    DLQ_ORIGINAL_LIMIT,
    BatchConsumer,
    Item,
    RawRecord,
    Rejected,
    batch_handler,
)
from shared.messaging.db import Database
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics


def _event(i: int, guardian: str | None = None) -> GuardianRegistered:
    return GuardianRegistered(guardian_id=guardian or f"gdn-{i}", school_id="sch-1", student_ids=[f"stu-{i}"],
                              name="王芳", phone_masked="138****0000", phone_sealed="sealed", consent=True,
                              registered_by="stf-1")


def _raw(i: int) -> bytes:
    return encode(new_envelope(_event(i), producer="enrollment"))


def _record(offset: int, value: bytes, key: bytes | None = b"k", headers: tuple = ()) -> RawRecord:
    return RawRecord(ENROLLMENT_EVENTS, 0, offset, key, value, headers)


def _consumer(db: Database, handlers: dict, name: str = "tester", **options) -> BatchConsumer:
    return BatchConsumer(name, handlers, lambda: UnitOfWork(db, producer=name), KitMetrics(CollectorRegistry()),
                         retry_base_seconds=0.01, **options)


async def _dead_letters(db: Database) -> list[dict]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("select topic, key, value from outbox order by id"))).all()
    assert all(r.topic == "enrollment.events.dlq" for r in rows)
    return [json.loads(r.value) for r in rows]


async def test_a_batch_handler_gets_each_run_of_its_events_in_partition_order_in_one_call(kit_db: Database) -> None:
    order: list[str] = []

    @batch_handler
    async def apply_guardians(uow, items: Sequence[Item]) -> None:
        order.append("+".join(i.event.guardian_id for i in items))

    async def apply_other(uow, envelope, event) -> None:
        order.append(envelope.type)

    other = example_envelope(next(c for c in EVENT_TYPES.values()
                                  if c.topic == ENROLLMENT_EVENTS and c is not GuardianRegistered))
    consumer = _consumer(kit_db, {"GuardianRegistered": apply_guardians, other.type: apply_other})
    first = _raw(1)
    values = [_raw(0), first, encode(other), _raw(2), b"garbage", _raw(3), first]
    await consumer.process([_record(i, v) for i, v in enumerate(values)])
    # a per-event handler between two runs splits them; a dead letter or a duplicate does not
    assert order == ["gdn-0+gdn-1", other.type, "gdn-2+gdn-3"]


async def test_a_failing_event_in_a_batch_goes_to_the_dlq_while_the_rest_of_its_batch_commits(kit_db: Database) -> None:
    applied: list[str] = []
    calls: list[int] = []

    @batch_handler
    async def apply_batch(uow, items: Sequence[Item]) -> None:
        calls.append(len(items))
        for item in items:
            if item.event.guardian_id == "gdn-2":
                raise Rejected("unknown student stu-2")
        conn = await uow.connection()
        await conn.execute("select 1")
        applied.extend(i.event.guardian_id for i in items)

    await _consumer(kit_db, {"GuardianRegistered": apply_batch}).process([_record(i, _raw(i)) for i in range(4)])
    assert calls == [4, 1, 1, 1, 1], "the whole batch once, then one item at a time"
    assert applied == ["gdn-0", "gdn-1", "gdn-3"]
    (body,) = await _dead_letters(kit_db)
    assert (body["kind"], body["reason"], body["offset"]) == ("rejected", "unknown student stu-2", 2)


async def test_a_batch_handler_is_never_called_again_for_events_already_claimed(kit_db: Database) -> None:
    seen: list[str] = []

    @batch_handler
    async def apply_batch(uow, items: Sequence[Item]) -> None:
        seen.extend(i.event.guardian_id for i in items)

    consumer = _consumer(kit_db, {"GuardianRegistered": apply_batch})
    values = [_raw(i) for i in range(3)]
    await consumer.process([_record(i, v) for i, v in enumerate(values)])
    await consumer.process([_record(i, v) for i, v in enumerate(values)] + [_record(3, values[0])])
    await consumer.process([_record(1, values[1]), _record(4, _raw(4))])
    assert seen == ["gdn-0", "gdn-1", "gdn-2", "gdn-4"]


async def test_records_that_fail_to_decode_in_any_way_are_dead_lettered_once_and_their_neighbours_apply(
    kit_db: Database,
) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event) -> None:
        applied.append(event.guardian_id)

    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000  # RecursionError in the JSON parser, not a ContractError
    batch = [
        _record(0, _raw(0)),
        _record(1, deep),
        _record(2, b"\xff\xfe garbage", key=b"k\x00ey\xff"),  # a NUL in the key cannot enter a text column as is
        _record(3, _raw(3), key=b"k\x00"),  # a valid record under a NUL key is simply applied
        _record(4, b"{}", headers=(("h", b"\xff"), ("none", b""))),
        _record(5, _raw(5)),
    ]
    consumer = _consumer(kit_db, {"GuardianRegistered": handler})
    await consumer.process(batch)
    await consumer.process(batch)  # redelivered after a crash before the offset commit
    assert applied == ["gdn-0", "gdn-3", "gdn-5"]
    bodies = await _dead_letters(kit_db)
    assert [b["offset"] for b in bodies] == [1, 2, 4], "each undecodable record dead-lettered exactly once"
    assert all(b["kind"].startswith("contract:") for b in bodies)
    assert bodies[1]["key"] == "k\ufffdey\ufffd"
    assert not consumer.stuck and consumer.last_error is None


async def test_a_dead_letter_keeps_an_oversized_original_as_its_beginning_with_size_and_hash(kit_db: Database) -> None:
    huge = b"x" * (3 * 1024 * 1024)
    await _consumer(kit_db, {}).process([_record(0, huge, key=b"q" * 10_000)])
    async with kit_db.engine.connect() as conn:
        (row,) = (await conn.execute(text("select key, value from outbox"))).all()
    assert len(row.value) < 512 * 1024, "fits well under Kafka's 1 MiB default"
    body = json.loads(row.value)
    assert body["original_truncated"] is True and body["original_size"] == len(huge)
    assert body["original_sha256"] == hashlib.sha256(huge).hexdigest()
    assert base64.b64decode(body["original_b64"]) == huge[:DLQ_ORIGINAL_LIMIT]
    assert row.key.startswith("sha256:")


class _FailingDeadLetters(UnitOfWork):
    """A unit of work whose dead letters cannot be stored until `healed` is set."""

    healed = False
    refusals = 0
    refused = asyncio.Event

    def publish_raw(self, topic, key, value, headers) -> None:
        if topic.endswith(".dlq") and not type(self).healed:
            type(self).refusals += 1
            type(self).refused.set()
            raise ValueError("cannot store this dead letter")
        super().publish_raw(topic, key, value, headers)


async def test_a_record_that_cannot_be_dead_lettered_holds_its_batch_back_stuck_until_it_can(kit_db: Database) -> None:
    applied: list[str] = []

    async def handler(uow, envelope, event) -> None:
        applied.append(event.guardian_id)

    _FailingDeadLetters.healed, _FailingDeadLetters.refusals = False, 0
    _FailingDeadLetters.refused = asyncio.Event()
    registry = CollectorRegistry()
    consumer = BatchConsumer("tester", {"GuardianRegistered": handler},
                             lambda: _FailingDeadLetters(kit_db, producer="t"), KitMetrics(registry),
                             retry_base_seconds=0.001, max_backoff_seconds=0.01)
    task = asyncio.create_task(consumer.process([_record(0, _raw(0)), _record(1, b"garbage"), _record(2, _raw(2))]))
    while _FailingDeadLetters.refusals < 6:
        _FailingDeadLetters.refused.clear()
        await _FailingDeadLetters.refused.wait()
    assert not task.done(), "process must not return while a record is neither processed nor dead-lettered"
    assert consumer.stuck and "cannot dead-letter a record" in (consumer.last_error or "")
    assert registry.get_sample_value("beilei_consumer_stuck") == 1
    _FailingDeadLetters.healed = True
    await task
    assert not consumer.stuck and consumer.last_error is None
    assert registry.get_sample_value("beilei_consumer_stuck") == 0
    assert applied[-2:] == ["gdn-0", "gdn-2"], "after the rolled-back batch, record by record"
    (body,) = await _dead_letters(kit_db)
    assert body["offset"] == 1 and body["original_b64"] == "", "the minimal dead letter, without the original"
