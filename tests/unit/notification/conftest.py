"""Fixtures of notification's unit tests: a schema of their own on the test session's PostgreSQL."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.messaging import migrate
from shared.messaging.db import Database


@pytest.fixture(scope="module")
async def db(database_url: str):
    # A schema of its own: the platform's notification process may use the default one meanwhile.
    schema = f"ntf_unit_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate.upgrade, "notification", database_url, schema)
    database = Database(database_url, schema, pool_size=3)
    yield database
    await database.dispose()
