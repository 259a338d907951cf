"""A service's background work, run by the kit beside the consumer and the relay: a Worker is a step
repeated every interval (or a coroutine that owns its loop), optionally held by one replica at a time
through a PostgreSQL advisory lock. Knows no service: the step is the service's own handler call."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

_TRY = text("select pg_try_advisory_lock(hashtext(:key))")
_UNLOCK = text("select pg_advisory_unlock(hashtext(:key))")

Claim = Callable[[str], AbstractAsyncContextManager[bool]]


def advisory_claims(engine: AsyncEngine, prefix: str) -> Claim:
    """`claim(key)`: a session advisory lock on `<prefix>:<key>`, True while this process holds it, False
    if another does. Held on a connection of its own, so a process that dies lets the lock go with its
    connection and the next round elsewhere takes the work over."""

    @asynccontextmanager
    async def claim(key: str) -> AsyncIterator[bool]:
        bound = {"key": f"{prefix}:{key}"}
        async with engine.connect() as conn:
            got = bool((await conn.execute(_TRY, bound)).scalar())
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(_UNLOCK, bound)
                    await conn.commit()

    return claim


@dataclass(frozen=True)
class Worker:
    """Background work of a service. Either `step`, one round, called every `interval` seconds (at once
    again when it returns True, "more to do"; after a failure, logged, with the interval doubled up to
    `max_backoff`), or `run`, a coroutine that owns its loop. With `one_active_replica`, each round runs
    only in the replica holding the advisory lock `worker:<schema>:<name>`; the others skip that round."""

    name: str
    step: Callable[[], Awaitable[object]] | None = None
    interval: float = 1.0
    one_active_replica: bool = False
    run: Callable[[], Awaitable[None]] | None = None
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if (self.step is None) == (self.run is None):
            raise ValueError(f"worker {self.name!r} needs exactly one of step or run")


async def _repeat(worker: Worker, claim: Claim | None) -> None:
    assert worker.step is not None
    delay = worker.interval
    while True:
        try:
            if claim is None:
                more = await worker.step()
            else:
                async with claim(worker.name) as held:
                    more = await worker.step() if held else False
            delay = worker.interval
            if more is True:
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            # Every step is one transaction or conditional writes: the next round retries it safely.
            log.exception("worker step failed; retrying", extra={"worker": worker.name, "retry_in_s": delay})
            delay = min(delay * 2, max(worker.max_backoff, worker.interval))
        await asyncio.sleep(delay)


class Workers:
    """The running workers of one process: started once the service is up, cancelled and awaited first
    on shutdown, so what their last round wrote to the outbox is still published by the relay's drain."""

    def __init__(self, workers: list[Worker], engine: AsyncEngine, schema: str) -> None:
        names = [w.name for w in workers]
        if len(set(names)) != len(names):
            raise ValueError(f"worker names must be unique: {names}")
        self.workers = workers
        self.claim = advisory_claims(engine, f"worker:{schema}")
        self.tasks: dict[str, asyncio.Task] = {}

    def start(self, service: str) -> None:
        for w in self.workers:
            body = w.run() if w.run is not None else _repeat(w, self.claim if w.one_active_replica else None)
            self.tasks[w.name] = asyncio.create_task(body, name=f"{service}-worker-{w.name}")

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        results = await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for name, result in zip(self.tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("worker ended with an error", extra={"worker": name, "error": repr(result)[:300]})
            else:
                log.info("worker stopped", extra={"worker": name})
        self.tasks = {}
