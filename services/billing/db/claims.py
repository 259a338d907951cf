"""Month-end claims: a PostgreSQL session advisory lock per school, so billing's replicas share a
month-end between them and a replica that dies mid-school lets the next round take that school over
(the lock goes with its connection)."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_TRY = text("select pg_try_advisory_lock(hashtext(:key))")
_UNLOCK = text("select pg_advisory_unlock(hashtext(:key))")


def month_end_claims(engine: AsyncEngine) -> Callable[[str], AbstractAsyncContextManager[bool]]:
    """`claim(school_id)`: True while this process holds the school's month-end, False if another does."""

    @asynccontextmanager
    async def claim(school_id: str) -> AsyncIterator[bool]:
        key = {"key": f"billing:month-end:{school_id}"}
        async with engine.connect() as conn:
            got = bool((await conn.execute(_TRY, key)).scalar())
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(_UNLOCK, key)
                    await conn.commit()

    return claim
