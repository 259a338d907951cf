"""Property-based test on PostgreSQL: replaying every input event twice (the same envelope
redelivered, and the same fact again under a new event id, as a school system resending it) and
every payment twice leaves every balance unchanged and publishes nothing new (R15, R17, R24)."""
from __future__ import annotations

import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from services.billing.db import BillingUoW
from shared.messaging.consumer import RawRecord
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import published, record
from tests.unit.billing.flows import approve_schedule, enroll, pay, settle

DAYS = school_days("2025-09")
STUDENTS = range(1, 5)

facts = st.lists(st.tuples(st.sampled_from(list(STUDENTS)), st.sampled_from(DAYS),
                           st.sampled_from(["in", "out", "care"])), min_size=1, max_size=40)
prepayments = st.lists(st.tuples(st.sampled_from(list(STUDENTS)), st.integers(1, 40_000)), max_size=4)


def _inputs(school: School, chosen: list[tuple[int, object, str]]) -> list[RawRecord]:
    out = []
    for n, day, kind in chosen:
        event = (school.check_in(n, day) if kind == "in" else
                 school.check_out(n, day, extended_care=False) if kind == "out" else school.extended_care(n, day))
        out.append(record(event))
    return out


async def _balances(uow_factory, school: School) -> dict:
    async with uow_factory() as uow:
        uow: BillingUoW
        accounts = (await uow.session.execute(text(
            "select student_id, outstanding_fen, credit_fen from fee_accounts where school_id = :s order by 1"),
            {"s": school.school_id})).all()
        statements = (await uow.session.execute(text(
            "select student_id, charged_fen, waived_fen, paid_fen, refund_due_fen, outstanding_fen from statements "
            "where school_id = :s order by 1"), {"s": school.school_id})).all()
        journal = (await uow.session.execute(text(
            "select event_type, debit, credit, amount_fen, entries from journal where school_id = :s order by 1, 2, 3"),
            {"s": school.school_id})).all()
        months = (await uow.session.execute(text(
            "select student_id, attended_mask, extended_care_mask from attendance_months where school_id = :s order by 1"),
            {"s": school.school_id})).all()
    return {"accounts": accounts, "statements": statements, "journal": journal, "months": months}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=facts, prepaid=prepayments, seed=st.integers(0, 2**32 - 1))
async def test_replaying_every_input_event_twice_leaves_every_balance_unchanged(
    consumer, uow_factory, billing_db, chosen, prepaid, seed
) -> None:
    once, twice = School("sch-once"), School("sch-twice")
    for school in (once, twice):
        await enroll(consumer, school, {n: (n == 4, n % 2 == 1) for n in STUDENTS})
        await approve_schedule(uow_factory, school)
        for i, (n, fen) in enumerate(prepaid):
            await pay(uow_factory, school, n, fen, f"wx-{school.school_id}-{i}", prepaid_period="2025-09")

    await consumer.process(_inputs(once, chosen))
    records = _inputs(twice, chosen)
    # Every record delivered twice, and every fact sent again under a fresh event id, in any order.
    again = [RawRecord(r.topic, 0, r.offset, r.key, r.value) for r in records]
    resent = [record(event) for event in _events_of(twice, chosen)]
    mixed = records + again + resent
    random.Random(seed).shuffle(mixed)
    await consumer.process(mixed)
    for i, (n, fen) in enumerate(prepaid):
        assert (await pay(uow_factory, twice, n, fen, f"wx-{twice.school_id}-{i}", prepaid_period="2025-09")).status == "duplicate"
    await settle(uow_factory, once)
    await settle(uow_factory, twice)

    def normalised(snapshot: dict, school: School) -> str:
        return repr(snapshot).replace(school.school_id, "SCHOOL")

    first = await _balances(uow_factory, twice)
    assert normalised(first, twice) == normalised(await _balances(uow_factory, once), once)

    # And once everything is settled, the whole input again changes nothing and publishes nothing.
    before = await published(billing_db, twice.school_id)
    await consumer.process(records + [record(e, event_id=uuid.uuid4()) for e in _events_of(twice, chosen)])
    await settle(uow_factory, twice)
    assert normalised(await _balances(uow_factory, twice), twice) == normalised(first, twice)
    assert await published(billing_db, twice.school_id) == before


def _events_of(school: School, chosen: list[tuple[int, object, str]]) -> list:
    return [school.check_in(n, day) if kind == "in" else
            school.check_out(n, day, extended_care=False) if kind == "out" else school.extended_care(n, day)
            for n, day, kind in chosen]
