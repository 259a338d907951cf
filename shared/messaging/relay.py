"""Outbox relay: publishes committed outbox rows to Kafka in order, deletes them once acknowledged.
A row Kafka refuses for good (too large, say) is set aside in place, never left to block the rows behind it."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from sqlalchemy import text
from sqlalchemy.util import greenlet_spawn

from shared.messaging.db import Database
from shared.observability import KitMetrics

log = logging.getLogger(__name__)

# Refusals about the record itself: sending it again can never succeed. Anything else (the broker
# away, a leader moving, a missing ACL) is retried until it succeeds.
UNPUBLISHABLE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError,
                 CorruptRecordException, InvalidTopicError)
# The header that marks a row set aside; an operator removes it to have the row sent again.
SET_ASIDE = "relay_refused"


_PENDING = f"select id, topic, key, value, headers from outbox where headers->>'{SET_ASIDE}' is null order by id limit $1"
_MARK = "update outbox set headers = headers || jsonb_build_object($1::text, $2::text) where id = $3::bigint"
_DELETE = "delete from outbox where id = any($1::bigint[])"


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    topic: str
    key: str | None
    value: bytes
    headers: dict


def make_producer(bootstrap: str, client_id: str, **options: Any) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send never duplicates or reorders within a partition.
    `options` carry the client's security (kafka.client_options)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        **options,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


def _reason(exc: BaseException, row: Any) -> str:
    return f"{type(exc).__name__}: {exc} ({len(row.value)} bytes)"[:500]


class OutboxRelay:
    """Runs beside the service. Only one relay per schema is active (a session advisory lock), so rows
    leave in id order; the others stand by. A failed send is retried until it succeeds: rows are only
    deleted after Kafka acknowledged them, so a crash republishes (consumers deduplicate) but never loses.
    A row Kafka refuses for good (UNPUBLISHABLE) stays in the outbox marked with the reason in its
    `relay_refused` header, counted in beilei_outbox_refused and beilei_outbox_set_aside and logged as
    an error, and the rows behind it go on; clearing the mark sends it again."""

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        metrics: KitMetrics,
        *,
        batch_size: int = 1000,
        poll_seconds: float = 0.2,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.client_options = client_options or {}
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.active = False
        # True while another replica holds the relay lock: this one is healthy and waits its turn, so a
        # readiness check must not count it as failed (else a second replica never becomes ready).
        self.standing_by = False
        self.published_total = 0

    def wake(self, _count: int = 0) -> None:
        """Called after a commit that added outbox rows, so they leave without waiting for the poll."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.db.schema}")

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Publish what is committed (bounded by drain_seconds), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, drain_seconds)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._serve()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.active = False
                self.standing_by = False
                log.exception("outbox relay failed; retrying", extra={"retry_in_s": backoff})
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 10.0)

    async def _serve(self) -> None:
        async with self.db.engine.connect() as lock_conn:
            # Session-level lock held as long as this connection lives; a crashed process releases it.
            while True:
                got = (
                    await lock_conn.execute(text("select pg_try_advisory_lock(hashtext(:k))"), {"k": f"relay:{self.db.schema}"})
                ).scalar()
                await lock_conn.commit()
                if got:
                    self.standing_by = False
                    break
                self.standing_by = True
                if self._stopping.is_set():
                    self.standing_by = False
                    return
                await asyncio.sleep(2.0)
            try:
                producer = make_producer(self.bootstrap, f"{self.db.schema}-relay", **self.client_options)
                await producer.start()
                self.active = True
                try:
                    await self._loop(producer)
                finally:
                    self.active = False
                    await producer.stop()
            finally:
                # A session-level lock survives the pool's rollback: without this, a relay that failed
                # (a broker hiccup) would find its own lock taken on retry and stand by for ever.
                await lock_conn.invalidate()

    async def _loop(self, producer: AIOKafkaProducer) -> None:
        ticks = 0
        while True:
            sent = await self.publish_once(producer)
            ticks += 1
            if sent == 0 and ticks % 10 == 0:
                await self._measure_backlog()
            if sent >= self.batch_size:
                continue
            if self._stopping.is_set():
                if sent == 0:
                    await self._measure_backlog()
                    return
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        # On asyncpg directly: a relay round is a read and a delete, a few hundred times a second at the
        # evening peak, and SQLAlchemy's checkout, implicit transaction and wrapping cost more than both.
        pooled = await self.db.engine.raw_connection()
        conn = pooled.driver_connection
        try:
            rows = [_Row(*r) for r in await conn.fetch(_PENDING, self.batch_size)]
            if not rows:
                return 0
            refused = await self._send(producer, rows)
            sent = [r for r in rows if r.id not in refused]
            if refused:
                async with conn.transaction():
                    for row, reason in refused.values():
                        await conn.execute(_MARK, SET_ASIDE, reason, row.id)
                    await conn.execute(_DELETE, [r.id for r in sent])
            else:
                await conn.execute(_DELETE, [r.id for r in sent])
        finally:
            await greenlet_spawn(pooled.invalidate if conn.is_closed() else pooled.close)
        for row in sent:
            self.metrics.published.labels(row.topic).inc()
        for row, reason in refused.values():
            self.metrics.outbox_refused.labels(row.topic).inc()
            log.error("outbox row refused by Kafka for good; set aside, the rows behind it go on",
                      extra={"outbox_id": row.id, "topic": row.topic, "bytes": len(row.value), "reason": reason})
        if refused:
            await self._measure_backlog()
        self.published_total += len(sent)
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, rows: list) -> dict:
        """Send rows in order and wait for every acknowledgement. Returns {id: (row, reason)} of the rows
        refused for good; raises on any other failure (nothing is deleted then, and the batch is sent again)."""
        refused: dict = {}
        pending = []
        for row in rows:
            try:
                pending.append((row, await self._send_one(producer, row)))
            except UNPUBLISHABLE as exc:  # refused before it left: too large for the producer
                refused[row.id] = (row, _reason(exc, row))
        results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
        alone = []
        for (row, _), result in zip(pending, results):
            if isinstance(result, UNPUBLISHABLE):
                alone.append(row)
            elif isinstance(result, BaseException):
                raise result
        # The broker refuses a whole produce batch for one bad record: each row of it is tried on its
        # own, so only the culprit is set aside (the others, sent again, may land after later rows).
        for row in alone:
            try:
                await (await self._send_one(producer, row))
            except UNPUBLISHABLE as exc:
                refused[row.id] = (row, _reason(exc, row))
        return refused

    @staticmethod
    async def _send_one(producer: AIOKafkaProducer, row: Any) -> asyncio.Future:
        headers = [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
        return await producer.send(
            row.topic,
            value=bytes(row.value),
            key=row.key.encode() if row.key is not None else None,
            headers=headers,
        )

    async def _measure_backlog(self) -> None:
        async with self.db.engine.connect() as conn:
            waiting = f"headers->>'{SET_ASIDE}' is null"
            count, oldest, set_aside = (
                await conn.execute(
                    text(f"select count(*) filter (where {waiting}), "
                         f"coalesce(extract(epoch from now() - min(created_at) filter (where {waiting})), 0), "
                         f"count(*) filter (where not ({waiting})) from outbox")
                )
            ).one()
        self.metrics.outbox_backlog.set(count)
        self.metrics.outbox_oldest_age.set(float(oldest))
        self.metrics.outbox_set_aside.set(set_aside)
