"""Composition of one service process: database, migrations, broker, consumer, relay, HTTP app with
health and metrics. Each service's app module hands it its handlers and routes; nothing here is
specific to a service."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka.client import AIOKafkaClient
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from shared.auth import TokenVerifier
from shared.contracts import topics as T
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, Handler
from shared.messaging.db import Database
from shared.messaging.heap import settled_heap
from shared.messaging.http import (
    CorrelationMiddleware,
    install_database_unavailable,
    install_error_body,
    install_input_guards,
    install_rate_limits,
)
from shared.messaging.kafka import client_options, client_security, ensure_topics, make_broker, subscribe_batches
from shared.messaging.relay import OutboxRelay
from shared.messaging.uow import UnitOfWork
from shared.messaging.workers import Worker, Workers
from shared.observability import KitMetrics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[object]]


class KafkaProbe:
    """Whether a Kafka broker answers, asked in the background at most every `interval` seconds (one
    metadata request on a connection of its own), so readiness and the beilei_kafka_reachable gauge read
    a cached answer and no request pays for it. The relay and the consumer retry by themselves; this only
    makes an outage visible."""

    def __init__(self, bootstrap: str, registry: CollectorRegistry, *, options: Mapping | None = None,
                 interval: float = 5.0, timeout: float = 5.0) -> None:
        self.bootstrap = bootstrap
        self.options = dict(options or {})
        self.interval = interval
        self.timeout = timeout
        self.reachable: bool | None = None  # None: not asked yet
        self.last_error: str | None = None
        self.gauge = Gauge("beilei_kafka_reachable",
                           "1 while a Kafka broker answered the last metadata request (asked every few seconds).",
                           registry=registry)
        self._client: AIOKafkaClient | None = None
        self._bootstrapped = False
        self._task: asyncio.Task | None = None

    async def check(self) -> bool:
        """Ask once; record and return the answer."""
        try:
            await asyncio.wait_for(self._ask(), self.timeout)
            self.reachable, self.last_error = True, None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.reachable, self.last_error = False, f"{type(exc).__name__}: {exc}"[:300]
        self.gauge.set(1 if self.reachable else 0)
        return self.reachable

    async def _ask(self) -> None:
        if self._client is None:
            self._client = AIOKafkaClient(bootstrap_servers=self.bootstrap, client_id="beilei-probe",
                                          request_timeout_ms=int(self.timeout * 1000),
                                          metadata_max_age_ms=3_600_000, **self.options)
        if not self._bootstrapped:
            await self._client.bootstrap()
            self._bootstrapped = True
        else:
            await self._client.fetch_all_metadata()

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._run(), name="kafka-probe")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            was = self.reachable
            if await self.check() != was:
                log.log(logging.INFO if self.reachable else logging.ERROR,
                        "Kafka reachable again" if self.reachable else "Kafka unreachable",
                        extra={"bootstrap": self.bootstrap, "error": self.last_error})

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.close()


class RepeatFilter(logging.Filter):
    """Lets one of a run of identical warnings or errors (same logger, level and text) through every
    `window` seconds and counts the others: a broker or database away makes its clients repeat the same
    connection error many times a second. The next one let through carries `suppressed`, how many of it
    were held back. INFO and below pass untouched."""

    def __init__(self, window: float = 10.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self.suppressed_total = 0
        self._seen: dict[tuple, list] = {}  # key -> [last let through, held back since]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.window:
                entry[1] += 1
                self.suppressed_total += 1
                return False
            if entry is not None and entry[1]:
                record.suppressed = entry[1]
            self._seen[key] = [now, 0]
            if len(self._seen) > 1000:  # forget quiet keys, so varied messages cannot grow this
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
        return True


def quiet_repeats(window: float = 10.0) -> RepeatFilter:
    """Install one RepeatFilter on every handler of the root logger (where configure_logging sends all)."""
    repeat = RepeatFilter(window)
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeat)
    return repeat


@dataclass
class Runtime:
    """Everything a service's handlers and routes may use at run time."""

    name: str
    settings: CommonSettings
    db: Database
    metrics: KitMetrics
    relay: OutboxRelay
    uow_factory: Callable[[], UnitOfWork]
    registry: CollectorRegistry
    authority: TokenVerifier  # verifies callers' tokens; holds public keys only
    # The service's own typed context (a small dataclass of its policy, sealer, counters...), read by its
    # routes with context_of(request, <its class>); `extras` is where services not yet moved keep theirs.
    context: object | None = None
    extras: dict = field(default_factory=dict)
    ready: bool = False
    kafka: KafkaProbe | None = None


