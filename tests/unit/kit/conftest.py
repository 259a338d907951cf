"""A fresh schema with only the kit's tables, on the real PostgreSQL of the test session."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from shared.messaging.db import Database
from shared.messaging.tables import InboxRow, OutboxRow


@pytest.fixture
async def kit_db(database_url: str) -> AsyncIterator[Database]:
    schema = f"kit_{uuid.uuid4().hex[:8]}"
    db = Database(database_url, schema, pool_size=2)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'create schema "{schema}"'))
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=[OutboxRow.__table__, InboxRow.__table__]))
    yield db
    async with db.engine.begin() as conn:
        await conn.execute(text(f'drop schema "{schema}" cascade'))
    await db.dispose()
