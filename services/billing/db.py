"""Billing's tables and unit of work; imports the kit, never another service."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from shared.messaging.uow import UnitOfWork


class FeeAccountRow(SQLModel, table=True):
    """One per filed enrolment: what the family owes is settled against it (R17)."""

    __tablename__ = "fee_accounts"

    student_id: str = Field(primary_key=True)
    programme_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    guardian_id: str
    hardship: bool
    chargeable: bool
    balance_fen: int = 0
    active: bool = True
    opened_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class BillingUoW(UnitOfWork):
    async def account(self, student_id: str, programme_id: str) -> FeeAccountRow | None:
        return await self.session.get(FeeAccountRow, (student_id, programme_id))
