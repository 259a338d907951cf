"""Fixtures of the enrollment unit tests: the service's app in-process on a real PostgreSQL database
(no broker: events stay in the outbox, where tests read them)."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from services.enrollment.app import build
from services.enrollment.settings import Settings
from shared.messaging import migrate


@pytest.fixture(scope="session")
async def enrollment_app(database_url: str):
    schema = "enrollment_unit"
    await asyncio.to_thread(migrate.upgrade, "enrollment", database_url, schema)
    app, rt = build(Settings(database_url=database_url, database_schema=schema, migrate_on_start=False,
                             create_topics=False, import_chunk_rows=500))
    yield app, rt
    await rt.db.dispose()


@pytest.fixture
async def client(enrollment_app) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = enrollment_app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enrollment") as c:
        yield c


@pytest.fixture
def runtime(enrollment_app):
    return enrollment_app[1]


@pytest.fixture
def prefix() -> str:
    return f"u{uuid.uuid4().hex[:8]}"


async def outbox_events(runtime, key: str | None = None) -> list[dict]:
    """Envelopes queued in the outbox (in commit order), optionally only those with one partition key."""
    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(text("select key, value from outbox order by id"))).all()
    return [json.loads(bytes(r.value)) for r in rows if key is None or r.key == key]
