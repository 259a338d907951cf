"""Composition of one service process: database, migrations, broker, consumer, relay, HTTP app with
health and metrics. Each service's app module hands it its handlers and routes; nothing here is
specific to a service."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared.auth import TokenAuthority
from shared.contracts import topics as T
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, Handler
from shared.messaging.db import Database
from shared.messaging.http import CorrelationMiddleware
from shared.messaging.kafka import client_options, client_security, ensure_topics, make_broker, subscribe_batches
from shared.messaging.relay import OutboxRelay
from shared.messaging.uow import UnitOfWork
from shared.observability import KitMetrics
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


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
    authority: TokenAuthority
    extras: dict = field(default_factory=dict)
    ready: bool = False


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
        authority=TokenAuthority(settings.auth_secret),
    )


def create_app(
    rt: Runtime,
    *,
    handlers: Mapping[str, Handler],
    routers: list[APIRouter],
    title: str,
    description: str,
    background: Sequence[Callable[[], Awaitable[None]]] = (),
    duplicate_handlers: Mapping[str, Handler] | None = None,
) -> FastAPI:
    """The service's ASGI app: its routes plus /health/live, /health/ready, /metrics, /asyncapi.json.
    The lifespan migrates, starts the relay, then the consumer, then the `background` coroutines (a
    service's periodic work, e.g. timers); on shutdown it cancels those first, then drains in reverse.
    `duplicate_handlers` see redeliveries of already processed event ids (see BatchConsumer)."""
    consumed = T.CONSUMES.get(rt.name, ())
    broker = make_broker(rt.settings.kafka_bootstrap_servers, rt.name, rt.registry, client_security(rt.settings))
    consumer = BatchConsumer(rt.name, handlers, rt.uow_factory, rt.metrics,
                             duplicate_handlers=duplicate_handlers or {})
    if consumed:
        subscribe_batches(broker, consumer, consumed, max_records=rt.settings.consumer_max_records)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = rt.settings
        if s.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, rt.name, s.database_url, rt.db.schema)
        if s.create_topics:
            await ensure_topics(s.kafka_bootstrap_servers, options=client_options(s))
        await rt.relay.start()
        await broker.start()
        tasks = [asyncio.create_task(run(), name=f"{rt.name}-background-{i}") for i, run in enumerate(background)]
        rt.ready = True
        log.info("service ready", extra={"consumes": list(consumed), "http": f"{s.http_host}:{s.http_port}"})
        try:
            yield
        finally:
            rt.ready = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            consumer.stop()
            await broker.stop()  # waits for the batch in flight, which commits its offsets
            await rt.relay.stop()  # publishes what that batch put in the outbox
            await rt.db.dispose()
            log.info("service stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    for router in routers:
        app.include_router(router)

    @app.get("/health/live", tags=["operations"], summary="The process is alive.")
    async def live() -> dict:
        return {"status": "alive", "service": rt.name}

    @app.get("/health/ready", tags=["operations"], summary="Database reachable, consumer and relay running.")
    async def ready() -> JSONResponse:
        # A relay standing by (another replica publishes this schema's outbox) is as healthy as the active one.
        checks = {"started": rt.ready, "relay": rt.relay.active or rt.relay.standing_by}
        try:
            await asyncio.wait_for(rt.db.ping(), 2.0)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics() -> Response:
        return Response(generate_latest(rt.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"], summary="The platform's event contracts (AsyncAPI 3).")
    async def asyncapi() -> dict:
        from shared.contracts.asyncapi import build_document

        return build_document()

    app.state.runtime = rt
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
    app, _ = build(settings)
    serve(app, settings)
