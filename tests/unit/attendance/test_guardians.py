"""GuardianRegistered applied per consumed batch on a real PostgreSQL schema: a guardian's student list
replaces the previous one, the batch's last registration wins, and filings in the same batch may come
before or after (R11, R22)."""
from __future__ import annotations

from datetime import UTC, datetime

from services.attendance import handlers as h
from shared.contracts.enrollment import EnrollmentFiled, GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.ingest import SchoolCheckInRecorded, SchoolCheckOutRecorded
from shared.messaging.consumer import Item
from tests.unit.attendance.conftest import School, local, outbox, unique
from tests.unit.attendance.test_topic_ingest import common, raw, reader


def registered(school: School, guardian_id: str, name: str, student_ids: list[str]) -> GuardianRegistered:
    return GuardianRegistered(guardian_id=guardian_id, school_id=school.school_id, student_ids=student_ids, name=name,
                              phone_masked="138****0000", phone_sealed="sealed", consent=True, registered_by=guardian_id)


def filed(school: School, student_id: str) -> EnrollmentFiled:
    return EnrollmentFiled(
        enrollment_id=f"enr-{student_id}", application_id=f"app-{student_id}", programme_id=school.programme_id,
        school_id=school.school_id, district_id="dst-unit", student_id=student_id, student_name="学生", guardian_id=f"gdn-{student_id}",
        hardship=False, extended_care=False, class_teacher_id=None, authorised_pickup_ids=[], filed_by="off-1",
        filed_by_role="district_officer", filed_at=datetime(2025, 9, 1, tzinfo=UTC),
    )


async def consume(uow_factory, events: list) -> None:
    """One consumed batch: one run of the batch handler, one unit of work, one commit (as the kit's consumer does)."""
    async with uow_factory() as uow:
        await h.apply_enrollment_changes(uow, [Item(new_envelope(event, producer="enrollment"), event) for event in events])
        await uow.commit()


async def guardianships(uow_factory, school: School) -> set[tuple[str, str, str]]:
    async with uow_factory() as uow:
        rows = await uow._fetch("select student_id, guardian_id, guardian_name from guardianships where school_id = :s",
                               {"s": school.school_id})
    return {(r.student_id, r.guardian_id, r.guardian_name) for r in rows}


async def test_a_batch_of_registrations_replaces_each_guardians_children_and_the_last_registration_wins(
        school, uow_factory) -> None:
    a, b, c = (unique("stu") for _ in range(3))
    mother, father = unique("gdn"), unique("gdn")
    await consume(uow_factory, [registered(school, mother, "王芳", [a, b]), registered(school, father, "李强", [a])])
    assert await guardianships(uow_factory, school) == {(a, mother, "王芳"), (b, mother, "王芳"), (a, father, "李强")}
    await consume(uow_factory, [
        registered(school, mother, "王芳", [a]),
        registered(school, mother, "王小芳", [b, c, c]),
        registered(school, father, "李强", [c]),
    ])
    assert await guardianships(uow_factory, school) == {(b, mother, "王小芳"), (c, mother, "王小芳"), (c, father, "李强")}


async def test_registrations_and_filings_in_one_batch_give_the_same_roster_in_either_order(uow_factory) -> None:
    results = []
    for guardians_first in (True, False):
        school = School(uow_factory)
        await school.publish()
        students = [f"{school.school_id}-stu-{i}" for i in range(3)]
        guardians = [registered(school, f"{school.school_id}-gdn-{i}", f"家长{i}", [s]) for i, s in enumerate(students)]
        filings = [filed(school, s) for s in students]
        await consume(uow_factory, guardians + filings if guardians_first else filings + guardians)
        async with uow_factory() as uow:
            enrollments, names = await uow.enrollments((school.school_id, s) for s in students)
        results.append((
            sorted((e.student_id.replace(school.school_id, ""), sorted(g.replace(school.school_id, "") for g in e.guardian_ids))
                   for e in enrollments),
            sorted((g.replace(school.school_id, ""), n) for g, n in names.items()),
        ))
    first, second = results
    assert first == second
    assert len(first[0]) == 3 and all(len(guardian_ids) == 2 for _, guardian_ids in first[0])
    assert first[1] == [("-gdn-0", "家长0"), ("-gdn-1", "家长1"), ("-gdn-2", "家长2")]


async def test_a_guardian_registered_in_the_same_consumed_batch_as_a_check_out_may_collect_the_child(
        school, uow_factory, policy) -> None:
    student = await school.enroll(pickups=[])
    guardian = unique("gdn")
    consumer = reader(policy, uow_factory)
    check_in = SchoolCheckInRecorded(**common(school, student), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                     checked_in_by_role="school_staff")
    check_out = SchoolCheckOutRecorded(**common(school, student), checked_out_at=local("17:20"),
                                       handed_over_by=school.staff_id, handed_over_by_role="school_staff",
                                       collected_by_id=guardian)
    await consumer.process([raw(check_in, 1), raw(check_out, 2), raw(registered(school, guardian, "赵敏", [student]), 3)])
    (event,) = await outbox(uow_factory, school.school_id, "StudentCheckedOut")
    payload = event["payload"]
    assert (payload["collected_by_id"], payload["collected_by_name"], payload["collected_by_relation"]) == (
        guardian, "赵敏", "guardian"), "the batch's guardians are stored before its records are judged (R11, R22)"
