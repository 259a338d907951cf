"""Enrollment's unit of work: the repository methods the use cases need, over one transaction."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import SQLModel, select

from services.enrollment.db.tables import (
    ApplicationRow,
    ClassRow,
    DistrictRow,
    GuardianRow,
    ProgrammeRow,
    SchoolRow,
    StaffRow,
    StudentRow,
)
from shared.messaging.uow import UnitOfWork

# Past this many queued events a commit writes the outbox with COPY (bulk imports queue thousands).
COPY_OUTBOX_ABOVE = 500
_REPORT = "report_id, school_id, programme_id, what_happened, happened_on, reported_at"
_PICKUP = "pickup_person_id, student_id, name, relation, phone_masked, valid_until"


class EnrollmentUoW(UnitOfWork):
    """Reads lock what a command will change (`lock=True`: SELECT … FOR UPDATE), so two racing
    commands on one application or programme run one after the other."""

    async def _get(self, model: type[SQLModel], key: str, lock: bool = False):
        return await self.session.get(model, key, with_for_update=lock or None)

    async def district(self, district_id: str) -> DistrictRow | None:
        return await self._get(DistrictRow, district_id)

    async def school(self, school_id: str) -> SchoolRow | None:
        return await self._get(SchoolRow, school_id)

    async def class_(self, class_id: str) -> ClassRow | None:
        return await self._get(ClassRow, class_id)

    async def staff(self, staff_id: str, lock: bool = False) -> StaffRow | None:
        return await self._get(StaffRow, staff_id, lock)

    async def student(self, student_id: str) -> StudentRow | None:
        return await self._get(StudentRow, student_id)

    async def guardian(self, guardian_id: str) -> GuardianRow | None:
        return await self._get(GuardianRow, guardian_id)

    async def programme(self, programme_id: str, lock: bool = False) -> ProgrammeRow | None:
        return await self._get(ProgrammeRow, programme_id, lock)

    async def application(self, application_id: str, lock: bool = False) -> ApplicationRow | None:
        return await self._get(ApplicationRow, application_id, lock)

    async def admitted_staff(self, school_id: str) -> frozenset[str]:
        result = await self.session.exec(
            select(StaffRow.staff_id).where(StaffRow.school_id == school_id, StaffRow.admission == "admitted"))
        return frozenset(result.all())

    async def programme_for_term(self, school_id: str, term: str) -> ProgrammeRow | None:
        result = await self.session.exec(
            select(ProgrammeRow).where(ProgrammeRow.school_id == school_id, ProgrammeRow.term == term))
        return result.first()

    async def application_by_key(self, key: str) -> ApplicationRow | None:
        result = await self.session.exec(select(ApplicationRow).where(ApplicationRow.idempotency_key == key))
        return result.first()

    async def active_application(self, student_id: str, programme_id: str) -> ApplicationRow | None:
        result = await self.session.exec(select(ApplicationRow).where(
            ApplicationRow.student_id == student_id, ApplicationRow.programme_id == programme_id,
            ApplicationRow.status.in_(("submitted", "waitlisted", "approved", "reported", "filed"))))
        return result.first()

    async def places_taken(self, programme_id: str) -> int:
        result = await self.session.exec(select(func.count()).select_from(ApplicationRow).where(
            ApplicationRow.programme_id == programme_id,
            ApplicationRow.status.in_(("approved", "reported", "filed"))))
        return int(result.one())

    async def waitlist(self, programme_id: str, lock: bool = False) -> list[ApplicationRow]:
        """Waiting applications, next first: the order they joined the waitlist (R7)."""
        query = (select(ApplicationRow)
                 .where(ApplicationRow.programme_id == programme_id, ApplicationRow.status == "waitlisted")
                 .order_by(ApplicationRow.waitlisted_at, ApplicationRow.application_id))
        if lock:
            query = query.with_for_update()
        return list((await self.session.exec(query)).all())

    async def guardians_of(self, student_id: str) -> list[str]:
        """Every guardian who lists the student (R11: each may collect the child)."""
        result = await self.session.execute(
            text("select guardian_id from guardians where student_ids @> cast(:s as jsonb) order by guardian_id"),
            {"s": json.dumps([student_id])})
        return [row[0] for row in result]

    async def coercion_report(self, report_id: str) -> dict | None:
        """A coercion report by its id (R1): its fields as CoercionReported carries them."""
        return (await self.session.execute(text(
            f"select {_REPORT} from coercion_reports where report_id = :r"), {"r": report_id})).mappings().first()

    async def coercion_reports_about(self, school_id: str) -> list[dict]:
        """The reports about one school, oldest first (R1)."""
        return list((await self.session.execute(text(
            f"select {_REPORT} from coercion_reports where school_id = :s order by reported_at"),
            {"s": school_id})).mappings().all())

    async def add_coercion_report(self, report: dict) -> None:
        await self.session.execute(text(
            f"insert into coercion_reports ({_REPORT}) values (:report_id, :school_id, :programme_id,"
            " :what_happened, :happened_on, :reported_at)"), report)

    async def add_pickup_person(self, person: dict) -> None:
        """A person the guardian names to collect the child until valid_until (R11)."""
        await self.session.execute(text(
            f"insert into pickup_persons ({_PICKUP}, guardian_id, decided_at) values (:pickup_person_id,"
            " :student_id, :name, :relation, :phone_masked, :valid_until, :guardian_id, :decided_at)"), person)

    async def revoke_pickup_person(self, student_id: str, pickup_person_id: str, now: datetime) -> dict | None:
        """Mark the person revoked (the first revocation's time stays); None if the student has no such person."""
        return (await self.session.execute(text(
            "update pickup_persons set revoked_at = coalesce(revoked_at, :now)"
            f" where pickup_person_id = :p and student_id = :s returning {_PICKUP}"),
            {"now": now, "p": pickup_person_id, "s": student_id})).mappings().first()

    def add(self, row: SQLModel) -> None:
        self.session.add(row)

    async def commit(self) -> None:
        copied = await self._copy_outbox() if self.pending > COPY_OUTBOX_ABOVE else 0
        await super().commit()
        if copied and self._on_commit:
            self._on_commit(copied)  # wake the relay now rather than at its next poll

    async def _copy_outbox(self) -> int:
        """Bulk imports queue one event per changed guardian: COPY writes them in one round trip
        instead of a multi-row INSERT per thousand (ARCHITECTURE: throughput comes from batching)."""
        rows = [(r["topic"], r["key"], r["value"], json.dumps(r["headers"])) for r in self._outbox]
        driver = await raw_connection(self)
        await driver.copy_records_to_table("outbox", records=rows, columns=["topic", "key", "value", "headers"])
        self._outbox = []
        return len(rows)


async def raw_connection(uow: UnitOfWork):
    """The asyncpg connection under the unit of work's transaction, for COPY and array queries."""
    # The first statement through SQLAlchemy opens the transaction; raw statements before it would
    # each commit on their own.
    await uow.session.execute(text("select 1"))
    conn = await uow.session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection
