"""Notification's tables (contacts, the message log that doubles as the local delivery sink) and
unit of work; imports the kit, never another service."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel, select

from shared.messaging.uow import UnitOfWork


class ContactRow(SQLModel, table=True):
    __tablename__ = "contacts"

    guardian_id: str = Field(primary_key=True)
    locale: str
    phone_sealed: str  # stays sealed at rest; opened only by a real SMS channel at send time
    phone_masked: str
    push_token_sealed: str | None = None
    consent: bool
    student_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))


class MessageRow(SQLModel, table=True):
    """One message per (triggering event, recipient, channel): the unique key makes redelivery harmless."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("event_id", "recipient_id", "channel"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    recipient_id: str
    channel: str
    template: str
    params: dict = Field(sa_column=Column(JSONB, nullable=False))
    status: str
    to_masked: str | None = None
    body: str | None = None
    correlation_id: str | None = None
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class NotificationUoW(UnitOfWork):
    async def contact(self, guardian_id: str) -> ContactRow | None:
        return await self.session.get(ContactRow, guardian_id)

    async def upsert_contact(self, row: ContactRow) -> None:
        await self.session.merge(row)

    async def add_message(self, row: MessageRow) -> bool:
        """False when this (event, recipient, channel) already has a message."""
        result = await self.session.execute(
            text(
                "insert into messages (event_id, recipient_id, channel, template, params, status, to_masked, body,"
                " correlation_id, delivered_at) values (:event_id, :recipient_id, :channel, :template,"
                " cast(:params as jsonb), :status, :to_masked, :body, :correlation_id, :delivered_at)"
                " on conflict (event_id, recipient_id, channel) do nothing returning id"
            ),
            {**row.model_dump(exclude={"id", "created_at", "params"}), "params": _json(row.params)},
        )
        return result.first() is not None

    async def awaiting(self, guardian_id: str) -> list[MessageRow]:
        result = await self.session.exec(
            select(MessageRow).where(MessageRow.recipient_id == guardian_id, MessageRow.status == "awaiting_contact")
            .order_by(MessageRow.id)
        )
        return list(result.all())

    async def recent_messages(self, limit: int, recipient_id: str | None = None) -> list[MessageRow]:
        query = select(MessageRow).order_by(MessageRow.id.desc()).limit(limit)
        if recipient_id:
            query = query.where(MessageRow.recipient_id == recipient_id)
        return list((await self.session.exec(query)).all())


def _json(value: dict) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
