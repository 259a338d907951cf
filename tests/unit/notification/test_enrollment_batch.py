"""Enrollment and billing events applied a run at a time in set-based statements: the last
GuardianRegistered of a guardian wins, a message waiting for a contact goes out when the contact arrives
(also in the same batch), links filed by EnrollmentFiled survive a registration in the same batch, a
contact keeps its district, a term start's interleaved registrations and filings are one run, and a run
costs the same statements whatever its length (R6, R22)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import event, text

from services.notification.db import ContactRow
from services.notification.handlers import NAMESPACE, Delivery, handler_table, out_id
from shared.contracts.billing import FeeCharged
from shared.contracts.enrollment import ApplicationSubmitted, EnrollmentFiled
from shared.contracts.envelope import Envelope, new_envelope
from shared.contracts.registry import event_type
from shared.contracts.schema import example_event
from shared.messaging.consumer import is_batch_handler
from tests.unit.notification.test_sender import SEALER, Rig, checkout, guardian, unique


def applied(student: str, gid: str) -> Envelope:
    event = ApplicationSubmitted(application_id=unique("app"), programme_id="prg-u", school_id="sch-u",
                                 student_id=student, student_name="李小明", guardian_id=gid, submitted_by=gid,
                                 consent=True, submitted_at=datetime.now(UTC))
    return new_envelope(event, producer="enrollment")


def filed(student: str, gid: str, *, name: str = "李小明") -> Envelope:
    event = EnrollmentFiled(enrollment_id=unique("enr"), application_id=unique("app"), programme_id="prg-u",
                            school_id="sch-u", district_id="dst-u", student_id=student, student_name=name,
                            guardian_id=gid, hardship=False, extended_care=False, filed_by="off-u",
                            filed_by_role="district_officer", filed_at=datetime.now(UTC))
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


async def test_a_filed_enrollment_and_a_registration_in_one_batch_link_the_student_whatever_their_order(db) -> None:
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


def charged(student: str, gid: str) -> Envelope:
    example = example_event(event_type("FeeCharged", 1))
    assert isinstance(example, FeeCharged)
    return new_envelope(example.model_copy(update={"student_id": student, "guardian_id": gid}), producer="billing")


@contextmanager
def statements(rig: Rig) -> Iterator[list[str]]:
    """The SQL statements sent to PostgreSQL meanwhile."""
    sent: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    event.listen(rig.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(rig.db.engine.sync_engine, "before_cursor_execute", seen)


def test_a_registration_and_a_filing_go_to_one_batch_handler_so_a_term_start_is_one_run() -> None:
    handlers = handler_table(Delivery())
    handler = handlers["GuardianRegistered"]
    assert is_batch_handler(handler) and handlers["EnrollmentFiled"] is handler


async def test_a_redelivered_term_start_gives_each_guardian_one_enrollment_message(db) -> None:
    rig = Rig(db)
    pairs = [(unique("stu"), unique("gdn")) for _ in range(5)]
    term_start = [e for student, gid in pairs for e in (guardian(gid, [student]), filed(student, gid))]
    await rig.consume_batch(term_start)
    await rig.consume_batch(term_start)
    for _, gid in pairs:
        (msg,) = await rig.messages(gid)
        assert (msg["template"], msg["status"]) == ("enrollment_filed", "pending")


async def test_a_run_of_fee_messages_costs_the_same_statements_whatever_its_length(db) -> None:
    rig = Rig(db)
    sent_for: dict[int, list[str]] = {}
    for n in (1, 6):
        pairs = [(unique("stu"), unique("gdn")) for _ in range(n)]
        await rig.consume_batch([e for student, gid in pairs for e in (guardian(gid, [student]), filed(student, gid))])
        with statements(rig) as sent:
            await rig.consume_batch([charged(student, gid) for student, gid in pairs])
        sent_for[n] = sent
        for _, gid in pairs:
            fee = [m for m in await rig.messages(gid) if m["template"] == "fee_due"]
            assert len(fee) == 1 and fee[0]["params"]["student"] == "李小明"
    assert len(sent_for[6]) == len(sent_for[1]) and sum("from students" in s for s in sent_for[6]) == 1


async def test_a_fee_message_to_a_guardian_without_consent_is_refused_once_across_redeliveries(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume_batch([guardian(gid, [student], consent=False), filed(student, gid)])
    fee = charged(student, gid)
    await rig.consume_batch([fee, fee])
    await rig.consume(fee)
    refused = [m for m in await rig.messages(gid) if m["template"] == "fee_due"]
    assert [m["status"] for m in refused] == ["suppressed_no_consent"]
    receipts = [r for r in await rig.receipts(gid) if r.cause_event_id == fee.event_id]
    assert [(r.error_code, r.final) for r in receipts] == [("no_consent", True)]


def test_a_message_keeps_the_provider_id_it_always_had_for_its_event_and_recipient() -> None:
    for recipient in ("gdn-000456", "aud-07", "家长-1", ""):
        event_id = uuid.uuid4()
        assert out_id(event_id, recipient) == uuid.uuid5(NAMESPACE, f"{event_id}/{recipient}").hex
