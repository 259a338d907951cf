"""Month-end settlement written set-based (a few asyncpg statements per chunk, events framed once):
the same statements, balances, refunds, journal and event bytes as the rule says, to the fen
(R9, R13, R17, R24)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import text

from services.billing.db import BillingUoW
from services.billing.handlers.common import event_uuid
from shared.contracts.billing import FeeCharged, FeeSettled, FeeWaived, Posting, RefundIssued
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.messaging.uow import kafka_headers
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published, record
from tests.unit.billing.flows import approve_schedule, attend, enroll, pay, settle

DAYS = school_days("2025-09")  # 22 weekdays
AT = datetime(2025, 10, 1, 1, 0, tzinfo=UTC)


def _month_end_events() -> list:
    base = {"school_id": "sch-0042", "student_id": "stu-000123", "guardian_id": "gdn-000456"}
    moves = [Posting(debit="parent_receivables", credit="fee_income", amount_fen=27000)]
    return [
        FeeCharged(**base, charge_id="chg-1", programme_id="prg-0042", fee_schedule_id="fsc-1", category="session",
                   unit_price_fen=1500, quantity=18, amount_fen=27000, period_start=date(2025, 9, 1),
                   period_end=date(2025, 9, 30), session_dates=DAYS[:18], due_at=AT, charged_by="billing",
                   charged_by_role="platform", charged_at=AT, settlement_id="stl-1", postings=moves),
        FeeWaived(**base, waiver_id="wvr-1", programme_id="prg-0042", amount_fen=33200, reason="hardship",
                  note="20 sessions 减免 (R9)", waived_by="billing", waived_by_role="platform", waived_at=AT,
                  settlement_id="stl-1", verification_ref="app-1", verified_by="stf-9",
                  verified_by_role="school_staff",
                  postings=[Posting(debit="fee_waivers", credit="fee_income", amount_fen=33200)]),
        FeeSettled(**base, settlement_id="stl-1", programme_id="prg-0042", period_start=date(2025, 9, 1),
                   period_end=date(2025, 9, 30), sessions_provided=20, sessions_attended=18, extended_care_sessions=0,
                   charged_fen=27000, waived_fen=0, paid_fen=0, refund_due_fen=0, outstanding_fen=27000,
                   settled_by="billing", settled_by_role="platform", settled_at=AT, period="2025-09", hardship=False,
                   charge_ids=["chg-1"], postings=[]),
        RefundIssued(**base, refund_id="rfd-1", amount_fen=10500, payment_id="pay-1", settlement_id="stl-1",
                     reason="session_not_provided", paid_from_account="sch-0042:bank", issued_by="billing",
                     issued_by_role="platform", issued_at=AT,
                     postings=[Posting(debit="refunds_payable", credit="bank", amount_fen=10500)]),
    ]


async def test_a_month_end_event_is_queued_byte_for_byte_as_the_kit_would_publish_it(billing_db) -> None:
    for event in _month_end_events():
        event_id = uuid.uuid4()
        async with BillingUoW(billing_db, producer="billing") as uow:
            uow.queue_event(event, event_id=event_id, correlation_id="stl-1", occurred_at=AT)
            (queued,) = uow._outbox
        envelope = new_envelope(event, producer="billing", correlation_id="stl-1", event_id=event_id, occurred_at=AT)
        assert queued["value"] == encode(envelope), event.type_name
        assert (queued["topic"], queued["key"], queued["headers"]) == (event.topic, envelope.key, kafka_headers(envelope))


async def test_a_month_settled_in_chunks_matches_the_hand_computed_statements_to_the_fen(
        consumer, uow_factory, billing_db) -> None:
    school = School()
    # n -> (hardship, extended care granted)
    await enroll(consumer, school, {1: (False, True), 2: (False, False), 3: (True, True), 4: (False, False),
                                   5: (True, False), 6: (False, True), 7: (False, False)})
    await approve_schedule(uow_factory, school)  # 1,500 a session, 800 an extended-care session
    await attend(consumer, school, 1, DAYS[:18], care_days=DAYS[:3])
    await attend(consumer, school, 2, DAYS[:10], care_days=DAYS[:2])  # care never asked for: free (R13)
    await attend(consumer, school, 3, DAYS[:20], care_days=DAYS[:4])
    await attend(consumer, school, 4, DAYS[:15])
    await attend(consumer, school, 5, DAYS[:5])
    await attend(consumer, school, 6, DAYS[:10], care_days=DAYS[:1])
    await attend(consumer, school, 7, DAYS[:2])
    await pay(uow_factory, school, 4, 22 * 1500, f"wx-{school.school_id}-4", prepaid_period="2025-09")
    await pay(uow_factory, school, 7, 5000, f"wx-{school.school_id}-7")  # held as credit
    await consumer.process([record(school.withdrawn(6, DAYS[10]))])

    summary = await settle(uow_factory, school, chunk_size=2)  # three chunks

    # student -> (provided, attended, care, charged, waived, paid from credit, refund due, outstanding)
    expected = {
        1: (20, 18, 3, 27000 + 2400, 0, 0, 0, 29400),
        2: (20, 10, 2, 15000, 0, 0, 0, 15000),  # care used and counted, but free
        3: (20, 20, 4, 0, 20 * 1500 + 4 * 800, 0, 0, 0),        # R9: waived, never charged
        4: (20, 15, 0, 22500, 0, 22500, 33000 - 22500, 0),    # R17: prepaid sessions not attended come back
        5: (20, 5, 0, 0, 7500, 0, 0, 0),                       # R9
        6: (10, 10, 1, 15000 + 800, 0, 0, 0, 15800),          # R1: nothing from the withdrawal on
        7: (20, 2, 0, 3000, 0, 3000, 2000, 0),                 # credit pays first, the rest is refunded
    }
    events = await published(billing_db, school.school_id)
    settled = {p["student_id"]: (p["sessions_provided"], p["sessions_attended"], p["extended_care_sessions"],
                                 p["charged_fen"], p["waived_fen"], p["paid_fen"], p["refund_due_fen"],
                                 p["outstanding_fen"]) for p in payloads(events, "FeeSettled")}
    assert settled == {school.student(n): figures for n, figures in expected.items()}
    async with billing_db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "select student_id, sessions_provided, sessions_attended, extended_care_sessions, charged_fen, waived_fen, "
            "paid_fen, refund_due_fen, outstanding_fen from statements where school_id = :s"),
            {"s": school.school_id})).all()
        balances = dict((await conn.execute(text(
            "select student_id, outstanding_fen - credit_fen from fee_accounts where school_id = :s"),
            {"s": school.school_id})).all())
        refunds = dict((await conn.execute(text(
            "select student_id, amount_fen from refunds where school_id = :s"), {"s": school.school_id})).all())
        journal = dict((await conn.execute(text(
            "select event_type, sum(amount_fen) from journal where school_id = :s and event_type <> 'PaymentReceived' "
            "group by event_type"), {"s": school.school_id})).all())
    assert {r[0]: tuple(r[1:]) for r in rows} == settled
    assert balances == {school.student(n): figures[7] for n, figures in expected.items()}
    assert refunds == {school.student(4): 10500, school.student(7): 2000}
    assert sorted((p["student_id"], p["amount_fen"], p["reason"]) for p in payloads(events, "RefundIssued")) == [
        (school.student(4), 10500, "session_not_provided"), (school.student(7), 2000, "overpaid")]
    charged = sum(f[3] for f in expected.values())
    assert journal["FeeCharged"] == charged == summary.charged_fen == 85700
    assert journal["FeeWaived"] == 33200 + 7500 == summary.waived_fen
    assert journal["RefundIssued"] == 12500 == summary.refunded_fen
    assert journal["FeeSettled"] == 25500 + 12500  # credit applied, and credit moved to refunds payable


def test_an_event_id_is_the_uuid5_of_its_type_and_what_it_is_about() -> None:
    namespace = uuid.UUID("5d1b7c52-3f0e-4c1a-9a57-2b8f0e6d4c31")
    for n in range(200):
        assert event_uuid("FeeCharged", f"chg-{n:05d}") == uuid.uuid5(namespace, f"FeeCharged:chg-{n:05d}")
