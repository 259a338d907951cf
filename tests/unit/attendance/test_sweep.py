"""The timer sweep on a real PostgreSQL schema, with the clock in the test's hand: absence (R12), extended
care (R8, R13), escalation (R13), excusals, and each event raised exactly once."""
from __future__ import annotations

from datetime import timedelta

from services.attendance import handlers as h
from services.attendance.domain import Rejection
from tests.unit.attendance.conftest import DAY, School, local, outbox
from tests.unit.attendance.test_ingest import rec, run


async def test_students_not_checked_in_by_start_plus_grace_are_absent_once(school, uow_factory, policy, clock) -> None:
    present, late, missing, excused = [await school.enroll() for _ in range(4)]
    teacherless = await school.enroll(teacher=None)
    clock.set("15:35")
    await run(uow_factory, policy, [rec(school, "check_in", present, "15:20"), rec(school, "check_in", late, "15:35")])
    async with uow_factory() as uow:
        assert not isinstance(await h.excuse_student(uow, school_id=school.school_id, student_id=excused, day=DAY,
                                                     programme_id=None, reason="病假"), Rejection)
        await uow.commit()
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "StudentAbsent") == [], "nothing is due before start plus grace"

    clock.set("15:40")
    # sweep_batch is 3 in tests, so this also proves the sweep works through several transactions.
    assert (await h.sweep(uow_factory, policy)).absent >= 2
    clock.now += timedelta(minutes=5)
    await h.sweep(uow_factory, policy)
    events = await outbox(uow_factory, school.school_id, "StudentAbsent")
    assert sorted(e["payload"]["student_id"] for e in events) == sorted([missing, teacherless])
    by_student = {e["payload"]["student_id"]: e["payload"] for e in events}
    assert by_student[missing]["class_teacher_id"] == "stf-teacher" and by_student[teacherless]["class_teacher_id"] is None
    assert by_student[missing]["grace_minutes"] == 10 and by_student[missing]["detected_by_role"] == "platform"


async def test_a_late_arrival_inside_the_grace_period_raises_no_absence(school, uow_factory, policy, clock) -> None:
    student = await school.enroll()
    clock.set("15:39")
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:39")])
    clock.set("16:00")
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "StudentAbsent") == []


async def test_a_student_filed_after_the_start_is_not_reported_absent(school, uow_factory, policy, clock) -> None:
    await school.enroll(filed_at=local("15:50"))
    clock.set("16:00")
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "StudentAbsent") == []


async def test_children_left_at_the_end_move_into_extended_care_then_escalate_once(school, uow_factory, policy, clock) -> None:
    collected, stays, stays_late = [await school.enroll() for _ in range(3)]
    clock.set("17:00")
    await run(uow_factory, policy, [rec(school, "check_in", s, "15:20") for s in (collected, stays, stays_late)]
              + [rec(school, "check_out", collected, "17:00")])
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "ExtendedCareStarted") == []

    clock.set("17:31")
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "ExtendedCareEscalated") == []
    started = await outbox(uow_factory, school.school_id, "ExtendedCareStarted")
    assert sorted(e["payload"]["student_id"] for e in started) == sorted([stays, stays_late])
    assert started[0]["payload"]["supervising_staff_id"] == school.staff_id
    assert started[0]["payload"]["started_at"] == local("17:30").isoformat().replace("+00:00", "Z")

    clock.set("18:10")
    await run(uow_factory, policy, [rec(school, "check_out", stays, "18:10")])
    clock.set("18:31")
    await h.sweep(uow_factory, policy)
    await h.sweep(uow_factory, policy)
    assert len(await outbox(uow_factory, school.school_id, "ExtendedCareStarted")) == 2
    (escalated,) = await outbox(uow_factory, school.school_id, "ExtendedCareEscalated")
    assert escalated["payload"]["student_id"] == stays_late
    assert escalated["payload"]["escalated_to"] == [school.principal_id, "stf-teacher"]
    pickups = {e["payload"]["student_id"]: e["payload"] for e in await outbox(uow_factory, school.school_id, "StudentCheckedOut")}
    assert (pickups[collected]["extended_care"], pickups[stays]["extended_care"]) == (False, True)
    assert pickups[stays]["extended_care_minutes"] == 40, "settled on actuals: 17:30 to 18:10 (R13, R17)"


async def test_where_no_extended_care_is_offered_a_child_left_at_the_end_is_escalated(uow_factory, policy, clock) -> None:
    school = School(uow_factory)
    await school.publish(extended_care_until=None)
    student = await school.enroll()
    clock.set("17:00")
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:20")])
    clock.set("17:30")
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id, "ExtendedCareStarted") == []
    assert len(await outbox(uow_factory, school.school_id, "ExtendedCareEscalated")) == 1


async def test_a_day_without_a_session_raises_nothing(uow_factory, policy, clock) -> None:
    school = School(uow_factory)
    await school.publish(weekdays=["mon"])
    await school.enroll()
    clock.set("18:45")
    await h.sweep(uow_factory, policy)
    assert await outbox(uow_factory, school.school_id) == []


async def test_an_excusal_for_a_student_not_on_the_roster_is_refused_with_a_reason(school, uow_factory) -> None:
    async with uow_factory() as uow:
        result = await h.excuse_student(uow, school_id=school.school_id, student_id="stu-nobody", day=DAY,
                                        programme_id=None, reason="病假")
    assert result.code == "unknown_student"
