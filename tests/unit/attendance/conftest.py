"""Fixtures for attendance's unit tests: a migrated schema of its own, a clock the test sets, and helpers
that feed enrollment's events through the real handlers."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from services.attendance import handlers as h
from services.attendance.db import AttendanceUoW
from services.attendance.domain import LOCAL_TZ, Limits
from shared.contracts.enrollment import EnrollmentFiled, EnrollmentWithdrawn, GuardianRegistered, ProgrammePublished
from shared.contracts.envelope import new_envelope
from shared.messaging import migrate
from shared.messaging.consumer import Item, is_batch_handler
from shared.messaging.db import Database
from tests.tokens import mint

# A Friday; sessions run 15:30-17:30 local with extended care until 18:30 (R8, R13).
DAY = date(2025, 9, 12)


def local(hhmm: str, day: date = DAY) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=LOCAL_TZ).astimezone(UTC)


class Clock:
    """The injected clock: tests move it; the handlers read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, hhmm: str, day: date = DAY) -> None:
        self.now = local(hhmm, day)


@pytest.fixture(scope="session")
async def attendance_db(database_url: str) -> AsyncIterator[Database]:
    schema = f"attendance_unit_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate.upgrade, "attendance", database_url, schema)
    db = Database(database_url, schema, pool_size=4)
    yield db
    await db.dispose()


@pytest.fixture
def uow_factory(attendance_db: Database) -> Callable[[], AttendanceUoW]:
    return lambda: AttendanceUoW(attendance_db, producer="attendance")


@pytest.fixture
def clock() -> Clock:
    return Clock(local("19:00"))


@pytest.fixture
def policy(clock: Clock) -> h.Policy:
    return h.Policy(clock=clock, limits=Limits(), grace=timedelta(minutes=10), sweep_batch=3)


def unique(prefix: str) -> str:
    """Ids unique across the test session: every test shares one schema."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class School:
    """A school with one published programme and an admitted staff member, built through the handlers."""

    def __init__(self, uow_factory: Callable[[], AttendanceUoW]) -> None:
        self.uow_factory = uow_factory
        self.school_id = unique("sch")
        self.programme_id = f"prg-{self.school_id}"
        self.staff_id = f"stf-{self.school_id}"
        self.principal_id = f"pri-{self.school_id}"

    async def publish(self, *, extended_care_until: str | None = "18:30", weekdays: list[str] | None = None,
                      staff: list[str] | None = None, published_at: datetime | None = None,
                      activities: list[dict] | None = None) -> None:
        event = ProgrammePublished(
            programme_id=self.programme_id, school_id=self.school_id, district_id="dst-unit", term="2025-autumn",
            name="课后服务", sessions=[{"weekdays": weekdays or ["mon", "tue", "wed", "thu", "fri"],
                                      "starts_at_local": "15:30", "ends_at_local": "17:30"}],
            normal_off_work_local="17:30", extended_care_until_local=extended_care_until,
            activities=[{"activity_id": "act-football", "name": "足球", "tier": "sports",
                         "staff_ids": staff if staff is not None else [self.staff_id], "capacity": 40}, *(activities or [])],
            capacity=100, fee_per_session_fen=1500, extended_care_fee_per_session_fen=800, safety_measures=["凭接送卡交接"],
            insurance={"liability_policy_no": "PL-1", "accident_policy_no": "GA-1", "insurer": "人保",
                       "valid_from": "2025-09-01", "valid_until": "2026-01-31"},
            applications_open_at="2025-08-25T00:00:00Z", applications_close_at="2025-09-05T00:00:00Z",
            published_by=self.principal_id, published_by_role="principal",
            published_at=published_at or datetime(2025, 8, 20, tzinfo=UTC),
        )
        await self._apply(h.store_programme, event)

    async def enroll(self, student_id: str | None = None, *, pickups: list[str] | None = None,
                    filed_at: datetime | None = None, teacher: str | None = "stf-teacher") -> str:
        student_id = student_id or unique("stu")
        event = EnrollmentFiled(
            enrollment_id=f"enr-{student_id}", application_id=f"app-{student_id}", programme_id=self.programme_id,
            school_id=self.school_id, district_id="dst-unit", student_id=student_id, student_name=f"学生{student_id[-4:]}",
            guardian_id=f"gdn-{student_id}", hardship=False, extended_care=True, class_teacher_id=teacher,
            authorised_pickup_ids=pickups if pickups is not None else [f"pku-{student_id}"],
            filed_by="off-1", filed_by_role="district_officer", filed_at=filed_at or datetime(2025, 9, 1, tzinfo=UTC),
        )
        await self._apply(h.apply_enrollment_changes, event)
        return student_id

    async def withdraw(self, student_id: str, effective_on: date) -> None:
        event = EnrollmentWithdrawn(
            enrollment_id=f"enr-{student_id}", programme_id=self.programme_id, school_id=self.school_id,
            student_id=student_id, guardian_id=f"gdn-{student_id}", effective_on=effective_on, withdrawn_by=f"gdn-{student_id}",
            withdrawn_by_role="guardian", withdrawn_at=datetime(2025, 9, 10, tzinfo=UTC),
        )
        await self._apply(h.apply_enrollment_changes, event)

    async def register_guardian(self, guardian_id: str, name: str, student_ids: list[str]) -> None:
        event = GuardianRegistered(
            guardian_id=guardian_id, school_id=self.school_id, student_ids=student_ids, name=name,
            phone_masked="138****0000", phone_sealed="sealed", consent=True, registered_by=guardian_id,
        )
        await self._apply(h.apply_enrollment_changes, event)

    async def _apply(self, handler, event) -> None:
        envelope = new_envelope(event, producer="enrollment")
        async with self.uow_factory() as uow:
            if is_batch_handler(handler):
                await handler(uow, [Item(envelope, event)])
            else:
                await handler(uow, envelope, event)
            await uow.commit()


@pytest.fixture
async def school(uow_factory: Callable[[], AttendanceUoW]) -> School:
    s = School(uow_factory)
    await s.publish()
    return s


async def outbox(uow_factory: Callable[[], AttendanceUoW], school_id: str, event_type: str | None = None) -> list[dict]:
    """Events (decoded envelopes) about one school waiting in the outbox; no relay runs in unit tests."""
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text("select topic, value from outbox where topic not like '%.dlq' order by id"))).all()
    found = []
    for row in rows:
        body = json.loads(bytes(row.value))
        if body["payload"].get("school_id") == school_id and event_type in (None, body["type"]):
            found.append(body)
    return found


async def dead_letters(uow_factory: Callable[[], AttendanceUoW], keys: set[str]) -> list[dict]:
    """DLQ records waiting in the outbox whose Kafka key is one of `keys`."""
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text("select key, value from outbox where topic like '%.dlq' order by id"))).all()
    return [json.loads(bytes(r.value)) for r in rows if r.key in keys]


@pytest.fixture
async def client(attendance_db: Database, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    from services.attendance.app import build
    from services.attendance.settings import Settings

    settings = Settings(database_url=attendance_db.url, database_schema=attendance_db.schema, ingest_max_records=5)
    app, rt = build(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://attendance") as c:
        yield c
    await rt.db.dispose()


def bearer(role: str, *, school: str | None = None, district: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(unique('sub'), role, school_id=school, district_id=district)}"}


def check_in(school: School, student: str, **fields) -> dict:
    return {"record_id": unique("gate"), "kind": "check_in", "student_id": student, "at": "2025-09-12T15:25:00+08:00",
            "staff_id": school.staff_id, **fields}
