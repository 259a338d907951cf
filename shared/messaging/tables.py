"""Tables the kit keeps in every service's schema: outbox and inbox; no business tables here."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel


class OutboxRow(SQLModel, table=True):
    """A record to publish, written in the same transaction as the state change that caused it."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    topic: str
    key: str | None = None
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


class InboxRow(SQLModel, table=True):
    """(consumer, event id) processed: committed atomically with the effect of processing it."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True)
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    processed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


def create_kit_tables(op) -> None:
    """Called from each service's first migration, so every schema has the same kit tables."""
    import sqlalchemy as sa

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def service_tables() -> type[SQLModel]:
    """A base for one service's tables with a metadata of its own: services own their schemas, so two
    services may each have a `schools` table without clashing when both are imported (tests, tools)."""
    from sqlalchemy.orm import registry

    class ServiceTable(SQLModel, registry=registry()):
        pass

    return ServiceTable
