"""Kill and resume on the real broker and PostgreSQL: poison records between valid ones, a consumer
that dies after committing a batch's effects but before its offsets, then a fresh consumer. Every
valid record is applied once, every poison record is in the DLQ once, no offset is ever committed
past an unprocessed record, and an outbox row too large for Kafka does not wedge the relay."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlmodel import SQLModel

from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ENROLLMENT_EVENTS, dlq
from shared.messaging.consumer import BatchConsumer, Item, RawRecord, batch_handler
from shared.messaging.db import Database
from shared.messaging.kafka import ensure_topics, make_broker, subscribe_batches
from shared.messaging.relay import SET_ASIDE, OutboxRelay
from shared.messaging.tables import InboxRow, OutboxRow
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics
from tests.integration.kafkatools import committed, eventually, partitions, produce, read_topic

pytestmark = pytest.mark.integration


def _valid(run: str, i: int, guardian: str | None = None) -> bytes:
    event = GuardianRegistered(guardian_id=guardian or f"gdn-{run}-{i}", school_id="sch-1", student_ids=[f"stu-{i}"],
                               name="n", phone_masked="138****0000", phone_sealed="s", consent=True,
                               registered_by="stf-1")
    return encode(new_envelope(event, producer="enrollment"))


def _records(run: str, first: int, key: bytes) -> list[tuple[bytes, bytes, str | None]]:
    """Valid records with poison between them: (key, value, guardian id if it may be applied). A
    guardian id starting with "gdn-" must be applied; one starting with "maybe-" is a record that one
    version of the contracts accepts and another refuses: it must be applied or dead-lettered, once."""
    overflowing = json.loads(_valid(run, first + 9, guardian=f"maybe-{run}-{first}"))
    overflowing["occurred_at"] = "9999-12-31T23:59:59-14:00"
    surrogate = _valid(run, first + 8, guardian=f"bad-{run}-SURROGATE").replace(b"SURROGATE", b"\\ud800")
    return [
        (key, _valid(run, first), f"gdn-{run}-{first}"),
        (key, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, None),  # nested too deeply for any JSON parser
        (key, _valid(run, first + 1), f"gdn-{run}-{first + 1}"),
        (key + b"\x00nul", b"\xff\xfe\x00 garbage bytes", None),  # NUL in the key, bytes that are not text
        (key, _valid(run, first + 2), f"gdn-{run}-{first + 2}"),
        (key, json.dumps(overflowing).encode(), f"maybe-{run}-{first}"),
        (key, _valid(run, first + 3), f"gdn-{run}-{first + 3}"),
        (key, surrogate, None),  # a lone surrogate, which PostgreSQL refuses
        (key + b"\x00", _valid(run, first + 4), f"gdn-{run}-{first + 4}"),  # valid, under a NUL key
    ]


async def test_poison_records_and_a_kill_between_effects_and_offsets_lose_and_duplicate_nothing(
    database_url: str, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_bootstrap)
    run = uuid.uuid4().hex[:8]
    group = f"skiptest_{run}"
    db = Database(database_url, group, pool_size=4)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'create schema "{db.schema}"'))
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=[OutboxRow.__table__, InboxRow.__table__]))
        await conn.execute(text("create table applied (guardian_id text not null)"))
    metrics = KitMetrics(CollectorRegistry())
    relay = OutboxRelay(db, kafka_bootstrap, metrics, poll_seconds=0.05)
    async with UnitOfWork(db, producer="enrollment") as uow:  # first in line: it must not hold up the DLQ rows
        uow.publish_raw(ENROLLMENT_EVENTS, f"big-{run}", b"x" * (2 * 1024 * 1024), {"type": "Oversized"})
        await uow.commit()
    await relay.start()

    @batch_handler
    async def apply_guardians(uow: UnitOfWork, items: Sequence[Item]) -> None:
        mine = [i.event.guardian_id for i in items if run in i.event.guardian_id]
        if mine:
            conn = await uow.connection()
            await conn.executemany("insert into applied (guardian_id) values ($1::text)", [(g,) for g in mine])

    key = f"k-{run}".encode()
    produced = _records(run, 0, key)
    placed = await produce(kafka_bootstrap, ENROLLMENT_EVENTS, [(k, v) for k, v, _ in produced])
    # a header that is not UTF-8 used to fail FastStream's parsing of the whole batch
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(ENROLLMENT_EVENTS, _valid(run, 50), key=key, headers=[("h", b"\xff\xfe")])
    finally:
        await producer.stop()
    produced.append((key, b"", f"gdn-{run}-50"))
    placed.append((meta.partition, meta.offset))
    crashed: list[RawRecord] = []

    class DiesBeforeItsOffsets(BatchConsumer):
        async def process(self, records: Sequence[RawRecord]) -> None:
            if crashed:
                raise RuntimeError("this process is dead")
            await super().process(records)
            if any(r.key is not None and r.key.startswith(key) for r in records):
                crashed.extend(records)  # effects committed; the offsets never will be
                raise RuntimeError("killed between the commit and the offsets")

    async def consume(consumer: BatchConsumer, until) -> None:
        broker = make_broker(kafka_bootstrap, group, CollectorRegistry())
        subscribe_batches(broker, consumer, (ENROLLMENT_EVENTS,), max_records=500)
        await broker.start()
        try:
            await eventually(until, timeout=120, what=f"{group} to get there")
        finally:
            await broker.stop()

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(db, producer=group, on_commit=relay.wake)
    try:
        dying = DiesBeforeItsOffsets(group, {"GuardianRegistered": apply_guardians}, uow_factory, metrics,
                                     retry_base_seconds=0.01)
        await consume(dying, lambda: bool(crashed))
        earliest = {}
        for r in crashed:
            earliest[(r.topic, r.partition)] = min(r.offset, earliest.get((r.topic, r.partition), r.offset))
        for where, offset in (await committed(kafka_bootstrap, group)).items():
            assert offset <= earliest.get(where, offset), f"{where} committed past the unacknowledged batch"

        produced += _records(run, 100, key)
        placed += await produce(kafka_bootstrap, ENROLLMENT_EVENTS, [(k, v) for k, v, _ in produced[len(placed):]])
        ends = {}
        for (part, offset) in placed:
            ends[(ENROLLMENT_EVENTS, part)] = max(offset + 1, ends.get((ENROLLMENT_EVENTS, part), 0))

        async def caught_up() -> bool:
            offsets = await committed(kafka_bootstrap, group)
            return all(offsets.get(where, -1) >= end for where, end in ends.items())

        resumed = BatchConsumer(group, {"GuardianRegistered": apply_guardians}, uow_factory, metrics,
                                retry_base_seconds=0.01)
        await consume(resumed, caught_up)
        assert not resumed.stuck

        async with db.engine.connect() as conn:
            applied = dict((await conn.execute(text("select guardian_id, count(*) from applied group by 1"))).all())

        ours = set(placed)  # the shared topic also carries other tests' poison records, read by this group too

        async def dead_letters() -> dict | None:
            found: dict[tuple[int, int], int] = {}
            for record in await read_topic(kafka_bootstrap, dlq(ENROLLMENT_EVENTS)):
                body = json.loads(record.value)
                if body["consumer"] == group and (body["partition"], body["offset"]) in ours:
                    assert body["reason"]
                    found[(body["partition"], body["offset"])] = found.get((body["partition"], body["offset"]), 0) + 1
            return found if len(found) >= sum(1 for *_, g in produced if g is None) else None

        dead = await eventually(dead_letters, timeout=60, what="the poison records on the DLQ")
        for (_, value, guardian), (part, offset) in zip(produced, placed):
            outcome = (applied.get(guardian, 0), dead.get((part, offset), 0))
            if guardian is None:
                assert outcome == (0, 1), f"poison at {part}/{offset} dead-lettered exactly once: {value[:40]!r}"
            elif guardian.startswith("gdn-"):
                assert outcome == (1, 0), f"{guardian} applied exactly once"
            else:
                assert sum(outcome) == 1, f"{guardian} applied or dead-lettered, exactly once: {outcome}"
        assert sum(applied.values()) + sum(dead.values()) == len(produced)

        async with db.engine.connect() as conn:
            left = (await conn.execute(text("select key, headers from outbox"))).all()
        assert [r.key for r in left] == [f"big-{run}"], "only the oversized row stays, set aside"
        assert "MessageSizeTooLarge" in left[0].headers[SET_ASIDE]
        assert metrics.registry.get_sample_value("beilei_outbox_refused_total", {"topic": ENROLLMENT_EVENTS}) == 1
        assert {p.partition for p in await partitions(kafka_bootstrap, ENROLLMENT_EVENTS)}  # the topic still serves
    finally:
        await relay.stop()
        async with db.engine.begin() as conn:
            await conn.execute(text(f'drop schema "{db.schema}" cascade'))
        await db.dispose()
