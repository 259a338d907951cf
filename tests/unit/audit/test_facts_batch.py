"""Enrollment and attendance facts applied a consumed batch at a time (R6, R9, R17, R20, R25): the last
word on a student's enrollment within one batch stands (the handlers on the fake unit of work), and a
redelivered batch changes nothing (the kit's consumer on PostgreSQL)."""
from __future__ import annotations

import itertools
from datetime import date, timedelta

from services.audit.handlers import HANDLERS
from shared.contracts import attendance
from shared.contracts.envelope import Event
from shared.contracts.schema import example_payload
from shared.messaging.consumer import Item
from tests.unit.audit.fakes import FakeAuditStore
from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import DAY, School, at, envelope, record


def _check_out(school: School, student: str, day: date, staff: str) -> attendance.StudentCheckedOut:
    return attendance.StudentCheckedOut.model_validate({
        **example_payload(attendance.StudentCheckedOut), "student_id": student, "school_id": school.school_id,
        "programme_id": school.programme_id, "session_date": day.isoformat(), "checked_out_at": at(day, 17).isoformat(),
        "handed_over_by": staff})


async def apply(store: FakeAuditStore, *events: Event) -> None:
    """The events as the consumer hands them over: each run of one type to its handler, then one commit."""
    async with store.uow() as uow:
        for name, run in itertools.groupby(events, lambda e: e.type_name):
            items = [Item(envelope(e), e) for e in run]
            await HANDLERS[name](uow, items)
        await uow.commit()


async def test_the_last_filing_or_withdrawal_of_a_student_in_one_batch_is_what_stands() -> None:
    store, school = FakeAuditStore(), School("batchfacts")
    kept, left, refiled = school.student(), school.student(), school.student()
    off = DAY - timedelta(days=3)
    await apply(store, school.enrollment(kept), school.enrollment(kept, hardship=True),  # R9: the later filing says hardship
                school.enrollment(left), school.withdrawal(left, off),
                school.enrollment(refiled), school.withdrawal(refiled, off), school.enrollment(refiled))
    async with store.uow() as uow:
        found = await uow.enrollments_of([(s, school.programme_id) for s in (kept, left, refiled)])
        districts = await uow.districts_of([school.school_id])
    assert found[(kept, school.programme_id)].hardship is True
    assert found[(left, school.programme_id)].withdrawn_on == off
    assert found[(refiled, school.programme_id)].withdrawn_on is None
    assert districts == {school.school_id: school.district_id}


async def test_withdrawals_of_students_audit_never_saw_filed_are_kept_as_withdrawn() -> None:
    store, school = FakeAuditStore(), School("batchwithdraw")
    students = [school.student() for _ in range(3)]
    off = DAY - timedelta(days=1)
    await apply(store, *(school.withdrawal(s, off) for s in students), school.withdrawal(students[0], off - timedelta(days=1)))
    async with store.uow() as uow:
        found = await uow.enrollments_of([(s, school.programme_id) for s in students])
    assert {k[0]: (v.withdrawn_on, v.hardship) for k, v in found.items()} == {
        students[0]: (off - timedelta(days=1), False), students[1]: (off, False), students[2]: (off, False)}


async def test_a_batch_of_check_outs_records_each_session_and_staff_day_once_and_a_redelivery_changes_nothing(
        ledger: TestLedger) -> None:
    school = School("batchsessions")
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1)]
    events = [_check_out(school, school.student(), day, f"stf-{n % 2}") for day in days for n in range(4)]
    envelopes = [envelope(e) for e in events]
    await ledger.feed(*envelopes)
    await ledger.feed(*(record(e, 9000 + i) for i, e in enumerate(envelopes)))  # the same events again
    async with ledger.uow() as uow:
        held = await uow.held_sessions_of([(school.school_id, school.programme_id)], days[0], days[-1])
        staff = await uow.staff_sessions_of([(school.school_id, f"stf-{n}", f"{DAY:%Y-%m}") for n in range(2)])
    assert held == {(school.school_id, school.programme_id): set(days)}
    assert {k[1]: v for k, v in staff.items()} == {"stf-0": len({d for d in days if d.month == DAY.month}),
                                                   "stf-1": len({d for d in days if d.month == DAY.month})}


def test_audit_takes_no_event_type_it_does_nothing_with() -> None:
    """Types audit ignores stay out of the table, so the kit passes over them without calling anyone.
    (ApplicationSubmitted is taken since the R1 coercion check reads applications staff entered.)"""
    assert not {"GuardianRegistered", "ApplicationApproved", "StudentAbsent",
                "UnauthorisedPickupRefused", "MessageDelivered"} & set(HANDLERS)


async def test_facts_of_a_batch_that_rolled_back_are_written_when_it_is_applied_again(ledger: TestLedger) -> None:
    """The process remembers facts it committed, so as not to write them again; never ones it only tried."""
    school = School("batchrollback")
    async with ledger.uow() as uow:
        await uow.claim("audit", [])
        uow.note_session_held(school.school_id, school.programme_id, DAY)
        uow.note_staff_session(school.school_id, "stf-9", DAY)
        await uow.write_noted_facts()
        # leaving without commit: rolled back
    await ledger.feed(_check_out(school, school.student(), DAY, "stf-9"))
    async with ledger.uow() as uow:
        held = await uow.held_sessions_of([(school.school_id, school.programme_id)], DAY, DAY)
        staff = await uow.staff_sessions_of([(school.school_id, "stf-9", f"{DAY:%Y-%m}")])
    assert held == {(school.school_id, school.programme_id): {DAY}}
    assert staff == {(school.school_id, "stf-9", f"{DAY:%Y-%m}"): 1}
