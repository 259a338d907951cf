"""Audit's tables and unit of work; imports the kit, never another service."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel, select

from shared.messaging.uow import UnitOfWork


class LedgerEntryRow(SQLModel, table=True):
    """One money event, sequenced gap-free; the database refuses to change or remove it (R24)."""

    __tablename__ = "ledger_entries"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), unique=True, nullable=False))
    event_type: str
    school_id: str | None = None
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    recorded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))


class AuditUoW(UnitOfWork):
    async def reserve_sequence(self, count: int) -> int:
        """First of `count` consecutive sequence numbers. The head row's lock serialises writers, and
        a rolled-back transaction gives its numbers back, so the ledger has no gaps."""
        result = await self.session.execute(
            text("update ledger_head set size = size + :n where id = 1 returning size - :n"), {"n": count}
        )
        return int(result.scalar_one())

    def append(self, row: LedgerEntryRow) -> None:
        self.session.add(row)

    async def leaf_hashes(self) -> list[bytes]:
        result = await self.session.exec(select(LedgerEntryRow.leaf_hash).order_by(LedgerEntryRow.seq))
        return [bytes(h) for h in result.all()]
