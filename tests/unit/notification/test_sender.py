"""The consumer's intents and the sender loop on real PostgreSQL, with providers imitated by local
servers: one message per event and recipient across redeliveries and a lost answer, consent, fallback,
retries, daily limits, quiet hours, and a receipt for every outcome (R22, R23, R25)."""
from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from services.notification.channels.aliyun import AliyunSms
from services.notification.channels.jpush import JPush
from services.notification.channels.sink import SinkChannel
from services.notification.db import ContactRow, NotificationUoW, PreferenceRow, SenderUoW
from services.notification.domain.policy import SHANGHAI, Preferences, Retry
from services.notification.domain.templates import TEMPLATES, template
from services.notification.handlers import Delivery, handler_table
from services.notification.sender import NotificationMetrics, Sender, SenderConfig
from shared.contracts.attendance import StudentAbsent, StudentCheckedOut
from shared.contracts.enrollment import ApplicationSubmitted, GuardianRegistered
from shared.contracts.envelope import Envelope, new_envelope
from shared.contracts.registry import decode, event_type
from shared.contracts.schema import example_envelope
from shared.messaging.db import Database
from shared.privacy import Sealer, mask_phone
from shared.settings import CommonSettings
from tests.fakes.aliyun_sms import AliyunBatchSmsFake
from tests.fakes.jpush import JPushFake
from tests.unit.notification.conftest import consume

SEALER = Sealer(CommonSettings().contact_sealing_key)
NO_QUIET = Preferences(quiet_start=None, quiet_end=None)


class Rig:
    """The service's parts wired as app.build wires them, with providers imitated in process."""

    def __init__(self, db: Database, *, daily_limit: int | None = None, lease: float = 30.0) -> None:
        self.db = db
        self.delivery = Delivery(defaults=NO_QUIET)
        self.handlers = handler_table(self.delivery)
        self.aliyun = AliyunBatchSmsFake(templates={f"SMS_{i}": list(t.fields) for i, t in enumerate(TEMPLATES.values())})
        codes = {name: f"SMS_{i}" for i, name in enumerate(TEMPLATES)}
        self.jpush = JPushFake(devices={"dev-ok"})
        sms = AliyunSms(endpoint="http://aliyun.test", access_key_id=self.aliyun.access_key_id,
                        access_key_secret=self.aliyun.access_key_secret, sign_name=self.aliyun.sign_name,
                        template_codes=codes, transport=httpx.ASGITransport(app=self.aliyun.app()))
        sms.daily_limit = daily_limit
        push = JPush(endpoint="http://jpush.test", app_key=self.jpush.app_key, master_secret=self.jpush.master_secret,
                     transport=httpx.ASGITransport(app=self.jpush.app()))
        self.channels = {"sms": sms, "push": push}
        self.sender = Sender(lambda: self.uow(SenderUoW), self.channels, SEALER,
                             SenderConfig(batch_size=100, lease_seconds=lease, retry=Retry(3, 0.01, 0.05)),
                             NotificationMetrics(CollectorRegistry()))

    def uow(self, cls: type[NotificationUoW] = NotificationUoW) -> NotificationUoW:
        return cls(self.db, producer="notification")

    async def consume(self, envelope: Envelope) -> None:
        """What the batch consumer does for one record, minus the inbox (redelivery is the point here)."""
        await self.consume_batch([envelope])

    async def consume_batch(self, envelopes: list[Envelope]) -> None:
        await consume(self.uow, self.handlers, envelopes)

    async def drain(self, rounds: int = 40) -> None:
        for _ in range(rounds):
            if await self.sender.run_once() == 0:
                await asyncio.sleep(0.06)  # let a short backoff fall due
                if await self.sender.run_once() == 0:
                    return

    async def messages(self, recipient_id: str) -> list[dict]:
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(text("select * from messages where recipient_id = :r order by id"), {"r": recipient_id})
            return [dict(r) for r in rows.mappings()]

    async def receipts(self, recipient_id: str) -> list:
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(text("select value from outbox where key = :r order by id"), {"r": recipient_id})
            return [decode(bytes(r[0]))[1] for r in rows]


