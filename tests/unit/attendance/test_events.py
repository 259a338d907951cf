"""Attendance's handlers of enrollment's events and excusals on the fake unit of work, without PostgreSQL
(test_uow_contract.py proves the fake answers as the database does): the roster, who may collect a
child, programmes and admitted staff (R1, R6, R11, R12, R28)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.attendance import handlers as h
from services.attendance.domain import Rejection
from shared.contracts.enrollment import EnrollmentFiled, EnrollmentWithdrawn
from shared.contracts.envelope import new_envelope
from shared.messaging.consumer import Item
from tests.unit.attendance.conftest import DAY, School
from tests.unit.attendance.fakes import FakeAttendanceStore


@pytest.fixture
async def school() -> School:
    s = School(FakeAttendanceStore().uow)
    await s.publish()
    return s


async def enrollment(school: School, student_id: str):
    async with school.uow_factory() as uow:
        (found,), _ = await uow.enrollments([(school.school_id, student_id)])
    return found


async def test_a_refiling_revokes_whoever_dropped_off_the_pickup_list(school) -> None:
    student = await school.enroll(pickups=["pku-grandma", "pku-uncle"])
    await school.enroll(student, pickups=["pku-grandma"])
    await school.enroll(student, pickups=["pku-grandma", "pku-neighbour"])

    found = await enrollment(school, student)
    assert found.authorised_pickup_ids == {"pku-grandma", "pku-neighbour"}
    assert found.revoked_pickup_ids == {"pku-uncle"}  # R11: the uncle is refused, not merely unknown


async def test_a_filing_a_withdrawal_and_a_refiling_in_one_run_are_applied_in_their_order(school) -> None:
    student = "stu-order"
    filing = EnrollmentFiled(
        enrollment_id="enr-1", application_id="app-1", programme_id=school.programme_id, school_id=school.school_id,
        district_id="dst-unit", student_id=student, student_name="学生", guardian_id="gdn-1", hardship=False,
        extended_care=False, authorised_pickup_ids=[], filed_by="off-1", filed_by_role="district_officer",
        filed_at=datetime(2025, 9, 1, tzinfo=UTC))
    withdrawal = EnrollmentWithdrawn(
        enrollment_id="enr-1", programme_id=school.programme_id, school_id=school.school_id, student_id=student,
        guardian_id="gdn-1", effective_on=DAY, withdrawn_by="gdn-1", withdrawn_by_role="guardian",
        withdrawn_at=datetime(2025, 9, 10, tzinfo=UTC))
    states = []
    for run in ([filing, withdrawal], [filing, withdrawal, filing]):
        async with school.uow_factory() as uow:
            await h.apply_enrollment_changes(uow, [Item(new_envelope(e, producer="enrollment"), e) for e in run])
            await uow.commit()
        found = await enrollment(school, student)
        states.append((found.active, found.withdrawn_from))
    assert states == [(False, DAY), (True, None)]  # withdrawal is always possible (R1), and so is coming back


async def test_an_older_publication_arriving_late_leaves_the_timetable_and_staff_as_they_are(school) -> None:
    await school.publish(staff=[school.staff_id, "stf-new"], published_at=datetime(2025, 8, 21, tzinfo=UTC))
    await school.publish(staff=["stf-old"], extended_care_until=None, published_at=datetime(2025, 8, 19, tzinfo=UTC))

    async with school.uow_factory() as uow:
        schedule = (await uow.schedules([school.programme_id]))[school.programme_id]
    assert schedule.staff_ids == {school.staff_id, "stf-new"} and schedule.extended_care_until is not None


async def test_only_a_student_with_a_session_that_day_can_be_excused(school) -> None:
    student = await school.enroll()
    saturday = DAY + timedelta(days=1)  # DAY is a Friday; the programme runs on weekdays
    outcomes = []
    for who, day in ((student, saturday), ("stu-unknown", DAY), (student, DAY)):
        async with school.uow_factory() as uow:
            outcome = await h.excuse_student(uow, school_id=school.school_id, student_id=who, day=day, programme_id=None,
                                             reason="病假")
            await uow.commit()
        outcomes.append(outcome.code if isinstance(outcome, Rejection) else "excused")
    assert outcomes == ["no_session", "unknown_student", "excused"]
    async with school.uow_factory() as uow:
        rows = await uow.day_rows(school.school_id, DAY)
    assert [(r.student_id, r.excused, r.excuse_reason) for r in rows] == [(student, True, "病假")]