C = TypeVar("C")


def context_of(where: Request | Runtime, kind: type[C]) -> C:
    """The service's context, typed: what its composition root put in `Runtime.context` (of the runtime
    given, or of the request's app)."""
    context = (where if isinstance(where, Runtime) else where.app.state.runtime).context
    if not isinstance(context, kind):
        raise TypeError(f"the runtime carries {type(context).__name__}, not {kind.__name__}")
    return context


def build_runtime(name: str, settings: CommonSettings, uow_class: type[UnitOfWork] = UnitOfWork) -> Runtime:
    registry = CollectorRegistry()
    metrics = KitMetrics(registry)
    db = Database(settings.database_url, settings.database_schema or name)
    relay = OutboxRelay(
        db, settings.kafka_bootstrap_servers, metrics,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
        client_options=client_options(settings),
    )
    return Runtime(
        name=name,
        settings=settings,
        db=db,
        metrics=metrics,
        relay=relay,
        uow_factory=lambda: uow_class(db, producer=name, on_commit=relay.wake),
        registry=registry,
        authority=TokenVerifier.from_settings(settings),
        kafka=KafkaProbe(settings.kafka_bootstrap_servers, registry, options=client_options(settings)),
    )


def create_app(
    rt: Runtime,
    *,
    handlers: Mapping[str, Handler],
    routers: list[APIRouter],
    title: str,
    description: str,
    workers: Sequence[Worker] = (),
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
    migrate_with: Hook | None = None,
    duplicate_handlers: Mapping[str, Handler] | None = None,
) -> FastAPI:
    """The service's ASGI app: its routes plus /health/live, /health/ready, /metrics, /asyncapi.json.
    The lifespan migrates (with `migrate_with` instead of the kit's alembic upgrade, for a service that
    migrates as another role), starts the relay, then the consumer, then runs the `on_start` hooks (a
    service's own long-lived parts, e.g. a sender) and starts the `workers`. On shutdown it cancels and
    awaits the workers, runs the `on_stop` hooks in order, then drains the consumer and the relay, so
    what the workers and hooks wrote last still leaves the outbox. No service touches the lifespan itself.
    `duplicate_handlers` see redeliveries of already processed event ids (see BatchConsumer)."""
    consumed = T.CONSUMES.get(rt.name, ())
    broker = make_broker(rt.settings.kafka_bootstrap_servers, rt.name, rt.registry, client_security(rt.settings))
    consumer = BatchConsumer(rt.name, handlers, rt.uow_factory, rt.metrics,
                             duplicate_handlers=duplicate_handlers or {})
    if consumed:
        subscribe_batches(broker, consumer, consumed, max_records=rt.settings.consumer_max_records,
                          fetch_min_bytes=rt.settings.consumer_fetch_min_bytes,
                          fetch_max_wait_ms=rt.settings.consumer_fetch_max_wait_ms)

    running = Workers(list(workers), rt.db.engine, rt.db.schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = rt.settings
        if migrate_with is not None:
            await migrate_with()
        elif s.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, rt.name, s.database_url, rt.db.schema)
        if s.create_topics:
            await ensure_topics(s.kafka_bootstrap_servers, options=client_options(s))
        if rt.kafka:
            await rt.kafka.start()
        await rt.relay.start()
        await broker.start()
        for hook in on_start:
            await hook()
        running.start(rt.name)
        with settled_heap(s.gc_threshold):  # start-up's heap is never walked again (shared/messaging/heap.py)
            rt.ready = True
            log.info("service ready", extra={"consumes": list(consumed), "http": f"{s.http_host}:{s.http_port}",
                                             "workers": [w.name for w in workers]})
            try:
                yield
            finally:
                rt.ready = False
                await running.stop()
                for hook in on_stop:
                    try:
                        await hook()
                    except Exception:  # one part failing to stop must not keep the others from draining
                        log.exception("stop hook failed", extra={"hook": getattr(hook, "__qualname__", repr(hook))})
                consumer.stop()
                await broker.stop()  # waits for the batch in flight, which commits its offsets
                await rt.relay.stop()  # publishes what that batch put in the outbox
                if rt.kafka:
                    await rt.kafka.stop()
                await rt.db.dispose()
                log.info("service stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    install_error_body(app)
    install_database_unavailable(app)
    install_input_guards(app, rt.settings.http_max_body_bytes)
    install_rate_limits(app, rt.settings.http_rate_per_second, rt.settings.http_rate_burst)
    app.add_middleware(CorrelationMiddleware)  # outermost: the 503 above carries the correlation id too
    for router in routers:
        app.include_router(router)

    @app.get("/health/live", tags=["operations"], summary="The process is alive.")
    async def live() -> dict:
        return {"status": "alive", "service": rt.name}

    @app.get("/health/ready", tags=["operations"],
             summary="Database and Kafka reachable, relay running, consumer not held back.")
    async def ready() -> JSONResponse:
        # A relay standing by (another replica publishes this schema's outbox) is as healthy as the active one.
        checks = {"started": rt.ready, "relay": rt.relay.active or rt.relay.standing_by}
        try:
            await asyncio.wait_for(rt.db.ping(), 2.0)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        problems: dict[str, str] = {}
        if rt.kafka is not None:  # the probe's cached answer: no broker round trip per request
            checks["kafka"] = rt.kafka.reachable is True
            if rt.kafka.last_error:
                problems["kafka"] = rt.kafka.last_error
        # A consumer held back on a record it can neither process nor dead-letter waits, never skips it.
        held = app.state.consumer
        checks["consumer"] = not getattr(held, "stuck", False)
        if not checks["consumer"]:
            problems["consumer"] = getattr(held, "last_error", None) or "held back"
        ok = all(checks.values())
        body: dict = {"status": "ready" if ok else "not ready", "checks": checks}
        if problems:
            body["problems"] = problems
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics() -> Response:
        return Response(generate_latest(rt.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"], summary="The platform's event contracts (AsyncAPI 3).")
    async def asyncapi() -> dict:
        from shared.contracts.asyncapi import build_document

        return build_document()

    app.state.runtime = rt
    app.state.consumer = consumer
    return app


def serve(app: FastAPI, settings: CommonSettings) -> None:
    """Run the app under uvicorn; SIGTERM and Ctrl-C trigger the lifespan's graceful shutdown."""
    import uvicorn

    # uvloop and httptools: the event loop and the HTTP parser in C, which the evening peak's many small
    # requests and Kafka/PostgreSQL round trips pay for on every call (see bench/pickup_surge.py).
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                timeout_graceful_shutdown=30, access_log=False, loop="uvloop", http="httptools")


def service_main(name: str, build: Callable[[CommonSettings], tuple[FastAPI, Runtime]],
                 settings_class: type[CommonSettings]) -> None:
    """Entry point of `python -m services.<name>`: settings from the environment, JSON logs, serve."""
    from shared.observability import configure_logging

    settings = settings_class()
    configure_logging(name, settings.log_level)
    quiet_repeats()
    app, _ = build(settings)
    serve(app, settings)