def guardian(gid: str, students: list[str], *, phone: str = "13800138000", push: str | None = None,
             consent: bool = True, locale: str = "zh-CN", school: str = "sch-u") -> Envelope:
    event = GuardianRegistered(guardian_id=gid, school_id=school, student_ids=students, name="王芳", locale=locale,
                               phone_masked=mask_phone(phone), phone_sealed=SEALER.seal(phone),
                               push_token_sealed=SEALER.seal(push) if push else None, consent=consent,
                               registered_by=gid)
    return new_envelope(event, producer="enrollment")


def checkout(student: str, *, school: str = "sch-u") -> Envelope:
    now = datetime.now(UTC)
    event = StudentCheckedOut(student_id=student, school_id=school, programme_id="prg-u", session_date=date.today(),
                              checked_out_at=now, handed_over_by="stf-0311", handed_over_by_role="school_staff",
                              collected_by_id="gdn-x", collected_by_name="王芳", collected_by_relation="guardian",
                              source="staff_app")
    return new_envelope(event, producer="attendance")


def absent(student: str) -> Envelope:
    now = datetime.now(UTC)
    event = StudentAbsent(student_id=student, school_id="sch-u", programme_id="prg-u", session_date=date.today(),
                          session_starts_at=now - timedelta(minutes=10), grace_minutes=10, detected_by="attendance",
                          detected_by_role="platform", detected_at=now)
    return new_envelope(event, producer="attendance")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_redelivered_checkout_sends_one_message_per_guardian_by_their_channel(db) -> None:
    rig = Rig(db)
    student, by_sms, by_push = unique("stu"), unique("gdn"), unique("gdn")
    await rig.consume(guardian(by_sms, [student], phone="13900000001"))
    await rig.consume(guardian(by_push, [student], phone="13900000002", push="dev-ok", locale="en"))
    pickup = checkout(student)
    for _ in range(3):
        await rig.consume(pickup)
    await rig.drain()

    assert [a["phone"] for a in rig.aliyun.delivered()] == ["13900000001"]
    assert len(rig.jpush.delivered()) == 1 and rig.jpush.delivered()[0]["alert"].startswith("[Beilei]")
    (sms_msg,), (push_msg,) = await rig.messages(by_sms), await rig.messages(by_push)
    assert (sms_msg["status"], sms_msg["channel"], sms_msg["provider"]) == ("sent", "sms", "aliyun")
    assert (push_msg["status"], push_msg["channel"], push_msg["provider"]) == ("sent", "push", "jpush")
    assert sms_msg["to_masked"] == "139****0001" and "王芳" in sms_msg["body"]
    (receipt,) = await rig.receipts(by_sms)
    assert receipt.type_name == "NotificationSent" and receipt.kind == "pickup"
    assert receipt.cause_event_id == pickup.event_id and receipt.channel == "sms"


async def test_a_guardian_registered_earlier_in_the_same_batch_hears_of_the_checkouts_that_follow(db) -> None:
    rig = Rig(db)
    students = [unique("stu") for _ in range(3)]
    gids = [unique("gdn") for _ in students]
    pickups = [checkout(s) for s in students]
    await rig.consume_batch([guardian(g, [s]) for g, s in zip(gids, students)] + pickups + pickups[:1])
    await rig.drain()
    for gid, pickup in zip(gids, pickups):
        (msg,) = await rig.messages(gid)
        assert msg["status"] == "sent" and msg["event_id"] == pickup.event_id
    assert len(rig.aliyun.delivered()) == 3


async def test_no_message_reaches_a_guardian_without_consent_and_the_refusal_is_recorded(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student], consent=False))
    await rig.consume(checkout(student))
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "suppressed_no_consent" and rig.aliyun.requests == {}
    (receipt,) = await rig.receipts(gid)
    assert receipt.type_name == "NotificationFailed" and receipt.error_code == "no_consent" and receipt.final


async def test_a_push_to_a_removed_app_falls_back_to_one_sms(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student], phone="13900000003", push="dev-removed"))
    await rig.consume(checkout(student))
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert (msg["status"], msg["channel"], msg["plan"]) == ("sent", "sms", ["push", "sms"])
    assert len(rig.aliyun.delivered()) == 1 and rig.jpush.delivered() == []
    failed, sent = await rig.receipts(gid)
    assert (failed.type_name, failed.channel, failed.error_code, failed.final) == (
        "NotificationFailed", "push", "push_token_expired", False)
    assert (sent.type_name, sent.channel) == ("NotificationSent", "sms")


