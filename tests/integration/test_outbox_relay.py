"""The outbox relay on the real broker: committed rows reach Kafka in order and leave the outbox;
rows of a rolled-back transaction never do; a second relay on the same schema stands by."""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlmodel import SQLModel

from shared.contracts.enrollment import GuardianRegistered
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.messaging.db import Database
from shared.messaging.kafka import ensure_topics
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import InboxRow, OutboxRow
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics
from tests.integration.kafkatools import eventually, read_topic

pytestmark = pytest.mark.integration


def _event(run: str, i: int) -> GuardianRegistered:
    return GuardianRegistered(guardian_id=f"gdn-relay-{run}", school_id="sch-1", student_ids=[f"stu-{i}"],
                              name=f"n{i}", phone_masked="138****0000", phone_sealed="s", consent=True,
                              registered_by="stf-1")


async def test_committed_outbox_rows_are_published_in_order_exactly_as_committed(
    database_url: str, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_bootstrap)
    run = uuid.uuid4().hex[:8]
    db = Database(database_url, f"relay_{run}", pool_size=4)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'create schema "{db.schema}"'))
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=[OutboxRow.__table__, InboxRow.__table__]))
    metrics = KitMetrics(CollectorRegistry())
    first, second = (OutboxRelay(db, kafka_bootstrap, metrics, batch_size=7, poll_seconds=0.05) for _ in range(2))
    await first.start()
    await second.start()
    try:
        for i in range(30):
            async with UnitOfWork(db, producer="enrollment", on_commit=first.wake) as uow:
                uow.publish(_event(run, i))
                if i % 10 == 9:
                    continue  # leaves without commit: rolled back, must never be published
                await uow.commit()

        async def published() -> list | None:
            mine = [r for r in await read_topic(kafka_bootstrap, ENROLLMENT_EVENTS) if r.key == f"gdn-relay-{run}".encode()]
            return mine if len(mine) >= 27 else None

        records = await eventually(published, timeout=60, what="27 committed events on the topic")
        await asyncio.sleep(1.0)  # would any duplicate from the standby relay show up?
        records = [r for r in await read_topic(kafka_bootstrap, ENROLLMENT_EVENTS) if r.key == f"gdn-relay-{run}".encode()]
        order = [json.loads(r.value)["payload"]["student_ids"][0] for r in records]
        assert order == [f"stu-{i}" for i in range(30) if i % 10 != 9], "in commit order, once each, none rolled back"
        assert {r.partition for r in records} == {records[0].partition}, "one key, one partition"
        assert dict(records[0].headers)["type"] == b"GuardianRegistered"
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("select count(*) from outbox"))).scalar() == 0
        assert first.published_total + second.published_total == 27
        assert 0 in (first.published_total, second.published_total), "only one relay per schema is active"
    finally:
        await first.stop()
        await second.stop()
        async with db.engine.begin() as conn:
            await conn.execute(text(f'drop schema "{db.schema}" cascade'))
        await db.dispose()


async def test_a_relay_that_failed_takes_its_lock_again_and_publishes(database_url: str, kafka_bootstrap: str) -> None:
    await ensure_topics(kafka_bootstrap)
    run = uuid.uuid4().hex[:8]
    db = Database(database_url, f"relay_{run}", pool_size=1)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'create schema "{db.schema}"'))
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=[OutboxRow.__table__, InboxRow.__table__]))
    relay = OutboxRelay(db, kafka_bootstrap, KitMetrics(CollectorRegistry()), poll_seconds=0.05)
    failures = 1
    real = relay.publish_once

    async def flaky(producer):
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("NotLeaderForPartition")
        return await real(producer)

    relay.publish_once = flaky
    await relay.start()
    try:
        async with UnitOfWork(db, producer="enrollment", on_commit=relay.wake) as uow:
            uow.publish(_event(run, 1))
            await uow.commit()
        await eventually(lambda: relay.published_total == 1, timeout=60, what="the relay to recover and publish")
        assert not relay.standing_by
    finally:
        await relay.stop()
        async with db.engine.begin() as conn:
            await conn.execute(text(f'drop schema "{db.schema}" cascade'))
        await db.dispose()
