"""Fixtures for billing's unit tests: its schema migrated into the session's PostgreSQL database,
a unit-of-work factory, the kit's batch consumer over billing's handlers, and outbox readers."""
from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import text

from services.billing.db import BillingUoW
from services.billing.handlers import HANDLERS
from services.billing.settings import Context
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.registry import decode, encode
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.messaging.db import Database
from shared.observability import KitMetrics
from tests.tokens import mint

SCHEMA = "billing_unit"
_offsets = itertools.count()


@pytest.fixture(scope="session")
async def billing_db(database_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, "billing", database_url, SCHEMA)
    db = Database(database_url, SCHEMA, pool_size=4)
    yield db
    await db.dispose()


@pytest.fixture
def uow_factory(billing_db: Database) -> Callable[[], BillingUoW]:
    return lambda: BillingUoW(billing_db, producer="billing")


@pytest.fixture
def consumer(uow_factory) -> BatchConsumer:
    return BatchConsumer("billing", HANDLERS, uow_factory, KitMetrics(CollectorRegistry()), retry_base_seconds=0.01)


def record(event: Event, *, event_id: uuid.UUID | None = None, producer: str = "test") -> RawRecord:
    envelope = new_envelope(event, producer=producer, event_id=event_id)
    return RawRecord(event.topic, 0, next(_offsets), envelope.key.encode(), encode(envelope))


async def published(billing_db: Database, school_id: str) -> list[tuple[str, dict, uuid.UUID]]:
    """Every event billing has queued in its outbox about one school: (type, payload, event id)."""
    async with billing_db.engine.connect() as conn:
        rows = (await conn.execute(text("select value from outbox where topic = 'billing.events' order by id"))).all()
    out = []
    for (value,) in rows:
        envelope, event = decode(bytes(value))
        if envelope.payload.get("school_id") == school_id:
            out.append((envelope.type, envelope.payload, envelope.event_id))
    return out


def payloads(events: list[tuple[str, dict, uuid.UUID]], type_name: str) -> list[dict]:
    return [p for t, p, _ in events if t == type_name]


@pytest.fixture
async def client(uow_factory) -> AsyncIterator[httpx.AsyncClient]:
    refusals = Counter("beilei_billing_refusals", "refusals", ["kind"], registry=CollectorRegistry())
    from tests.unit.billing.flows import billing_app  # flows builds on this module's helpers

    app = billing_app(uow_factory, Context(refusals=refusals))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as c:
        yield c


def auth(role: str, subject: str = "someone", **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role, **scope)}"}