async def test_transient_provider_errors_are_retried_with_backoff_until_sent(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    rig.aliyun.scripted = ["isp.SYSTEM_ERROR", "isp.SYSTEM_ERROR"]
    await rig.consume(guardian(gid, [student]))
    await rig.consume(checkout(student))
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "sent" and msg["attempts"] == 3 and len(rig.aliyun.delivered()) == 1
    receipts = await rig.receipts(gid)
    assert [r.type_name for r in receipts] == ["NotificationFailed", "NotificationFailed", "NotificationSent"]
    assert not any(getattr(r, "final", False) for r in receipts[:2])


async def test_retries_run_out_into_a_final_failure_receipt(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    rig.aliyun.scripted = ["isp.SYSTEM_ERROR"] * 3
    await rig.consume(guardian(gid, [student]))
    await rig.consume(checkout(student))
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "failed" and rig.aliyun.delivered() == []
    assert (await rig.receipts(gid))[-1].final


async def test_a_message_whose_answer_was_lost_is_found_at_the_provider_and_not_sent_again(db) -> None:
    rig = Rig(db, lease=0.2)
    student, lost, never = unique("stu"), unique("gdn"), unique("gdn")
    await rig.consume(guardian(lost, [student], phone="13900000004"))
    await rig.consume(guardian(never, [student], phone="13900000005"))
    await rig.consume(checkout(student))
    # A sender claims both and dies: one SendSms reached Aliyun, the other never left the process.
    async with rig.uow(SenderUoW) as uow:
        claimed = await uow.claim(100, 0.2, uuid.uuid4(), datetime.now(SHANGHAI).date())
        await uow.commit()
    assert {m.recipient_id for m in claimed} >= {lost, never}
    job = rig.sender._job(next(m for m in claimed if m.recipient_id == lost))
    assert (await rig.channels["sms"].send(job.outgoing)).outcome == "sent"
    await asyncio.sleep(0.3)  # the dead sender's lease runs out
    await rig.drain()

    assert rig.aliyun.requests["SendSms"] == 2, "one for each guardian, none twice"
    assert sorted(a["phone"] for a in rig.aliyun.delivered()) == ["13900000004", "13900000005"]
    for gid in (lost, never):
        (msg,) = await rig.messages(gid)
        assert msg["status"] == "sent" and msg["attempts"] == 2
        assert [r.type_name for r in await rig.receipts(gid)] == ["NotificationSent"]


async def _checkouts_to_guardians(rig: Rig, phones: list[str]) -> list[str]:
    """One student and one guardian per phone, all registered and checked out in one consumed batch."""
    students, gids = [unique("stu") for _ in phones], [unique("gdn") for _ in phones]
    await rig.consume_batch([guardian(g, [s], phone=p) for g, s, p in zip(gids, students, phones)]
                            + [checkout(s) for s in students])
    return gids


async def test_messages_of_one_template_go_to_aliyun_in_one_batch_call_each_marked_sent_once(db) -> None:
    rig = Rig(db)
    gids = await _checkouts_to_guardians(rig, [f"1370000{i:04d}" for i in range(5)])
    await rig.drain()

    assert rig.aliyun.batch_calls == [5] and "SendSms" not in rig.aliyun.requests
    assert sorted(a["phone"] for a in rig.aliyun.delivered()) == [f"1370000{i:04d}" for i in range(5)]
    for gid in gids:
        (msg,) = await rig.messages(gid)
        assert msg["status"] == "sent" and msg["attempts"] == 1 and msg["provider_message_id"]
        assert [r.type_name for r in await rig.receipts(gid)] == ["NotificationSent"]


async def test_a_batch_whose_answer_was_lost_is_found_at_the_provider_and_none_is_sent_again(db) -> None:
    """R22: the call's OutId was stored on each message before the call, so each is found by it."""
    rig = Rig(db)
    rig.aliyun.lose_next_batch_answers = 1
    gids = await _checkouts_to_guardians(rig, [f"1370001{i:04d}" for i in range(4)])
    await rig.drain()

    assert rig.aliyun.batch_calls == [4] and "SendSms" not in rig.aliyun.requests
    assert rig.aliyun.requests["QuerySendDetails"] >= 4 and len(rig.aliyun.delivered()) == 4
    for gid in gids:
        (msg,) = await rig.messages(gid)
        assert msg["status"] == "sent" and msg["attempts"] == 2
        assert [r.type_name for r in await rig.receipts(gid)] == ["NotificationFailed", "NotificationSent"]


async def test_a_batch_refused_for_one_bad_number_is_sent_one_by_one_and_the_others_go_out(db) -> None:
    rig = Rig(db)
    gids = await _checkouts_to_guardians(rig, ["13700020001", "10000000000", "13700020003"])
    await rig.drain()

    assert rig.aliyun.batch_calls == [] and rig.aliyun.requests["SendBatchSms"] == 1
    assert rig.aliyun.requests["SendSms"] == 3
    assert sorted(a["phone"] for a in rig.aliyun.delivered()) == ["13700020001", "13700020003"]
    statuses = [(await rig.messages(gid))[0]["status"] for gid in gids]
    assert statuses[0] == statuses[2] == "sent" and statuses[1] != "sent"


async def test_a_round_that_outlasts_its_short_lease_renews_it_and_no_other_sender_takes_its_message(db) -> None:
    """A short lease lets a dead process's messages be taken over soon; a live round keeps its own."""
    rig = Rig(db, lease=0.3)
    rig.aliyun.latency = 0.6  # the provider answers after twice the lease
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student], phone="13700030001"))
    await rig.consume(checkout(student))
    sending = asyncio.create_task(rig.sender.run_once())
    while not rig.aliyun.answering and not sending.done():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.4)  # past the lease as it was claimed
    async with rig.uow(SenderUoW) as uow:
        taken = await uow.claim(100, 0.3, uuid.uuid4(), datetime.now(SHANGHAI).date())
        await uow.commit()
    await sending

    assert gid not in {m.recipient_id for m in taken}
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "sent" and msg["attempts"] == 1 and not msg["in_doubt"]
    assert rig.aliyun.requests["SendSms"] == 1 and "QuerySendDetails" not in rig.aliyun.requests


