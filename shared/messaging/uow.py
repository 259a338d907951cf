"""Unit of work: one transaction holding a service's state changes, inbox claims and outbox rows."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Self

import asyncpg
from asyncpg.transaction import Transaction
from sqlalchemy import insert, text
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.contracts.registry import encode
from shared.messaging.db import Database
from shared.messaging.tables import OutboxRow
from shared.observability import causing_event
from shared.observability import correlation_id as current_correlation

# The inbox and outbox statements of the asyncpg path; parameters cast, as asyncpg takes types from the SQL.
_CLAIM = ("insert into inbox (consumer, event_id) select $1::text, unnest($2::uuid[]) "
          "on conflict do nothing returning event_id")
_OUTBOX = ("insert into outbox (topic, key, value, headers) "
           "select * from unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[])")


def kafka_headers(envelope: Envelope) -> dict[str, str]:
    """Headers let tools filter and trace without parsing the body."""
    return {
        "event_id": str(envelope.event_id),
        "type": envelope.type,
        "version": str(envelope.version),
        "correlation_id": envelope.correlation_id,
        "producer": envelope.producer,
    }


class UnitOfWork:
    """Use as `async with uow_factory() as uow: ...; await uow.commit()`; leaving without commit rolls back.

    A service whose unit of work runs every statement on `connection()` sets `asyncpg_only`, so the kit's
    own statements (the consumer's inbox claim) take the asyncpg path too and no SQLAlchemy session is
    opened at all."""

    asyncpg_only: bool = False

    def __init__(self, db: Database, *, producer: str, on_commit: Callable[[int], None] | None = None) -> None:
        self.db = db
        self.producer = producer
        self._on_commit = on_commit
        self._outbox: list[dict] = []
        self._session: AsyncSession | None = None
        self._driver: asyncpg.Connection | None = None
        self._own: tuple[PoolProxiedConnection, Transaction] | None = None  # a connection taken without SQLAlchemy

    async def __aenter__(self) -> Self:
        self._session, self._driver, self._own = None, None, None
        self._outbox = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own is not None:
            await self._release(rollback=True)
        if self._session is not None:
            # close() rolls back what was not committed and detaches loaded rows without expiring them,
            # so a handler may return rows it read to the caller.
            await self._session.close()

    @property
    def session(self) -> AsyncSession:
        """The SQLAlchemy session of this transaction (the cold paths, the ORM)."""
        if self._own is not None:
            raise RuntimeError("this unit of work already runs on asyncpg alone (uow.connection() came first); "
                               "use uow.connection() for the rest of it too")
        if self._session is None:
            self._session = AsyncSession(self.db.engine, expire_on_commit=False)
        return self._session

    async def connection(self) -> asyncpg.Connection:
        """The asyncpg connection of this transaction, for hot paths: prepared statements, arrays, COPY,
        without SQLAlchemy compiling, binding and wrapping every statement. If the session was used
        first, this is the session's connection inside its transaction; otherwise the unit of work takes
        a pooled connection and runs on asyncpg alone (the session may then not be used). asyncpg takes
        parameter types from the statement, so cast every parameter in the SQL."""
        if self._driver is None:
            if self._session is not None:
                adapted = (await (await self._session.connection()).get_raw_connection()).dbapi_connection
                if adapted._transaction is None:  # SQLAlchemy begins lazily, at its first statement
                    await adapted._start_transaction()
                self._driver = adapted._connection
            else:
                pooled = await self.db.engine.raw_connection()
                driver = pooled.driver_connection
                transaction = driver.transaction()
                try:
                    await transaction.start()
                except BaseException:
                    await greenlet_spawn(pooled.close)
                    raise
                self._own, self._driver = (pooled, transaction), driver
        return self._driver

    async def _release(self, *, rollback: bool) -> None:
        """Give a connection taken without SQLAlchemy back to the pool, rolled back unless committed; a
        connection that broke is discarded, not pooled (the next unit of work gets a fresh one)."""
        assert self._own is not None and self._driver is not None
        (pooled, transaction), driver = self._own, self._driver
        self._own, self._driver = None, None
        broken = driver.is_closed()
        if rollback and not broken:
            try:
                await transaction.rollback()
            except Exception:  # a failed COMMIT, a lost connection: its state is unknown, so drop it
                broken = True
        await greenlet_spawn(pooled.invalidate if broken else pooled.close)

    # -- outbox -------------------------------------------------------------------------------
    def publish(
        self,
        event: Event,
        *,
        correlation_id: str | None = None,
        causation_id: uuid.UUID | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """Queue an event; it reaches Kafka only if this transaction commits. Correlation and causation
        default to the request or the consumed event being handled."""
        envelope = new_envelope(
            event,
            producer=self.producer,
            correlation_id=correlation_id or current_correlation.get(),
            causation_id=causation_id or causing_event.get(),
            event_id=event_id,
        )
        self.publish_raw(event.topic, envelope.key, encode(envelope), kafka_headers(envelope))
        return envelope

    def publish_raw(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        self._outbox.append({"topic": topic, "key": key, "value": value, "headers": headers})

    @property
    def pending(self) -> int:
        return len(self._outbox)

    # -- inbox --------------------------------------------------------------------------------
    async def claim(self, consumer: str, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Record ids as processed by `consumer`; returns those not processed before (one round trip)."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        if self._driver is not None or self.asyncpg_only:
            rows = await (await self.connection()).fetch(_CLAIM, consumer, ids)
            return {row[0] for row in rows}
        result = await self.session.execute(
            text("insert into inbox (consumer, event_id) select :c, unnest(cast(:ids as uuid[])) "
                 "on conflict do nothing returning event_id"),
            {"c": consumer, "ids": ids},
        )
        return {row[0] for row in result}

    # -- commit -------------------------------------------------------------------------------
    async def commit(self) -> None:
        count = len(self._outbox)
        if count and self._driver is not None:
            rows = self._outbox
            await self._driver.execute(_OUTBOX, [r["topic"] for r in rows], [r["key"] for r in rows],
                                       [r["value"] for r in rows], [json.dumps(r["headers"]) for r in rows])
        elif count:
            await self.session.execute(insert(OutboxRow.__table__), self._outbox)
        if self._own is not None:
            await self._own[1].commit()
            await self._release(rollback=False)
        else:
            await self.session.commit()
        self._outbox = []
        if count and self._on_commit:
            self._on_commit(count)
