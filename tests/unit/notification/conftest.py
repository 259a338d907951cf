"""Fixtures of notification's unit tests: a schema of their own on the test session's PostgreSQL."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from itertools import groupby

import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.registry import decode, encode
from shared.messaging import migrate
from shared.messaging.consumer import Item
from shared.messaging.db import Database


@pytest.fixture(scope="module")
async def db(database_url: str):
    # A schema of its own: the platform's notification process may use the default one meanwhile.
    schema = f"ntf_unit_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate.upgrade, "notification", database_url, schema)
    database = Database(database_url, schema, pool_size=3)
    yield database
    await database.dispose()


async def consume(uow_factory: Callable, handlers: dict, envelopes: list[Envelope]) -> None:
    """A consumed batch in one transaction, as the kit applies it minus the inbox (redelivery is tested
    here): a batch handler once per run of consecutive events it takes."""
    async with uow_factory() as uow:
        for handler, run in groupby(envelopes, key=lambda e: handlers[e.type]):
            await handler(uow, [Item(e, decode(encode(e))[1]) for e in run])
        await uow.commit()
