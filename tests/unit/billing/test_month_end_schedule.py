"""The scheduled month-end (R17): nothing before the configured school-local day and hour; then last
month is settled for every school, once, catching up after downtime."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.billing.db.claims import month_end_claims
from services.billing.handlers.settlement import previous_period, settle_due_month
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published
from tests.unit.billing.flows import approve_schedule, attend, enroll

NOVEMBER = school_days("2025-11")


def test_the_previous_month_is_counted_in_school_local_time() -> None:
    # 2025-11-30T17:00Z is already 1 December in Shanghai, so last month is November.
    assert previous_period(datetime(2025, 11, 30, 17, 0, tzinfo=UTC)) == "2025-11"
    assert previous_period(datetime(2025, 11, 30, 15, 0, tzinfo=UTC)) == "2025-10"
    assert previous_period(datetime(2026, 1, 10, tzinfo=UTC)) == "2025-12"


async def test_the_schedule_settles_last_month_once_after_its_day_and_hour(consumer, uow_factory, billing_db) -> None:
    school = School("sch-auto")
    await enroll(consumer, school, {1: (False, False), 2: (True, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, NOVEMBER[:9])
    await attend(consumer, school, 2, NOVEMBER[:4])
    early = datetime(2025, 11, 30, 17, 30, tzinfo=UTC)  # 1 December, 01:30 in Shanghai
    due = datetime(2025, 11, 30, 18, 5, tzinfo=UTC)  # 1 December, 02:05

    claim = month_end_claims(billing_db.engine)
    before = await settle_due_month(uow_factory, now=early, day_of_month=1, hour_local=2, claim=claim)
    runs = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2, claim=claim)
    again = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2, claim=claim)

    assert before == []
    mine = [r for r in runs if r.school_id == school.school_id]
    assert [(r.period, r.statements, r.charged_fen, r.waived_fen) for r in mine] == [("2025-11", 2, 9 * 1500, 4 * 1500)]
    assert [r for r in again if r.school_id == school.school_id] == []
    events = await published(billing_db, school.school_id)
    assert {s["settled_by_role"] for s in payloads(events, "FeeSettled")} == {"platform"}
    assert len(payloads(events, "FeeSettled")) == 2


async def test_replicas_share_the_month_end_and_settle_each_school_once(consumer, uow_factory, billing_db) -> None:
    schools = [School(f"sch-share-{k}") for k in range(6)]
    for school in schools:
        await enroll(consumer, school, {1: (False, False), 2: (False, False)})
        await approve_schedule(uow_factory, school)
        await attend(consumer, school, 1, NOVEMBER[:3])
        await attend(consumer, school, 2, NOVEMBER[:2])
    due = datetime(2025, 11, 30, 18, 5, tzinfo=UTC)

    # Two replicas, each claiming on its own connections, run the same month-end at once.
    first, second = await asyncio.gather(*(
        settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2, claim=month_end_claims(billing_db.engine),
                         workers=2) for _ in range(2)))

    ids = {s.school_id for s in schools}
    a = [r.school_id for r in first if r.school_id in ids]
    b = [r.school_id for r in second if r.school_id in ids]
    assert sorted(a + b) == sorted(ids)  # every school settled, none twice
    assert a and b  # and both replicas took a share
    for school in schools:
        assert len(payloads(await published(billing_db, school.school_id), "FeeSettled")) == 2


async def test_a_school_another_replica_holds_is_left_to_it(consumer, uow_factory, billing_db) -> None:
    school = School("sch-held")
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, NOVEMBER[:2])
    due = datetime(2025, 11, 30, 18, 5, tzinfo=UTC)
    claim = month_end_claims(billing_db.engine)

    async with claim(school.school_id) as held:  # another replica is in the middle of this school
        assert held
        runs = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2,
                                      claim=month_end_claims(billing_db.engine))
    assert school.school_id not in {r.school_id for r in runs}
    after = await settle_due_month(uow_factory, now=due, day_of_month=1, hour_local=2, claim=claim)
    assert [r.statements for r in after if r.school_id == school.school_id] == [1]
