"""Attendance's tables and unit of work; imports the kit, never another service."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel, select

from shared.messaging.uow import UnitOfWork


class RosterRow(SQLModel, table=True):
    """A filed enrolment as attendance sees it: who may be checked in, and who may collect them."""

    __tablename__ = "roster"

    student_id: str = Field(primary_key=True)
    programme_id: str = Field(primary_key=True)
    school_id: str = Field(index=True)
    student_name: str
    guardian_id: str
    authorised_pickup_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    extended_care: bool = False
    active: bool = True
    filed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AttendanceUoW(UnitOfWork):
    async def roster_entry(self, student_id: str, programme_id: str) -> RosterRow | None:
        return await self.session.get(RosterRow, (student_id, programme_id))

    async def roster(self, school_id: str) -> list[RosterRow]:
        result = await self.session.exec(
            select(RosterRow).where(RosterRow.school_id == school_id, RosterRow.active).order_by(RosterRow.student_id)
        )
        return list(result.all())
