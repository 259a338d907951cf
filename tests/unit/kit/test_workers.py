"""The kit runs a service's background work: a step every interval that survives its own failures, one
replica at a time where asked (a PostgreSQL advisory lock), and on shutdown the workers are cancelled
and awaited before the service's stop hooks run and before the consumer and relay drain."""
from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from shared.messaging import runtime as kit
from shared.messaging.db import Database
from shared.messaging.runtime import build_runtime, create_app
from shared.messaging.workers import Worker, Workers, advisory_claims
from shared.settings import CommonSettings


async def test_a_step_runs_every_interval_and_a_failing_round_is_retried_not_fatal(kit_db: Database, caplog) -> None:
    rounds: list[int] = []

    async def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("database hiccup")

    workers = Workers([Worker("sweep", step=step, interval=0.01, max_backoff=0.02)], kit_db.engine, kit_db.schema)
    workers.start("svc")
    while len(rounds) < 5:
        await asyncio.sleep(0.01)
    await workers.stop()

    assert len(rounds) >= 5, "the round after the failure ran, and the ones after it"
    assert any("worker step failed" in r.getMessage() and r.worker == "sweep" for r in caplog.records)


async def test_a_step_with_more_to_do_runs_again_without_waiting(kit_db: Database) -> None:
    rounds = 0

    async def step() -> bool:
        nonlocal rounds
        rounds += 1
        return rounds < 4  # a backlog of four rounds, then caught up

    workers = Workers([Worker("checks", step=step, interval=60.0)], kit_db.engine, kit_db.schema)
    workers.start("svc")
    for _ in range(100):
        if rounds >= 4:
            break
        await asyncio.sleep(0.01)
    await workers.stop()

    assert rounds == 4, "the backlog was worked through at once, then the worker waited its interval"


async def test_shutdown_cancels_and_awaits_every_worker_and_logs_each(kit_db: Database, caplog) -> None:
    caplog.set_level(logging.INFO, logger="shared.messaging.workers")
    cleaned: list[str] = []
    started = asyncio.Event()

    async def run() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits still completes before stop() returns
            cleaned.append("sender")

    async def step() -> None:
        await asyncio.sleep(3600)

    workers = Workers([Worker("sender", run=run), Worker("sweep", step=step)], kit_db.engine, kit_db.schema)
    workers.start("svc")
    await started.wait()
    await asyncio.sleep(0.01)
    await workers.stop()

    assert cleaned == ["sender"]
    assert workers.tasks == {}
    stopped = {r.worker for r in caplog.records if r.getMessage() == "worker stopped"}
    assert stopped == {"sender", "sweep"}


async def test_a_one_active_replica_worker_runs_its_rounds_in_one_replica_at_a_time(kit_db: Database) -> None:
    """Two replicas of a service, one database: while one holds the round, the other skips its own."""
    holding = asyncio.Event()
    release = asyncio.Event()
    ran = {"a": 0, "b": 0}

    def step_of(replica: str):
        async def step() -> None:
            ran[replica] += 1
            if replica == "a":
                holding.set()
                await release.wait()
        return step

    other = Database(kit_db.url, kit_db.schema, pool_size=2)  # a second process: its own connections
    a = Workers([Worker("month-end", step=step_of("a"), interval=0.01, one_active_replica=True)],
                kit_db.engine, kit_db.schema)
    b = Workers([Worker("month-end", step=step_of("b"), interval=0.01, one_active_replica=True)],
                other.engine, kit_db.schema)
    a.start("a")
    await holding.wait()
    b.start("b")
    await asyncio.sleep(0.3)  # many of b's rounds come and go
    assert ran["b"] == 0, "b never ran a round while a held the lock"

    release.set()
    await a.stop()
    for _ in range(300):
        if ran["b"]:
            break
        await asyncio.sleep(0.01)
    await b.stop()
    await other.dispose()
    assert ran["b"] >= 1, "once a stopped, b took the rounds over"


async def test_a_claim_is_refused_while_another_connection_holds_it_and_free_again_after(kit_db: Database) -> None:
    claim = advisory_claims(kit_db.engine, "billing:month-end")
    async with claim("school-1") as first:
        async with claim("school-1") as second, claim("school-2") as elsewhere:
            assert (first, second, elsewhere) == (True, False, True)
    async with claim("school-1") as again:
        assert again is True


def test_a_worker_needs_exactly_one_of_a_step_and_a_run() -> None:
    async def body() -> None:
        return None

    with pytest.raises(ValueError):
        Worker("nothing")
    with pytest.raises(ValueError):
        Worker("both", step=body, run=body)


class _Broker:
    """Stands in for the Kafka broker: records when the kit starts and stops it."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def subscriber(self, *args, **kwargs):
        raise AssertionError("this service consumes nothing")

    async def start(self) -> None:
        self.order.append("consumer started")

    async def stop(self) -> None:
        self.order.append("consumer drained")


async def test_the_lifespan_starts_hooks_then_workers_and_stops_workers_then_hooks_then_drains(
        kit_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(kit, "make_broker", lambda *a, **k: _Broker(order))
    rt = build_runtime("kit_hooks", CommonSettings(database_url=kit_db.url, database_schema=kit_db.schema,
                                                   create_topics=False))
    rt.kafka = None

    async def relay_start() -> None:
        order.append("relay started")

    async def relay_stop() -> None:
        order.append("relay drained")

    rt.relay = SimpleNamespace(start=relay_start, stop=relay_stop, active=True, standing_by=False)  # type: ignore[assignment]

    def hook(what: str):
        async def it() -> None:
            order.append(what)
        return it

    async def failing_stop() -> None:
        raise RuntimeError("channel would not close")

    async def run() -> None:
        order.append("worker running")
        try:
            await asyncio.Event().wait()
        finally:
            order.append("worker cancelled")

    app = create_app(rt, handlers={}, routers=[], title="t", description="d", workers=[Worker("loop", run=run)],
                     migrate_with=hook("migrated"), on_start=[hook("sender started")],
                     on_stop=[failing_stop, hook("sender stopped")])
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.01)
        assert rt.ready
        order.append("serving")

    assert order == ["migrated", "relay started", "consumer started", "sender started", "worker running",
                     "serving", "worker cancelled", "sender stopped", "consumer drained", "relay drained"]