async def test_a_message_recorded_while_a_round_is_sending_starts_the_next_round_without_waiting_for_a_poll(db) -> None:
    """The consumer's wake-up during a round is kept, so the next message is not left for the poll (R22)."""
    rig = Rig(db)
    rig.sender.config.poll_seconds = 3600.0
    rig.sender.config.loops = 1
    rig.aliyun.latency = 0.2
    first, second = unique("stu"), unique("stu")
    await rig.consume_batch([guardian(unique("gdn"), [first], phone="13700040001"),
                             guardian(unique("gdn"), [second], phone="13700040002")])
    await rig.drain()
    await rig.consume(checkout(first))
    await rig.sender.start()
    try:
        while not rig.aliyun.answering:  # the first round is at the provider
            await asyncio.sleep(0.01)
        await rig.consume(checkout(second))
        rig.sender.wake()  # what the consumer's commit does
        async with asyncio.timeout(60):  # without the wake-up, not before the hour's poll
            while "13700040002" not in {a["phone"] for a in rig.aliyun.delivered()}:
                await asyncio.sleep(0.01)
    finally:
        await rig.sender.stop(drain_seconds=5)


async def test_the_per_number_daily_limit_holds_a_message_until_the_next_china_day(db) -> None:
    rig = Rig(db, daily_limit=1)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student]))
    await rig.consume(checkout(student))
    await rig.drain()
    await rig.consume(checkout(student))
    await rig.drain()
    first, second = await rig.messages(gid)
    assert first["status"] == "sent" and second["status"] == "pending"
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert second["next_attempt_at"] == tomorrow and len(rig.aliyun.delivered()) == 1


