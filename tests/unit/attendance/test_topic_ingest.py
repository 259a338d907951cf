"""Records that trusted school systems produce on attendance.ingest, through the kit's real batch consumer
on a real PostgreSQL schema: one event per valid record, rejected records dead-lettered with their reason,
redeliveries and re-sent records changing nothing (R15)."""
from __future__ import annotations

import base64
import json

from prometheus_client import CollectorRegistry

from services.attendance import handlers as h
from shared.contracts.enrollment import EnrollmentFiled, EnrollmentWithdrawn
from shared.contracts.envelope import new_envelope
from shared.contracts.ingest import SchoolActivityRecorded, SchoolCheckInRecorded, SchoolCheckOutRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_INGEST
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.observability import KitMetrics
from tests.tokens import mint, verifier
from tests.unit.attendance.conftest import DAY, dead_letters, local, outbox, unique


def raw(event, offset: int, *, token: str | None = "", written_ms: int | None = None) -> RawRecord:
    """Any event on its own topic as the kit reads it; a school record is signed, as school systems must, with its
    school's system token unless `token` is given (None: no authorization header at all)."""
    envelope = new_envelope(event, producer="sys-gate" if event.topic == ATTENDANCE_INGEST else "enrollment")
    headers: tuple[tuple[str, bytes], ...] = ()
    if event.topic == ATTENDANCE_INGEST and token is not None:
        token = token or mint(f"sys-{event.school_id}", "school_system", school_id=event.school_id)
        headers = (("authorization", f"Bearer {token}".encode()),)
    return RawRecord(event.topic, 0, offset, envelope.key.encode(), encode(envelope), headers, written_ms)


def reader(policy: h.Policy, uow_factory) -> BatchConsumer:
    """Attendance's consumer as the service builds it, verifying school systems' tokens with the issuer's keys."""
    return BatchConsumer("attendance", h.handler_table(policy, verifier()), uow_factory, KitMetrics(CollectorRegistry()))


def common(school, student_id: str) -> dict:
    return dict(record_id=unique("gate"), system_id="sys-gate", school_id=school.school_id, student_id=student_id,
                session_date=DAY)


async def test_a_consumed_batch_publishes_valid_records_and_dead_letters_the_rest_with_reasons(school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    student = await school.enroll()
    check_in = SchoolCheckInRecorded(**common(school, student), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                     checked_in_by_role="school_staff")
    activity = SchoolActivityRecorded(**common(school, student), activity_id="act-football", tier="sports",
                                      started_at=local("16:00"), minutes=45, exercise_minutes=40, recorded_by=school.staff_id,
                                      recorded_by_role="school_staff")
    check_out = SchoolCheckOutRecorded(**common(school, student), checked_out_at=local("17:20"), handed_over_by=school.staff_id,
                                       handed_over_by_role="school_staff", collected_by_id=f"pku-{student}",
                                       collected_by_name="张阿姨")
    stranger = unique("stu")
    unknown = SchoolCheckInRecorded(**common(school, stranger), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                    checked_in_by_role="school_staff")
    # Out of order on the topic: the check-out comes first; the batch is judged in time order.
    first = [raw(check_out, 1), raw(activity, 2), raw(check_in, 3), raw(unknown, 4)]
    await consumer.process(first)

    types = sorted(e["type"] for e in await outbox(uow_factory, school.school_id))
    assert types == ["ActivityRecorded", "StudentCheckedIn", "StudentCheckedOut"]
    (pickup,) = await outbox(uow_factory, school.school_id, "StudentCheckedOut")
    assert (pickup["payload"]["collected_by_name"], pickup["payload"]["collected_by_relation"]) == ("张阿姨", "authorised_pickup")
    (dead,) = await dead_letters(uow_factory, {stranger})
    assert dead["reason"].startswith("unknown_student:") and dead["consumer"] == "attendance"
    assert json.loads(base64.b64decode(dead["original_b64"]))["payload"]["record_id"] == unknown.record_id

    # Redelivered records (same envelopes) and the same records re-produced (new envelopes) change nothing.
    await consumer.process(first)
    await consumer.process([raw(check_in, 5), raw(check_out, 6)])
    assert sorted(e["type"] for e in await outbox(uow_factory, school.school_id)) == types
    assert len(await dead_letters(uow_factory, {stranger})) == 1


async def test_an_unauthorised_pickup_on_the_topic_raises_the_alert_and_is_not_dead_lettered(school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    student = await school.enroll()
    check_in = SchoolCheckInRecorded(**common(school, student), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                     checked_in_by_role="school_staff")
    attempt = SchoolCheckOutRecorded(**common(school, student), checked_out_at=local("17:20"), handed_over_by=school.staff_id,
                                     handed_over_by_role="school_staff", collected_by_id="stranger-7")
    await consumer.process([raw(check_in, 1), raw(attempt, 2)])
    (alert,) = await outbox(uow_factory, school.school_id, "UnauthorisedPickupRefused")
    assert alert["payload"]["claimant_id"] == "stranger-7" and alert["payload"]["refused_by"] == school.staff_id
    assert await dead_letters(uow_factory, {student}) == []


async def test_roster_changes_apply_in_consumed_order_and_before_the_batchs_records_are_judged(school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    returning, leaving = unique("stu"), unique("stu")

    def filed(student: str) -> EnrollmentFiled:
        return EnrollmentFiled(
            enrollment_id=f"enr-{student}", application_id=f"app-{student}", programme_id=school.programme_id,
            school_id=school.school_id, district_id="dst-unit", student_id=student, student_name="学生", guardian_id=f"gdn-{student}",
            hardship=False, extended_care=False, filed_by="off-1", filed_by_role="district_officer", filed_at=local("08:00"),
        )

    def withdrawn(student: str) -> EnrollmentWithdrawn:
        return EnrollmentWithdrawn(
            enrollment_id=f"enr-{student}", programme_id=school.programme_id, school_id=school.school_id, student_id=student,
            guardian_id=f"gdn-{student}", effective_on=DAY, withdrawn_by=f"gdn-{student}", withdrawn_by_role="guardian",
            withdrawn_at=local("09:00"),
        )

    def check_in(student: str) -> SchoolCheckInRecorded:
        return SchoolCheckInRecorded(**common(school, student), checked_in_at=local("15:25"), checked_in_by=school.staff_id,
                                     checked_in_by_role="school_staff")

    # The check-ins are consumed in the same batch as the filings, even ahead of them.
    await consumer.process([raw(check_in(returning), 1), raw(filed(returning), 2), raw(withdrawn(returning), 3),
                            raw(filed(returning), 4), raw(filed(leaving), 5), raw(withdrawn(leaving), 6),
                            raw(check_in(leaving), 7)])
    async with uow_factory() as uow:
        on_roster = {r.student_id for r in await uow.roster(school.school_id)}
    assert returning in on_roster and leaving not in on_roster
    (event,) = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert event["payload"]["student_id"] == returning
    (dead,) = await dead_letters(uow_factory, {leaving})
    assert dead["reason"].startswith("withdrawn:")
