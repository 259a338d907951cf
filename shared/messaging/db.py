"""Database access for a service: an async engine bound to the service's own schema; no business tables."""
from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def asyncpg_url(url: str) -> str:
    """Accept the usual postgresql:// URL and give SQLAlchemy its asyncpg form."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+asyncpg://", url)


class Database:
    """One service's view of PostgreSQL: its schema is first on the search path of every connection."""

    # No pool_pre_ping: it costs a round trip on every checkout, i.e. on every unit of work. A pooled
    # connection found broken when used fails that one unit of work (the consumer retries it as transient,
    # HTTP answers 503, see http.database_unavailable) and SQLAlchemy then invalidates the whole pool, so
    # the next checkout connects afresh. Connections are recycled after half an hour so none outlives a
    # server-side idle limit or a failover unnoticed for long.
    RECYCLE_SECONDS = 1800

    def __init__(self, url: str, schema: str, *, pool_size: int = 10) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError(f"schema name {schema!r} must be a lower-case identifier")
        self.url = url
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url),
            pool_size=pool_size,
            max_overflow=5,
            pool_recycle=self.RECYCLE_SECONDS,
            connect_args={"server_settings": {"search_path": schema, "application_name": schema}},
        )

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
