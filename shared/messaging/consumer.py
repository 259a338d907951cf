"""Batch consumer: decodes records, deduplicates through the inbox, applies a handler table in one
transaction per batch, and dead-letters what can never be processed. Knows no business rule."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.contracts.envelope import Envelope, Event
from shared.contracts.registry import ContractError, decode
from shared.contracts.topics import dlq
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics, causing_event, correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Envelope, Event], Awaitable[None]]


class Rejected(Exception):
    """Raised by a handler for a message that can never be processed (e.g. an unknown student).
    The message goes to the DLQ with this reason; the handler's partial effects are rolled back."""


@dataclass(frozen=True)
class RawRecord:
    """What the kit needs of a consumed Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_consumer_record(cls, record) -> "RawRecord":  # noqa: ANN001 - aiokafka ConsumerRecord
        return cls(record.topic, record.partition, record.offset, record.key, record.value, tuple(record.headers or ()))


@dataclass
class _Decoded:
    record: RawRecord
    envelope: Envelope
    event: Event
    handler: Handler


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying forever: the database or network is away, or a serialisation conflict.
    Anything else is a defect or bad data, retried a bounded number of times then dead-lettered."""
    if isinstance(exc, (ConnectionError, asyncio.TimeoutError, TimeoutError, OSError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return True
        state = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        return state in {"40001", "40P01"} or state.startswith(("08", "57P", "53"))
    return False


def dlq_record(record: RawRecord, *, consumer: str, kind: str, reason: str) -> bytes:
    """The body of a DLQ record: why, who, where from, and the original bytes untouched (base64)."""
    return json.dumps(
        {
            "reason": reason,
            "kind": kind,
            "consumer": consumer,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
            "original_b64": base64.b64encode(record.value or b"").decode(),
            "original_headers": {k: v.decode("utf-8", "replace") for k, v in record.headers},
            "failed_at": datetime.now(timezone.utc).isoformat(),
        },
        ensure_ascii=False,
    ).encode()


@dataclass
class BatchConsumer:
    """One per service. `handlers` maps event type names to handler functions; other types are ignored.
    `duplicate_handlers` (optional) see redeliveries of an already processed event id, in the same
    transaction, for a service that must compare them with the first delivery (the audit ledger)."""

    name: str
    handlers: Mapping[str, Handler]
    uow_factory: Callable[[], UnitOfWork]
    metrics: KitMetrics
    max_attempts: int = 3
    retry_base_seconds: float = 0.2
    duplicate_handlers: Mapping[str, Handler] = field(default_factory=dict)
    _stopping: bool = field(default=False, init=False)

    def stop(self) -> None:
        self._stopping = True

    async def process(self, records: Sequence[RawRecord]) -> None:
        """Apply a batch. Returns only when every record is either applied, a duplicate, ignored or
        dead-lettered, and that is committed, so the caller may commit the offsets afterwards."""
        if not records:
            return
        started = time.perf_counter()
        decoded: list[_Decoded] = []
        dead: list[tuple[RawRecord, str, str]] = []
        for record in records:
            try:
                envelope, event = decode(record.value or b"", topic=record.topic)
            except ContractError as exc:
                dead.append((record, f"contract:{exc.code}", str(exc)))
                continue
            handler = self.handlers.get(envelope.type)
            if handler is None:
                self.metrics.consumed.labels(record.topic, "ignored").inc()
                continue
            decoded.append(_Decoded(record, envelope, event, handler))
        try:
            await self._with_transient_retry(lambda: self._apply(decoded, dead))
        except Exception as exc:  # a handler failed: isolate the culprit record by record
            log.warning("batch failed, applying record by record", extra={"error": repr(exc), "records": len(decoded)})
            await self._with_transient_retry(lambda: self._apply([], dead))
            for item in decoded:
                await self._apply_one(item)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(records))

    async def _apply(self, items: list[_Decoded], dead: list[tuple[RawRecord, str, str]],
                     dead_event: uuid.UUID | None = None) -> None:
        async with self.uow_factory() as uow:
            if dead_event is not None and not await uow.claim(self.name, [dead_event]):
                dead = []  # dead-lettered on an earlier delivery already: once is enough
            fresh = await uow.claim(self.name, (i.envelope.event_id for i in items))
            outcomes: list[tuple[str, str]] = []
            for item in items:
                eid = item.envelope.event_id
                if eid not in fresh:
                    on_duplicate = self.duplicate_handlers.get(item.envelope.type)
                    if on_duplicate is not None:
                        await on_duplicate(uow, item.envelope, item.event)
                    outcomes.append((item.record.topic, "duplicate"))
                    continue
                fresh.discard(eid)  # the same event twice in one batch is applied once
                token = correlation_id.set(item.envelope.correlation_id)
                cause = causing_event.set(item.envelope.event_id)
                try:
                    await item.handler(uow, item.envelope, item.event)
                finally:
                    causing_event.reset(cause)
                    correlation_id.reset(token)
                outcomes.append((item.record.topic, "applied"))
            for record, kind, reason in dead:
                self._dead_letter(uow, record, kind, reason)
            await uow.commit()
        for topic, outcome in outcomes:
            self.metrics.consumed.labels(topic, outcome).inc()
        for record, kind, reason in dead:
            self.metrics.dlq.labels(record.topic, kind).inc()
            self.metrics.consumed.labels(record.topic, "dead_lettered").inc()
            log.warning("dead-lettered a record", extra={"topic": record.topic, "partition": record.partition,
                                                          "offset": record.offset, "kind": kind, "reason": reason})
        dead.clear()

    async def _apply_one(self, item: _Decoded) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._with_transient_retry(lambda: self._apply([item], []))
                return
            except Rejected as exc:
                kind, reason = "rejected", str(exc)
                break
            except Exception as exc:
                kind, reason = "failed", f"{type(exc).__name__}: {exc} (after {attempt} attempts)"
                log.warning("handler failed", extra={"attempt": attempt, "error": repr(exc), "type": item.envelope.type})
                await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
        # The event id is claimed with its dead letter, so a redelivery is not dead-lettered twice.
        await self._with_transient_retry(
            lambda: self._apply([], [(item.record, kind, reason)], dead_event=item.envelope.event_id)
        )

    def _dead_letter(self, uow: UnitOfWork, record: RawRecord, kind: str, reason: str) -> None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        uow.publish_raw(
            dlq(record.topic),
            key,
            dlq_record(record, consumer=self.name, kind=kind, reason=reason),
            {"reason": reason[:200], "kind": kind, "consumer": self.name, "dlq_id": str(uuid.uuid4())},
        )

    async def _with_transient_retry(self, attempt: Callable[[], Awaitable[None]]) -> None:
        delay = self.retry_base_seconds
        while True:
            try:
                await attempt()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("transient failure, retrying", extra={"error": repr(exc), "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
