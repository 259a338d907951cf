"""Unit of work: one transaction holding a service's state changes, inbox claims and outbox rows."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Self

from sqlalchemy import insert, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.contracts.registry import encode
from shared.messaging.db import Database
from shared.messaging.tables import OutboxRow
from shared.observability import causing_event
from shared.observability import correlation_id as current_correlation


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
    """Use as `async with uow_factory() as uow: ...; await uow.commit()`; leaving without commit rolls back."""

    def __init__(self, db: Database, *, producer: str, on_commit: Callable[[int], None] | None = None) -> None:
        self.db = db
        self.producer = producer
        self._on_commit = on_commit
        self._outbox: list[dict] = []
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = AsyncSession(self.db.engine, expire_on_commit=False)
        self._outbox = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        # close() rolls back what was not committed and detaches loaded rows without expiring them,
        # so a handler may return rows it read to the caller.
        await self.session.close()

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
        result = await self.session.execute(
            text(
                "insert into inbox (consumer, event_id) select :c, unnest(cast(:ids as uuid[])) "
                "on conflict do nothing returning event_id"
            ),
            {"c": consumer, "ids": ids},
        )
        return {row[0] for row in result}

    # -- commit -------------------------------------------------------------------------------
    async def commit(self) -> None:
        count = len(self._outbox)
        if count:
            await self.session.execute(insert(OutboxRow.__table__), self._outbox)
        await self.session.commit()
        self._outbox = []
        if count and self._on_commit:
            self._on_commit(count)
