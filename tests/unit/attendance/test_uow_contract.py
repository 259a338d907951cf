"""The same enrollment events and excusals on the fake unit of work and on PostgreSQL: the repository
methods attendance's handlers of consumed events rely on must answer alike, or the fast handler tests
prove nothing (R1, R6, R11, R12, R27, R28)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.attendance import handlers as h
from services.attendance.domain import Rejection
from shared.contracts.enrollment import StaffAdmissionChanged
from tests.unit.attendance.conftest import DAY, School
from tests.unit.attendance.fakes import FakeAttendanceStore

LATER = datetime(2025, 8, 25, tzinfo=UTC)


def admission(school: School, staff_id: str, admission: str, at: datetime) -> StaffAdmissionChanged:
    return StaffAdmissionChanged(staff_id=staff_id, school_id=school.school_id, admission=admission, reason="核查",
                                 decided_by="off-1", decided_by_role="district_officer", effective_at=at)


async def run_cases(school: School) -> dict:
    """Publish a programme (and an older publication arriving late), suspend one of its staff (and an older
    decision admitting them arriving late), register guardians, file, re-file, withdraw and excuse; then
    ask every question the handlers and the day's routes ask."""
    s1, s2, s3 = (f"stu-{school.school_id}-{i}" for i in (1, 2, 3))
    other_staff = f"stf2-{school.school_id}"
    await school.publish(staff=[school.staff_id, other_staff], published_at=LATER)
    await school.publish(staff=[], extended_care_until=None, published_at=LATER - timedelta(days=1))
    for decision in (admission(school, other_staff, "suspended", LATER),
                     admission(school, other_staff, "admitted", LATER - timedelta(days=1))):  # older, arriving late
        async with school.uow_factory() as uow:
            await h.apply_staff_admissions(uow, [decision])
            await uow.commit()
    await school.register_guardian(f"gdn-a-{school.school_id}", "王芳", [s1, s2])
    await school.register_guardian(f"gdn-a-{school.school_id}", "王芳", [s1])  # s2 is no longer hers
    await school.register_guardian(f"gdn-b-{school.school_id}", "李强", [s2])
    await school.enroll(s1, pickups=["pku-1", "pku-2"])
    await school.enroll(s1, pickups=["pku-2", "pku-3"])  # pku-1 dropped off the list: revoked (R11)
    await school.enroll(s2, teacher=None)
    await school.withdraw(s2, DAY + timedelta(days=1))  # still on the roster on DAY (R1)
    await school.enroll(s3)
    await school.withdraw(s3, DAY)
    excused = []
    for student in (s1, "stu-nobody"):
        async with school.uow_factory() as uow:
            outcome = await h.excuse_student(uow, school_id=school.school_id, student_id=student, day=DAY,
                                             programme_id=None, reason="病假")
            excused.append(outcome.code if isinstance(outcome, Rejection) else outcome)
            await uow.commit()
    async with school.uow_factory() as uow:  # left without commit
        await uow.excuse((s2, school.programme_id, DAY), school.school_id, "事假")
    async with school.uow_factory() as uow:
        enrollments, names = await uow.enrollments([(school.school_id, s) for s in (s1, s2, s3, "stu-nobody")])
        schedules = await uow.schedules([school.programme_id, "prg-none"])
        return {
            "excused": excused,
            "enrollments": sorted(enrollments, key=lambda e: e.student_id),
            "names": names,
            "elsewhere": await uow.enrollments([("sch-other", s1)]),  # enrolled, but at another school
            "schedules": schedules,
            "all_schedules": {k: v for k, v in (await uow.schedules()).items() if k == school.programme_id},
            "roster": [(r.student_id, r.programme_id, r.student_name, r.extended_care) for r in await uow.roster(school.school_id)],
            "district": await uow.district_of(school.school_id),
            "no_district": await uow.district_of("sch-none"),
            "day": [_day(r) for r in await uow.day_rows(school.school_id, DAY)],
            "next_day": [_day(r) for r in await uow.day_rows(school.school_id, DAY + timedelta(days=1))],
        }


def _day(row) -> tuple:
    return (row.student_id, row.programme_id, row.student_name, row.checked_in_at, row.checked_out_at,
            row.extended_care_minutes, row.excused, row.excuse_reason, row.absent_at)


@pytest.fixture
def schools(uow_factory) -> tuple[School, School]:
    """One school on PostgreSQL and the same ids on the fake."""
    real = School(uow_factory)
    fake = School(FakeAttendanceStore().uow)
    for name in ("school_id", "programme_id", "staff_id", "principal_id"):
        setattr(fake, name, getattr(real, name))
    return fake, real


async def test_the_fake_and_postgresql_units_of_work_answer_alike(schools) -> None:
    fake_school, real_school = schools

    fake = await run_cases(fake_school)
    real = await run_cases(real_school)

    assert fake == real
    s1, s2, s3 = (f"stu-{real_school.school_id}-{i}" for i in (1, 2, 3))
    assert fake["excused"][1] == "unknown_student" and fake["excused"][0].student_id == s1
    first, second, third = fake["enrollments"]
    assert first.authorised_pickup_ids == {"pku-2", "pku-3"} and first.revoked_pickup_ids == {"pku-1"}
    assert first.guardian_ids == {f"gdn-{s1}", f"gdn-a-{real_school.school_id}"}
    assert second.guardian_ids == {f"gdn-{s2}", f"gdn-b-{real_school.school_id}"} and second.class_teacher_id is None
    assert (second.active, second.withdrawn_from, third.active) == (False, DAY + timedelta(days=1), False)
    schedule = fake["schedules"][real_school.programme_id]
    assert set(fake["schedules"]) == {real_school.programme_id} and fake["all_schedules"] == fake["schedules"]
    assert schedule.staff_ids == {real_school.staff_id} and schedule.extended_care_until is not None
    assert [r[0] for r in fake["roster"]] == [s1]
    assert fake["elsewhere"] == ([], {})
    assert fake["district"] == "dst-unit" and fake["no_district"] is None
    assert [(r[0], r[6], r[7]) for r in fake["day"]] == [(s1, True, "病假"), (s2, False, None)]
    assert [r[0] for r in fake["next_day"]] == [s1]
