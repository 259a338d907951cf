"""Batch consumer: decodes records, deduplicates through the inbox, applies a handler table in one
transaction per batch, and dead-letters what can never be processed. Knows no business rule.

Its one promise: `process` returns only when every record of the batch is applied, a duplicate,
ignored or dead-lettered, and that is committed. Whatever goes wrong with one record ends in the DLQ
with a reason; what cannot even be dead-lettered is retried for ever (`stuck`), never passed over."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.contracts.envelope import Envelope, Event
from shared.contracts.registry import ContractError, decode
from shared.contracts.topics import dlq
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics, causing_event, correlation_id
from shared.privacy import redact

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Envelope, Event], Awaitable[None]]


@dataclass(frozen=True)
class Item:
    """One consumed event this consumer has not processed before, as a batch handler receives it, with its
    record's Kafka headers and timestamp (milliseconds since the epoch; None where the record had none)."""

    envelope: Envelope
    event: Event
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive) as text, or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("utf-8", "replace")
        return None


BatchHandler = Callable[[UnitOfWork, Sequence[Item]], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def batch_handler(fn: F) -> F:
    """Mark `async def h(uow, items)` as taking a run of consecutive fresh events at once, so a service
    applies them with a few set-based statements. The kit calls it once per maximal run of
    consecutive fresh items whose types map to it (order within a partition kept), and with one-item
    lists when a failed batch is retried record by record (so `Rejected` dead-letters the culprit only).
    Publish with explicit ids: `uow.publish(ev, correlation_id=item.envelope.correlation_id,
    causation_id=item.envelope.event_id)`; no event is implied as the cause inside a batch."""
    fn.__beilei_batch__ = True  # type: ignore[attr-defined]
    return fn


def is_batch_handler(fn: object) -> bool:
    return bool(getattr(fn, "__beilei_batch__", False))


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
    timestamp_ms: int | None = None

    @classmethod
    def from_consumer_record(cls, record) -> RawRecord:
        # A Kafka header may carry a null value; the kit sees it as empty bytes.
        headers = tuple((k, v if v is not None else b"") for k, v in (record.headers or ()))
        timestamp = record.timestamp if isinstance(record.timestamp, int) and record.timestamp >= 0 else None
        return cls(record.topic, record.partition, record.offset, record.key, record.value, headers, timestamp)


@dataclass
class _Decoded:
    record: RawRecord
    envelope: Envelope
    event: Event
    handler: Handler | BatchHandler
    batch: bool


@dataclass(frozen=True)
class _Dead:
    """A record on its way to the DLQ. `claim_id` enters the inbox with the dead letter, so a
    redelivery (a crash before the offset commit) is not dead-lettered twice."""

    record: RawRecord
    kind: str
    reason: str
    claim_id: uuid.UUID
    minimal: bool = False


class ConsumerStopping(Exception):
    """The service stops while a batch is still held back: it is left unacknowledged, for the next run."""


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying forever: the database or network is away, or a serialisation conflict.
    Anything else is a defect or bad data, retried a bounded number of times then dead-lettered."""
    if isinstance(exc, (ConnectionError, asyncio.TimeoutError, TimeoutError, OSError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return True
        state = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        return _transient_state(state)
    if isinstance(exc, asyncpg.PostgresError):  # a unit of work on asyncpg alone sees the driver's own errors
        return _transient_state(exc.sqlstate or "")
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection" in str(exc).lower()  # "connection is closed", not a misuse of the driver
    return False


def _transient_state(state: str) -> bool:
    """Serialisation failure, deadlock, connection exceptions, the server shutting down or out of resources."""
    return state in {"40001", "40P01"} or state.startswith(("08", "57P", "53"))


# -- dead letters -------------------------------------------------------------------------------
# Kafka refuses records above 1 MiB by default: an original above this limit is kept as its first
# DLQ_ORIGINAL_LIMIT bytes with its size and sha256, so a DLQ record (base64 + the rest) always fits.
DLQ_ORIGINAL_LIMIT = 256 * 1024
_REASON_LIMIT = 2000
_KEY_LIMIT = 256
_HEADERS_LIMIT = 32
_HEADER_VALUE_LIMIT = 1024
_DEAD_NAMESPACE = uuid.UUID("6d1f4c3e-2b1a-5c8e-9f00-b1e11e1d1e77")


def _text(value: str, limit: int | None = None) -> str:
    """A string PostgreSQL text/jsonb and UTF-8 accept: lone surrogates and NUL replaced, phone and ID numbers
    masked (a reason quotes what it refuses: a phone sent as a student id, issue 15), bounded."""
    cleaned = redact(value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd"))
    return cleaned if limit is None or len(cleaned) <= limit else cleaned[:limit] + "..."


def _redacted(original: bytes) -> bytes:
    """The original bytes with phone and ID numbers masked; bytes that are not UTF-8 kept as they were."""
    text = original.decode("utf-8", "surrogateescape")
    masked = redact(text)
    return original if masked == text else masked.encode("utf-8", "surrogateescape")


def dlq_key(record: RawRecord) -> str | None:
    """The DLQ record's key: the original key made safe to store; a long one by its hash."""
    if record.key is None:
        return None
    if len(record.key) > _KEY_LIMIT:
        return "sha256:" + hashlib.sha256(record.key).hexdigest()
    return _text(record.key.decode("utf-8", "replace"))


def dead_claim_id(record: RawRecord) -> uuid.UUID:
    """A stable id for a record that has no readable event id: where it sits and what it holds."""
    digest = hashlib.sha256(record.value or b"").hexdigest()
    return uuid.uuid5(_DEAD_NAMESPACE, f"{record.topic}\x1f{record.partition}\x1f{record.offset}\x1f{digest}")


def withhold_credential(name: str, value: str) -> str:
    """A header value as a dead letter may keep it: a bearer token (school systems sign their ingest records)
    loses its signature, so whoever reads the DLQ sees whose token it was but cannot use it."""
    if name.lower() != "authorization":
        return value
    scheme, _, token = value.partition(" ")
    signed, dot, _signature = token.strip().rpartition(".")
    return f"{scheme} {signed}.[signature withheld]" if dot else "[withheld]"


def dlq_record(record: RawRecord, *, consumer: str, kind: str, reason: str,
               limit: int = DLQ_ORIGINAL_LIMIT, minimal: bool = False) -> bytes:
    """The body of a DLQ record: why, who, where from, and the original bytes (base64) with their size
    and sha256; above `limit` only their beginning (`original_truncated`). `minimal` leaves out the
    original and its headers, for the rare record whose full dead letter could not be stored.

    Every text in it passes shared.privacy.redact. An original that held a phone or ID number is kept
    masked (`original_redacted`), without its sha256 (a hash of a short record is undone by trying every
    number), and can no longer be republished as it was: acceptable for a record that could never be
    processed, which its sender must correct and send again anyway (docs/security.md)."""
    original = record.value or b""
    stored = _redacted(original)
    redacted = stored is not original
    kept = b"" if minimal else stored[:limit]
    body: dict[str, Any] = {
        "reason": _text(reason, _REASON_LIMIT),
        "kind": _text(kind, 100),
        "consumer": consumer,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": None if record.key is None else _text(record.key.decode("utf-8", "replace"), _KEY_LIMIT),
        "original_b64": base64.b64encode(kept).decode(),
        "original_size": len(original),
        "original_sha256": None if redacted else hashlib.sha256(original).hexdigest(),
        "original_truncated": len(kept) < len(stored),
        "original_redacted": redacted,
        "original_headers": {} if minimal else {
            _text(k, 200): _text(withhold_credential(k, v.decode("utf-8", "replace")), _HEADER_VALUE_LIMIT)
            for k, v in record.headers[:_HEADERS_LIMIT]
        },
        "failed_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # a str() that fails is no reason to lose the record
        text = type(exc).__name__
    return _text(text, _REASON_LIMIT)


@dataclass
class BatchConsumer:
    """One per service. `handlers` maps event type names to handler functions (per event, or marked
    with @batch_handler); other types are ignored. `duplicate_handlers` (optional) see redeliveries
    of an already processed event id, in the same transaction, for a service that must compare them
    with the first delivery (the audit ledger).

    `stuck` is True while a batch is held back by a failure that retrying has not cleared (a record
    that can be neither processed nor dead-lettered, or the database away for `stuck_after_seconds`);
    `last_error` says what holds it. Readiness reads both; the partition waits, it is never skipped."""

    name: str
    handlers: Mapping[str, Handler | BatchHandler]
    uow_factory: Callable[[], UnitOfWork]
    metrics: KitMetrics
    max_attempts: int = 3
    retry_base_seconds: float = 0.2
    max_backoff_seconds: float = 30.0
    stuck_after_seconds: float = 10.0
    complain_every_seconds: float = 10.0
    duplicate_handlers: Mapping[str, Handler] = field(default_factory=dict)
    last_error: str | None = field(default=None, init=False)
    _stuck: bool = field(default=False, init=False)
    _stopping: bool = field(default=False, init=False)
    _stop_event: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _last_complaint: float = field(default=float("-inf"), init=False)
    _quiet: int = field(default=0, init=False)

    @property
    def stuck(self) -> bool:
        return self._stuck

    def stop(self) -> None:
        """From now on no batch is started and none held back is dead-lettered in a hurry: each is left
        unacknowledged (ConsumerStopping) for the next run; a batch already applying finishes."""
        self._stopping = True
        self._stop_event.set()

    async def process(self, records: Sequence[RawRecord]) -> None:
        """Apply a batch. Returns only when every record is either applied, a duplicate, ignored or
        dead-lettered, and that is committed, so the caller may commit the offsets afterwards. Raises
        only ConsumerStopping (or cancellation) on shutdown; then nothing of the batch may be acked."""
        if not records:
            return
        if self._stopping:
            raise ConsumerStopping("the service is stopping; the batch is left for the next run")
        started = time.perf_counter()
        decoded: list[_Decoded] = []
        dead: list[_Dead] = []
        for record in records:
            if self._ignored(record):
                self.metrics.consumed.labels(record.topic, "ignored").inc()
                continue
            try:
                envelope, event = decode(record.value or b"", topic=record.topic)
            except ContractError as exc:
                dead.append(_Dead(record, f"contract:{exc.code}", str(exc), dead_claim_id(record)))
                continue
            except Exception as exc:  # RecursionError, OverflowError...: still a record nobody can read
                dead.append(_Dead(record, "contract:undecodable", _describe(exc), dead_claim_id(record)))
                continue
            handler = self.handlers.get(envelope.type)
            if handler is None:
                self.metrics.consumed.labels(record.topic, "ignored").inc()
                continue
            decoded.append(_Decoded(record, envelope, event, handler, is_batch_handler(handler)))
        try:
            await self._retry(lambda: self._apply(decoded, dead), what="apply a batch")
        except ConsumerStopping:
            raise
        except Exception as exc:  # a handler failed: isolate the culprit record by record
            if self._stopping:  # not now: pauses are cut short while stopping, the next run retries properly
                raise ConsumerStopping(f"stopping after a failed batch: {_describe(exc)}") from exc
            log.warning("batch failed, applying record by record", extra={"error": _describe(exc), "records": len(decoded)})
            for item in dead:
                await self._dead_letter(item)
            for one in decoded:
                await self._apply_one(one)
        self._unstick()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(records))

    def _ignored(self, record: RawRecord) -> bool:
        """A record whose `type` header names a type this consumer has no handler for is passed over
        unread: at a term start most of enrollment's events reach a service that only needs a few, and
        decoding them cost more than the rest of its work. A record without the header is read."""
        for key, value in record.headers:
            if key == "type":
                name = value.decode("utf-8", "replace")
                return name not in self.handlers and name not in self.duplicate_handlers
        return False

    async def _apply(self, items: list[_Decoded], dead: list[_Dead]) -> None:
        async with self.uow_factory() as uow:
            if dead:
                unseen = await uow.claim(self.name, (d.claim_id for d in dead))
                dead = [d for d in dead if d.claim_id in unseen]  # dead-lettered on an earlier delivery: once is enough
            fresh = await uow.claim(self.name, (i.envelope.event_id for i in items))
            outcomes: list[tuple[str, str]] = []
            run: list[Item] = []
            run_handler: BatchHandler | None = None

            async def flush() -> None:
                nonlocal run
                if run:
                    assert run_handler is not None
                    taken, run = run, []
                    await run_handler(uow, taken)

            for item in items:
                eid = item.envelope.event_id
                if eid not in fresh:
                    on_duplicate = self.duplicate_handlers.get(item.envelope.type)
                    if on_duplicate is not None:
                        await flush()  # what came before it is applied before it is seen again
                        await on_duplicate(uow, item.envelope, item.event)
                    outcomes.append((item.record.topic, "duplicate"))
                    continue
                fresh.discard(eid)  # the same event twice in one batch is applied once
                if item.batch:
                    if run and item.handler != run_handler:
                        await flush()
                    run.append(Item(item.envelope, item.event, item.record.headers, item.record.timestamp_ms))
                    run_handler = item.handler  # type: ignore[assignment]
                else:
                    await flush()
                    token = correlation_id.set(item.envelope.correlation_id)
                    cause = causing_event.set(item.envelope.event_id)
                    try:
                        await item.handler(uow, item.envelope, item.event)  # type: ignore[call-arg]
                    finally:
                        causing_event.reset(cause)
                        correlation_id.reset(token)
                outcomes.append((item.record.topic, "applied"))
            await flush()
            for d in dead:
                uow.publish_raw(
                    dlq(d.record.topic),
                    None if d.minimal else dlq_key(d.record),
                    dlq_record(d.record, consumer=self.name, kind=d.kind, reason=d.reason, minimal=d.minimal),
                    {"reason": _text(d.reason, 200), "kind": _text(d.kind, 100), "consumer": self.name,
                     "dlq_id": str(uuid.uuid4())},
                )
            await uow.commit()
        for topic, outcome in outcomes:
            self.metrics.consumed.labels(topic, outcome).inc()
        for d in dead:
            self.metrics.dlq.labels(d.record.topic, d.kind).inc()
            self.metrics.consumed.labels(d.record.topic, "dead_lettered").inc()
            log.warning("dead-lettered a record", extra={"topic": d.record.topic, "partition": d.record.partition,
                                                          "offset": d.record.offset, "kind": d.kind,
                                                          "reason": _text(d.reason, 500)})

    async def _apply_one(self, item: _Decoded) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self._retry(lambda: self._apply([item], []), what="apply a record")
                return
            except ConsumerStopping:
                raise
            except Rejected as exc:
                kind, reason = "rejected", _text(str(exc), _REASON_LIMIT)
                break
            except Exception as exc:
                if self._stopping:
                    raise ConsumerStopping(f"stopping while a record fails: {_describe(exc)}") from exc
                kind, reason = "failed", f"{_describe(exc)} (after {attempt} attempts)"
                log.warning("handler failed", extra={"attempt": attempt, "error": _describe(exc), "type": item.envelope.type})
                await self._pause(self.retry_base_seconds * 2 ** (attempt - 1))
        # The event id is claimed with its dead letter, so a redelivery is not dead-lettered twice.
        await self._dead_letter(_Dead(item.record, kind, reason, item.envelope.event_id))

    async def _dead_letter(self, dead: _Dead) -> None:
        """Store a dead letter; if even that fails for a reason other than the database being away,
        store one without the original, and retry that for ever rather than pass the record over."""
        try:
            await self._retry(lambda: self._apply([], [dead]), what="dead-letter a record")
            return
        except ConsumerStopping:
            raise
        except Exception as exc:
            log.error("could not store a dead letter; storing one without the original",
                      extra={"topic": dead.record.topic, "partition": dead.record.partition,
                             "offset": dead.record.offset, "error": _describe(exc)})
            failure = _describe(exc)
        minimal = _Dead(dead.record, dead.kind, f"{dead.reason} [stored without the original: {failure}]",
                        dead.claim_id, minimal=True)
        await self._retry(lambda: self._apply([], [minimal]), what="dead-letter a record", forever=True)

    async def _retry(self, attempt: Callable[[], Awaitable[None]], *, what: str, forever: bool = False) -> None:
        """Run `attempt` until it succeeds. Transient failures are always retried (the database or
        network comes back); others are raised, unless `forever`: then the partition waits, loudly."""
        delay = self.retry_base_seconds
        since = time.monotonic()
        while True:
            try:
                await attempt()
                return
            except Exception as exc:
                transient = is_transient(exc)
                if not transient and not forever:
                    raise
                if self._stopping:  # leave the batch unacknowledged for the next run, rather than spin
                    raise ConsumerStopping(f"cannot {what}: {_describe(exc)}") from exc
                self.last_error = f"cannot {what}: {_describe(exc)}"
                if not transient or time.monotonic() - since >= self.stuck_after_seconds:
                    self._set_stuck()
                self._complain(transient, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.max_backoff_seconds)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the service stops."""
        try:
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        except TimeoutError:
            pass

    def _set_stuck(self) -> None:
        if not self._stuck:
            self._stuck = True
            self.metrics.consumer_stuck.set(1)

    def _unstick(self) -> None:
        self.last_error = None
        if self._stuck:
            self._stuck = False
            self.metrics.consumer_stuck.set(0)
            log.warning("consumer moving again", extra={"consumer": self.name})

    def _complain(self, transient: bool, retry_in: float) -> None:
        """One log line per `complain_every_seconds` while held back, however fast the retries."""
        now = time.monotonic()
        if now - self._last_complaint < self.complain_every_seconds:
            self._quiet += 1
            return
        level = logging.ERROR if self._stuck else logging.WARNING
        log.log(level, "consumer held back; retrying, not skipping" if self._stuck else "transient failure, retrying",
                extra={"consumer": self.name, "error": self.last_error, "transient": transient,
                       "retry_in_s": retry_in, "stuck": self._stuck, "retries_not_logged": self._quiet})
        self._last_complaint, self._quiet = now, 0
