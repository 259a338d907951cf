"""Enrollment events applied as a batch in set-based statements: the last GuardianRegistered of a guardian
wins, a message waiting for a contact goes out when the contact arrives (also in the same batch), links
filed by EnrollmentFiled survive a registration in the same batch, and a contact keeps its district (R6, R22)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from shared.contracts.enrollment import ApplicationSubmitted, EnrollmentFiled
from shared.contracts.envelope import Envelope, new_envelope
from services.notification.db import ContactRow
from tests.unit.notification.test_sender import SEALER, Rig, checkout, guardian, unique


def applied(student: str, gid: str) -> Envelope:
    event = ApplicationSubmitted(application_id=unique("app"), programme_id="prg-u", school_id="sch-u",
                                 student_id=student, student_name="李小明", guardian_id=gid, submitted_by=gid,
                                 consent=True, submitted_at=datetime.now(timezone.utc))
    return new_envelope(event, producer="enrollment")


def filed(student: str, gid: str, *, name: str = "李小明") -> Envelope:
    event = EnrollmentFiled(enrollment_id=unique("enr"), application_id=unique("app"), programme_id="prg-u",
                            school_id="sch-u", district_id="dst-u", student_id=student, student_name=name,
                            guardian_id=gid, hardship=False, extended_care=False, filed_by="off-u",
                            filed_by_role="district_officer", filed_at=datetime.now(timezone.utc))
    return new_envelope(event, producer="enrollment")


async def _row(rig: Rig, sql: str, **params) -> list[dict]:
    async with rig.db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]


async def test_the_last_of_two_registrations_of_one_guardian_in_a_batch_wins(db) -> None:
    rig = Rig(db)
    first, second, gid = unique("stu"), unique("stu"), unique("gdn")
    await rig.consume_batch([guardian(gid, [first], phone="13900000011", locale="en"),
                             guardian(gid, [second], phone="13900000012")])
    (contact,) = await _row(rig, "select * from contacts where recipient_id = :g", g=gid)
    assert contact["phone_masked"] == "139****0012" and contact["locale"] == "zh-CN"
    assert SEALER.unseal(contact["phone_sealed"]) == "13900000012"
    links = await _row(rig, "select student_id from student_guardians where guardian_id = :g", g=gid)
    assert [link["student_id"] for link in links] == [second]
    await rig.consume(checkout(second))
    await rig.drain()
    assert [a["phone"] for a in rig.aliyun.delivered()] == ["13900000012"]


async def test_a_message_waiting_for_its_guardian_goes_out_when_the_contact_comes_in_the_same_batch(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume_batch([applied(student, gid), guardian(gid, [student], phone="13900000013")])
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "sent" and msg["to_masked"] == "139****0013" and "李小明" in msg["body"]
    assert [a["phone"] for a in rig.aliyun.delivered()] == ["13900000013"]


async def test_a_message_waiting_from_an_earlier_batch_takes_the_last_registration_of_the_batch(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(applied(student, gid))
    (waiting,) = await rig.messages(gid)
    assert waiting["status"] == "awaiting_contact"
    # Consent withdrawn, then given again, in one batch: the message follows the last registration.
    await rig.consume_batch([guardian(gid, [student], consent=False), guardian(gid, [student], phone="13900000014")])
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "sent" and [a["phone"] for a in rig.aliyun.delivered()] == ["13900000014"]
    assert [r.type_name for r in await rig.receipts(gid)] == ["NotificationSent"]


async def test_a_refused_waiting_message_gets_its_receipt_when_the_contact_comes_without_consent(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(applied(student, gid))
    await rig.consume_batch([guardian(gid, [student], consent=False)])
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "suppressed_no_consent"
    (receipt,) = await rig.receipts(gid)
    assert receipt.error_code == "no_consent" and receipt.final


async def test_a_filed_enrolment_and_a_registration_in_one_batch_link_the_student_whatever_their_order(db) -> None:
    rig = Rig(db)
    gid_a, gid_b = unique("gdn"), unique("gdn")
    listed_a, filed_a, listed_b, filed_b = (unique("stu") for _ in range(4))
    await rig.consume_batch([filed(filed_a, gid_a, name="张小红"), guardian(gid_a, [listed_a], phone="13900000015"),
                             guardian(gid_b, [listed_b], phone="13900000016"), filed(filed_b, gid_b)])
    for gid, students in ((gid_a, {listed_a, filed_a}), (gid_b, {listed_b, filed_b})):
        links = await _row(rig, "select student_id from student_guardians where guardian_id = :g", g=gid)
        assert {link["student_id"] for link in links} == students
        (enrolled,) = await rig.messages(gid)
        assert enrolled["template"] == "enrollment_filed" and enrolled["status"] == "pending"
    (student,) = await _row(rig, "select name, school_id from students where student_id = :s", s=filed_a)
    assert student == {"name": "张小红", "school_id": "sch-u"}
    await rig.consume(checkout(filed_a))
    await rig.drain()
    pickups = [m for m in await rig.messages(gid_a) if m["kind"] == "pickup"]
    assert len(pickups) == 1 and pickups[0]["status"] == "sent" and "张小红" in pickups[0]["body"]


async def test_a_registration_keeps_the_district_of_an_existing_contact(db) -> None:
    rig = Rig(db)
    gid = unique("gdn")
    async with rig.uow() as uow:
        await uow.upsert_contact(ContactRow(recipient_id=gid, role="guardian", district_id="dst-07", consent=False))
        await uow.commit()
    await rig.consume_batch([guardian(gid, [unique("stu")], phone="13900000017")])
    (contact,) = await _row(rig, "select district_id, consent, phone_masked from contacts where recipient_id = :g", g=gid)
    assert contact == {"district_id": "dst-07", "consent": True, "phone_masked": "139****0017"}
