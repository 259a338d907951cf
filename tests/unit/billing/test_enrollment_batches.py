"""Billing applies a consumed run of approvals, filings and withdrawals with a few set-based
statements (apply_enrollments), leaving exactly the rows the per-event handlers leave (R1, R9, R17)."""
from __future__ import annotations

from datetime import date, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from services.billing.handlers import HANDLERS
from services.billing.handlers.events import (
    close_fee_account,
    open_fee_account,
    record_hardship_verification,
    record_programme,
)
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.observability import KitMetrics
from tests.unit.billing.builders import School
from tests.unit.billing.conftest import record

PER_EVENT = {
    "ProgrammePublished": record_programme,
    "ApplicationApproved": record_hardship_verification,
    "EnrollmentFiled": open_fee_account,
    "EnrollmentWithdrawn": close_fee_account,
}


def _batches(school: School) -> list[list[RawRecord]]:
    refiled = school.filed(2, extended_care=True)
    late = school.filed(3)
    first = [record(school.programme())]
    for n in range(1, 7):
        first += [record(school.approved(n, hardship=n == 4)), record(school.filed(n, hardship=n == 4))]
    first += [
        record(refiled.model_copy(update={"filed_at": refiled.filed_at + timedelta(hours=1)})),  # same run, again
        record(school.withdrawn(5, date(2025, 9, 12))),                                           # filed, then closed
        record(school.withdrawn(6, date(2025, 9, 3))), record(school.filed(6, extended_care=True)),  # closed, refiled
        record(school.withdrawn(9, date(2025, 9, 3))),                                            # never filed
    ]
    second = [
        record(school.withdrawn(1, date(2025, 9, 20))),                                           # opened earlier
        record(late.model_copy(update={"guardian_id": "gdn-new", "filed_at": late.filed_at + timedelta(days=2)})),
        record(school.approved(7, hardship=True)), record(school.filed(7, hardship=True)),
        record(school.withdrawn(2, date(2025, 9, 25))), record(school.filed(2, extended_care=True)),  # reopened
    ]
    return [first, second]


async def _apply(consumer: BatchConsumer, batches: list[list[RawRecord]], billing_db, school: School) -> dict:
    await consumer.process(batches[0])
    async with billing_db.engine.begin() as conn:  # money held between the runs must stay held
        await conn.execute(text("update fee_accounts set credit_fen = 1234, outstanding_fen = 99 "
                                "where school_id = :s"), {"s": school.school_id})
    for batch in batches[1:]:
        await consumer.process(batch)
    async with billing_db.engine.begin() as conn:
        accounts = (await conn.execute(text("select * from fee_accounts where school_id = :s order by student_id"),
                                       {"s": school.school_id})).mappings().all()
        verifications = (await conn.execute(text(
            "select * from hardship_verifications where student_id like :p order by application_id"),
            {"p": f"stu-{school.school_id}-%"})).mappings().all()
        schools = (await conn.execute(text("select * from schools where school_id = :s"),
                                      {"s": school.school_id})).mappings().all()
        for table in ("fee_accounts", "programmes", "schools"):
            await conn.execute(text(f"delete from {table} where school_id = :s"), {"s": school.school_id})
        await conn.execute(text("delete from hardship_verifications where student_id like :p"),
                           {"p": f"stu-{school.school_id}-%"})
    return {"accounts": [dict(r) for r in accounts], "verifications": [dict(r) for r in verifications],
            "schools": [dict(r) for r in schools]}


async def test_a_run_of_enrollments_applied_at_once_leaves_the_rows_the_per_event_handlers_leave(
        uow_factory, billing_db) -> None:
    school = School()
    batches = _batches(school)
    metrics = KitMetrics(CollectorRegistry())
    one_by_one = await _apply(BatchConsumer("billing-per-event", PER_EVENT, uow_factory, metrics), batches,
                              billing_db, school)
    at_once = await _apply(BatchConsumer("billing", HANDLERS, uow_factory, metrics), batches, billing_db, school)

    assert at_once == one_by_one
    accounts = {a["student_id"]: a for a in at_once["accounts"]}
    assert sorted(accounts) == [school.student(n) for n in range(1, 8)]  # student 9 never had an account
    assert (accounts[school.student(1)]["active"], accounts[school.student(1)]["withdrawn_on"]) == (False, date(2025, 9, 20))
    assert (accounts[school.student(2)]["active"], accounts[school.student(2)]["withdrawn_on"]) == (True, None)
    assert accounts[school.student(2)]["extended_care"] and accounts[school.student(2)]["opened_at"] == school.filed(2).filed_at
    assert accounts[school.student(3)]["guardian_id"] == "gdn-new" and accounts[school.student(3)]["credit_fen"] == 1234
    assert (accounts[school.student(5)]["active"], accounts[school.student(5)]["withdrawn_on"]) == (False, date(2025, 9, 12))
    assert (accounts[school.student(6)]["active"], accounts[school.student(6)]["withdrawn_on"]) == (True, None)
    assert not accounts[school.student(4)]["chargeable"] and accounts[school.student(7)]["hardship"]  # R9
    assert [v["application_id"] for v in at_once["verifications"]] == [f"app-{school.school_id}-0004",
                                                                       f"app-{school.school_id}-0007"]
    assert at_once["schools"] == [{"school_id": school.school_id, "district_id": school.district_id}]


async def test_a_redelivered_run_of_enrollments_changes_nothing(consumer, uow_factory, billing_db) -> None:
    school = School()
    (batch, _) = _batches(school)
    await consumer.process(batch)
    async with billing_db.engine.begin() as conn:
        await conn.execute(text("update fee_accounts set active = false where student_id = :s"),
                           {"s": school.student(1)})
    await consumer.process(batch)  # every event already processed: nothing reopens
    async with billing_db.engine.connect() as conn:
        active = (await conn.execute(text("select active from fee_accounts where student_id = :s"),
                                     {"s": school.student(1)})).scalar()
    assert active is False
