"""Safety alerts reach the staff answering for the child (issue 16, R11-R13, R28): an absence the class
teacher, an escalation the programme lead and the school's safety contact, an unauthorised pickup attempt
the safety contact, each once per member and event, urgent whatever their quiet hours, with a receipt that
says which duty they were told for; suspended or removed staff hear nothing. Messages name staff and
programmes instead of showing their ids."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from services.notification.db import PreferenceRow
from services.notification.domain.policy import StaffMember, responsible
from shared.contracts.attendance import (
    ExtendedCareEscalated,
    StudentAbsent,
    StudentCheckedIn,
    UnauthorisedPickupRefused,
)
from shared.contracts.billing import DisclosurePublished
from shared.contracts.enrollment import ApplicationSubmitted, ProgrammePublished, StaffAdmissionChanged, StaffRegistered
from shared.contracts.envelope import Envelope, new_envelope
from shared.contracts.schema import example_event
from shared.privacy import mask_phone
from tests.unit.notification.test_sender import SEALER, Rig, guardian, unique

NOW = datetime.now(UTC)


def staff(staff_id: str, school: str, roles: list[str], *, programmes: tuple[str, ...] = (), name: str = "张伟",
          phone: str = "13700000001") -> Envelope:
    event = StaffRegistered(staff_id=staff_id, school_id=school, name=name, roles=roles, programme_ids=list(programmes),
                            phone_masked=mask_phone(phone), phone_sealed=SEALER.seal(phone), registered_by="pri-u",
                            registered_by_role="principal", registered_at=NOW)
    return new_envelope(event, producer="enrollment")


def decided(staff_id: str, school: str, admission: str, at: datetime) -> Envelope:
    event = StaffAdmissionChanged(staff_id=staff_id, school_id=school, admission=admission, decided_by="off-u",
                                  decided_by_role="district_officer", effective_at=at)
    return new_envelope(event, producer="enrollment")


def absent_in_class(student: str, teacher_id: str | None, school: str = "sch-u") -> Envelope:
    event = StudentAbsent(student_id=student, school_id=school, programme_id="prg-u", session_date=date.today(),
                          session_starts_at=NOW - timedelta(minutes=10), grace_minutes=10, class_teacher_id=teacher_id,
                          detected_by="attendance", detected_by_role="platform", detected_at=NOW)
    return new_envelope(event, producer="attendance")


async def messages_of(rig: Rig, event_id: uuid.UUID) -> list[dict]:
    async with rig.db.engine.connect() as conn:
        rows = await conn.execute(text("select * from messages where event_id = :e order by id"), {"e": event_id})
        return [dict(r) for r in rows.mappings()]


def escalated(student: str, school: str, programme: str) -> Envelope:
    event = ExtendedCareEscalated(student_id=student, school_id=school, programme_id=programme, session_date=date.today(),
                                  extended_care_ended_at=NOW, supervising_staff_id="stf-0312", escalated_to=["stf-0001"],
                                  escalated_by="attendance", escalated_by_role="platform", escalated_at=NOW)
    return new_envelope(event, producer="attendance")


def refused(student: str, school: str) -> Envelope:
    event = UnauthorisedPickupRefused(student_id=student, school_id=school, programme_id="prg-u", session_date=date.today(),
                                      reason="not_on_pickup_list", claimant_name="张三", refused_by="stf-0311",
                                      refused_by_role="school_staff", refused_at=NOW)
    return new_envelope(event, producer="attendance")


async def _school(rig: Rig) -> tuple[str, str, str]:
    """A school with a student and their guardian; returns (school, student, guardian)."""
    school, student, gid = unique("sch"), unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student], school=school))
    return school, student, gid


async def test_an_absence_reaches_the_guardian_and_the_class_teacher_the_event_names_once(db) -> None:
    rig = Rig(db)
    school, student, gid = await _school(rig)
    teacher, other = unique("stf"), unique("stf")
    await rig.consume_batch([staff(teacher, school, ["class_teacher"]), staff(other, school, ["class_teacher"])])
    event = absent_in_class(student, teacher)
    await rig.consume(event)
    await rig.consume(event)  # redelivered
    await rig.drain()
    (to_guardian,) = await rig.messages(gid)
    (to_teacher,) = await rig.messages(teacher)
    assert await rig.messages(other) == []
    assert (to_guardian["recipient_role"], to_teacher["recipient_role"]) == ("guardian", "class_teacher")
    assert to_teacher["status"] == "sent" and to_teacher["urgent"] and to_teacher["template"] == "absence_staff"
    assert "您班上的" in to_teacher["body"] and student not in to_teacher["body"]
    (receipt,) = await rig.receipts(teacher)
    assert (receipt.type_name, receipt.recipient_role, receipt.addressed_as) == ("NotificationSent", "school_staff",
                                                                                  "class_teacher")
    (guardian_receipt,) = await rig.receipts(gid)
    assert (guardian_receipt.recipient_role, guardian_receipt.addressed_as) == ("guardian", "guardian")


async def test_an_escalation_reaches_the_programme_lead_and_the_safety_contact_each_once(db) -> None:
    rig = Rig(db)
    school, student, gid = await _school(rig)
    programme = unique("prg")
    lead, both, elsewhere, teacher = unique("stf"), unique("stf"), unique("stf"), unique("stf")
    await rig.consume_batch([
        staff(lead, school, ["programme_lead"], programmes=(programme,)),
        staff(both, school, ["programme_lead", "safety_contact"]),  # leads every programme of the school
        staff(elsewhere, school, ["programme_lead"], programmes=(unique("prg"),)),
        staff(teacher, school, ["class_teacher"]),
        staff(unique("stf"), unique("sch"), ["safety_contact"]),  # another school's
    ])
    event = escalated(student, school, programme)
    await rig.consume_batch([event, event])
    await rig.drain()
    told = {m["recipient_id"]: m["recipient_role"] for m in await messages_of(rig, event.event_id)}
    assert told == {gid: "guardian", lead: "programme_lead", both: "programme_lead"}
    safety = unique("stf")
    await rig.consume(staff(safety, school, ["safety_contact"]))
    second = escalated(student, school, programme)
    await rig.consume(second)
    told = {m["recipient_id"]: m["recipient_role"] for m in await messages_of(rig, second.event_id)}
    assert told == {gid: "guardian", lead: "programme_lead", both: "programme_lead", safety: "safety_contact"}


async def test_an_unauthorised_pickup_reaches_the_safety_contact_at_once_whatever_their_quiet_hours(db) -> None:
    rig = Rig(db)
    school, student, gid = await _school(rig)
    safety = unique("stf")
    await rig.consume(staff(safety, school, ["safety_contact"]))
    async with rig.uow() as uow:  # quiet all day long
        await uow.save_preferences(PreferenceRow(recipient_id=safety, channels="sms_only", quiet_start="00:00",
                                                 quiet_end="23:59"))
        await uow.commit()
    await rig.consume(refused(student, school))
    (msg,) = await rig.messages(safety)
    assert msg["recipient_role"] == "safety_contact" and msg["urgent"] and msg["not_before"] is None
    await rig.drain()
    (msg,) = await rig.messages(safety)
    assert msg["status"] == "sent" and "张三" in msg["body"] and "请核实情况" in msg["body"]
    assert [m["recipient_role"] for m in await rig.messages(gid)] == ["guardian"]


async def test_suspended_or_removed_staff_hear_nothing_and_the_latest_decision_wins(db) -> None:
    rig = Rig(db)
    school, student, _ = await _school(rig)
    safety = unique("stf")
    await rig.consume(staff(safety, school, ["safety_contact"]))
    await rig.consume(decided(safety, school, "suspended", NOW - timedelta(hours=2)))
    await rig.consume(refused(student, school))
    assert await rig.messages(safety) == []
    await rig.consume(decided(safety, school, "admitted", NOW - timedelta(hours=1)))
    await rig.consume(decided(safety, school, "removed", NOW - timedelta(hours=3)))  # older, arrives late
    await rig.consume(refused(student, school))
    assert len(await rig.messages(safety)) == 1
    await rig.consume(decided(safety, school, "removed", NOW))
    await rig.consume(refused(student, school))
    assert len(await rig.messages(safety)) == 1


async def test_a_decision_that_arrives_before_the_registration_still_holds(db) -> None:
    rig = Rig(db)
    school, student, _ = await _school(rig)
    teacher = unique("stf")
    await rig.consume(decided(teacher, school, "removed", NOW))
    await rig.consume(staff(teacher, school, ["class_teacher"]))
    await rig.consume(absent_in_class(student, teacher))
    assert await rig.messages(teacher) == []


async def test_messages_name_the_staff_member_and_the_programme_instead_of_their_ids(db) -> None:
    rig = Rig(db)
    school, student, gid = await _school(rig)
    known_staff, programme = unique("stf"), unique("prg")
    published = example_event(ProgrammePublished).model_copy(update={
        "programme_id": programme, "school_id": school, "name": "秋季课后服务", "disclosure_url": None})
    await rig.consume_batch([staff(known_staff, school, [], name="欧阳修文"),
                             new_envelope(published, producer="enrollment")])
    checked_in = StudentCheckedIn(student_id=student, school_id=school, programme_id=programme, session_date=date.today(),
                                  checked_in_at=NOW, checked_in_by=known_staff, checked_in_by_role="school_staff",
                                  source="staff_app")
    by_stranger = checked_in.model_copy(update={"checked_in_by": unique("stf")})
    applied = ApplicationSubmitted(application_id=unique("app"), programme_id=programme, school_id=school,
                                   student_id=student, student_name="李小明", guardian_id=gid, submitted_by=gid,
                                   consent=True, submitted_at=NOW)
    for event, producer in ((checked_in, "attendance"), (by_stranger, "attendance"), (applied, "enrollment")):
        await rig.consume(new_envelope(event, producer=producer))
    bodies = [m["body"] for m in await rig.messages(gid) if m["kind"] != "programme_disclosure"]
    assert "由欧阳老师签到" in bodies[0] and "由老师签到" in bodies[1]
    assert "（秋季课后服务）" in bodies[2]
    assert not any(token in body for body in bodies for token in ("stf-", "prg-", "sch-", "stu-"))


def test_who_answers_for_an_event_is_decided_by_duty_school_and_programme() -> None:
    members = [StaffMember("stf-a", "sch-1", ("programme_lead", "safety_contact"), ()),
               StaffMember("stf-b", "sch-1", ("programme_lead",), ("prg-2",)),
               StaffMember("stf-c", "sch-1", ("class_teacher",), ()),
               StaffMember("stf-d", "sch-2", ("safety_contact",), ())]
    assert responsible(("programme_lead", "safety_contact"), members, school_id="sch-1", programme_id="prg-1",
                       class_teacher_id=None) == [("stf-a", "programme_lead")]
    assert responsible(("programme_lead", "safety_contact"), members, school_id="sch-1", programme_id="prg-2",
                       class_teacher_id=None) == [("stf-a", "programme_lead"), ("stf-b", "programme_lead")]
    assert responsible(("class_teacher",), members, school_id="sch-1", programme_id="prg-1",
                       class_teacher_id="stf-c") == [("stf-c", "class_teacher")]
    assert responsible(("class_teacher",), members, school_id="sch-1", programme_id="prg-1",
                       class_teacher_id=None) == []
    assert responsible(("safety_contact",), members, school_id="sch-2", programme_id="prg-9",
                       class_teacher_id=None) == [("stf-d", "safety_contact")]


async def test_disclosures_name_the_school_its_programme_was_published_with(db) -> None:
    rig = Rig(db)
    school, _, gid = await _school(rig)
    published = example_event(ProgrammePublished).model_copy(update={
        "programme_id": unique("prg"), "school_id": school, "school_name": "实验小学", "disclosure_url": None})
    finances = example_event(DisclosurePublished).model_copy(update={"school_id": school})
    unnamed = example_event(DisclosurePublished).model_copy(update={"school_id": unique("sch")})
    await rig.consume(new_envelope(published, producer="enrollment"))
    await rig.consume_batch([new_envelope(finances, producer="billing"), new_envelope(unnamed, producer="billing")])
    programme, finance = (m["body"] for m in await rig.messages(gid))
    assert programme.startswith("【蓓蕾课后服务】实验小学公布了") and finance.startswith("【蓓蕾课后服务】实验小学公布了7月1日至")
    assert school not in programme + finance
