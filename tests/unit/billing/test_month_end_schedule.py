"""The scheduled month-end (R17): nothing before the configured school-local day and hour; then last
month is settled for every school, once, catching up after downtime."""
from __future__ import annotations

from datetime import datetime, timezone

from services.billing.handlers.settlement import previous_period, settle_due_month
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published
from tests.unit.billing.flows import approve_schedule, attend, enrol

NOVEMBER = school_days("2025-11")


def test_the_previous_month_is_counted_in_school_local_time() -> None:
    # 2025-11-30T17:00Z is already 1 December in Shanghai, so last month is November.
    assert previous_period(datetime(2025, 11, 30, 17, 0, tzinfo=timezone.utc)) == "2025-11"
    assert previous_period(datetime(2025, 11, 30, 15, 0, tzinfo=timezone.utc)) == "2025-10"
    assert previous_period(datetime(2026, 1, 10, tzinfo=timezone.utc)) == "2025-12"


async def test_the_schedule_settles_last_month_once_after_its_day_and_hour(consumer, uow_factory, billing_db) -> None:
    school = School("sch-auto")
    await enrol(consumer, school, {1: (False, False), 2: (True, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, NOVEMBER[:9])
    await attend(consumer, school, 2, NOVEMBER[:4])
    early = datetime(2025, 11, 30, 17, 30, tzinfo=timezone.utc)  # 1 December, 01:30 in Shanghai
    due = datetime(2025, 11, 30, 18, 5, tzinfo=timezone.utc)  # 1 December, 02:05

    before = await settle_due_month(uow_factory, now=early, day_of_month=1, hour_local=2)
    runs = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2)
    again = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2)

    assert before == []
    mine = [r for r in runs if r.school_id == school.school_id]
    assert [(r.period, r.statements, r.charged_fen, r.waived_fen) for r in mine] == [("2025-11", 2, 9 * 1500, 4 * 1500)]
    assert [r for r in again if r.school_id == school.school_id] == []
    events = await published(billing_db, school.school_id)
    assert {s["settled_by_role"] for s in payloads(events, "FeeSettled")} == {"platform"}
    assert len(payloads(events, "FeeSettled")) == 2
