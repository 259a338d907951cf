"""Without pool_pre_ping, pooled connections that PostgreSQL closed (a restart, an administrator, a
failover) cost one failed unit of work, seen as an outage (retried by the consumer, 503 over HTTP);
the pool then starts afresh instead of handing out the other dead connections one by one."""
from __future__ import annotations

import asyncio
import uuid

import asyncpg
from sqlalchemy import text

from shared.messaging.consumer import is_transient
from shared.messaging.db import Database
from shared.messaging.http import database_unavailable


async def _unit(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(text("select 1"))).scalar_one()


async def _hold(db: Database, ready: asyncio.Event, release: asyncio.Event) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(text("select 1"))
        ready.set()
        await release.wait()


async def test_connections_closed_by_the_server_fail_one_unit_of_work_as_an_outage_then_the_pool_recovers(
        database_url: str) -> None:
    name = f"kit_{uuid.uuid4().hex[:8]}"
    db = Database(database_url, name, pool_size=3)
    try:
        # Three connections in the pool, all idle.
        readies, release = [asyncio.Event() for _ in range(3)], asyncio.Event()
        holders = [asyncio.create_task(_hold(db, r, release)) for r in readies]
        await asyncio.gather(*(r.wait() for r in readies))
        release.set()
        await asyncio.gather(*holders)

        admin = await asyncpg.connect(database_url)
        try:
            closed = await admin.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1", name)
        finally:
            await admin.close()
        assert closed == 3

        failures: list[BaseException] = []
        for _ in range(4):
            try:
                assert await _unit(db) == 1
            except Exception as exc:
                failures.append(exc)
    finally:
        await db.dispose()

    assert len(failures) == 1, failures
    assert database_unavailable(failures[0]), repr(failures[0])
    assert is_transient(failures[0])
