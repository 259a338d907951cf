"""Enrollment's tables and unit of work; imports the kit, never another service."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, func
from sqlmodel import select
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.messaging.uow import UnitOfWork


class GuardianRow(SQLModel, table=True):
    __tablename__ = "guardians"

    guardian_id: str = Field(primary_key=True)
    school_id: str
    name: str
    student_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    locale: str = "zh-CN"
    phone_sealed: str  # encrypted at rest (R22 privacy); only notification opens it, to send
    phone_masked: str
    push_token_sealed: str | None = None
    consent: bool
    registered_by: str
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))


class ApplicationRow(SQLModel, table=True):
    __tablename__ = "applications"

    application_id: str = Field(primary_key=True)
    idempotency_key: str = Field(sa_column=Column(String, unique=True, nullable=False))
    request_digest: str
    programme_id: str
    school_id: str
    student_id: str = Field(index=True)
    student_name: str
    guardian_id: str
    status: str = "submitted"
    on_behalf: bool = False
    consent: bool
    hardship: bool = False
    submitted_by: str
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EnrollmentUoW(UnitOfWork):
    async def guardian(self, guardian_id: str) -> GuardianRow | None:
        return await self.session.get(GuardianRow, guardian_id)

    async def application_by_key(self, key: str) -> ApplicationRow | None:
        result = await self.session.exec(select(ApplicationRow).where(ApplicationRow.idempotency_key == key))
        return result.first()

    def add(self, row: SQLModel) -> None:
        self.session.add(row)
