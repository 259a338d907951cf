"""Audit's unit of work: one transaction over the ledger, the checks' facts and findings, the inbox
and the outbox. Entries and attendance facts of a consumed batch are written once, at commit."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Self

from services.audit.db.facts import FactsStore
from services.audit.db.findings import FindingsStore
from services.audit.db.ledger import LedgerStore
from shared.messaging.db import Database
from shared.messaging.uow import UnitOfWork


class AuditUoW(LedgerStore, FactsStore, FindingsStore, UnitOfWork):
    def __init__(self, db: Database, **kwargs) -> None:
        super().__init__(db, **kwargs)
        self._init_ledger()
        self._init_facts()

    async def __aenter__(self) -> Self:
        self._init_ledger()
        self._init_facts()
        return await super().__aenter__()

    async def claim(self, consumer: str, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        # A consumed batch runs its claim and its facts on asyncpg, beside the session of the cold paths.
        await self._connection()
        return await super().claim(consumer, event_ids)

    async def commit(self) -> None:
        await self.write_staged_entries()
        await self.write_noted_facts()
        await super().commit()
        self.noted_facts_committed()