async def test_quiet_hours_hold_a_pickup_message_but_not_an_absence_alert(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    await rig.consume(guardian(gid, [student]))
    now = datetime.now(SHANGHAI)
    async with rig.uow() as uow:  # a quiet window around the present moment, whatever time the test runs
        await uow.save_preferences(PreferenceRow(recipient_id=gid, channels="push_then_sms",
                                                 quiet_start=(now - timedelta(minutes=30)).strftime("%H:%M"),
                                                 quiet_end=(now + timedelta(minutes=30)).strftime("%H:%M")))
        await uow.commit()
    await rig.consume(checkout(student))
    await rig.consume(absent(student))
    await rig.drain()
    pickup, absence = await rig.messages(gid)
    assert pickup["kind"] == "pickup" and pickup["status"] == "pending"
    assert pickup["not_before"] > datetime.now(UTC) + timedelta(minutes=20)
    assert absence["kind"] == "absence" and absence["status"] == "sent" and absence["urgent"]


async def test_a_message_waiting_for_its_guardian_goes_out_once_the_contact_arrives(db) -> None:
    rig = Rig(db)
    student, gid = unique("stu"), unique("gdn")
    applied = ApplicationSubmitted(application_id=unique("app"), programme_id="prg-u", school_id="sch-u",
                                   student_id=student, student_name="李小明", guardian_id=gid, submitted_by=gid,
                                   consent=True, submitted_at=datetime.now(UTC))
    await rig.consume(new_envelope(applied, producer="enrollment"))
    await rig.drain()
    (waiting,) = await rig.messages(gid)
    assert waiting["status"] == "awaiting_contact" and waiting["body"] is None
    await rig.consume(guardian(gid, [student], locale="en"))
    await rig.drain()
    (msg,) = await rig.messages(gid)
    assert msg["status"] == "sent" and msg["body"].startswith("[Beilei] Your after-school application for 李小明")


async def test_every_consumed_event_becomes_its_kind_of_message(db) -> None:
    """The contract examples name stu-000123, gdn-000456, sch-0042 and dst-07 throughout."""
    rig = Rig(db)
    rig.channels["sms"] = SinkChannel("sms")
    rig.sender.channels = rig.channels
    await rig.consume(guardian("gdn-000456", ["stu-000123"], school="sch-0042"))
    async with rig.uow() as uow:
        await uow.upsert_contact(ContactRow(recipient_id="aud-07", role="auditor", district_id="dst-07",
                                            phone_sealed=SEALER.seal("13900000009"), phone_masked="139****0009",
                                            consent=True))
        await uow.commit()
    expected = {}
    for type_name in rig.handlers:
        if type_name in ("GuardianRegistered", "StaffRegistered", "StaffAdmissionChanged"):
            continue  # contacts, not news: the examples' sealed numbers are not real ones
        envelope = example_envelope(event_type(type_name, 1))
        await rig.consume(envelope)
        expected[envelope.event_id] = type_name
    await rig.drain()
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("select event_id, kind, template, status, body from messages"
                                        " where event_id = any(cast(:ids as uuid[]))"), {"ids": list(expected)})).all()
    kinds = {expected[r.event_id]: r.kind for r in rows}
    assert kinds == {
        "ApplicationSubmitted": "application_submitted", "ApplicationApproved": "application_approved",
        "ApplicationWaitlisted": "application_approved",
        "ApplicationRejected": "application_rejected", "EnrollmentFiled": "enrollment_filed",
        "EnrollmentWithdrawn": "enrollment_withdrawn", "ProgrammePublished": "programme_disclosure",
        "StudentCheckedIn": "check_in", "StudentCheckedOut": "pickup", "StudentAbsent": "absence",
        "ExtendedCareStarted": "extended_care", "ExtendedCareEscalated": "extended_care_escalated",
        "UnauthorisedPickupRefused": "unauthorised_pickup", "FeeCharged": "fee_due", "FeeSettled": "fee_due",
        "PaymentReceived": "payment_received", "FeeWaived": "fee_waived", "RefundIssued": "refund_issued",
        "DisclosurePublished": "finance_disclosure", "AnomalyDetected": "anomaly_alert",
    }
    assert all(r.status == "sent" and r.body for r in rows), [(r.kind, r.status) for r in rows if r.status != "sent"]
    assert template(next(r.template for r in rows if r.kind == "anomaly_alert")).kind == "anomaly_alert"


async def test_the_sender_stamps_what_it_hands_over_with_the_clock_it_is_given(db) -> None:
    rig = Rig(db)
    handed = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    rig.sender.clock = lambda: handed
    student, parent = unique("stu"), unique("gdn")
    await rig.consume(guardian(parent, [student], phone="13900000009"))
    await rig.consume(checkout(student))
    await rig.drain()

    (receipt,) = await rig.receipts(parent)
    assert receipt.sent_at == handed
    (msg,) = await rig.messages(parent)
    assert msg["delivered_at"] == handed
