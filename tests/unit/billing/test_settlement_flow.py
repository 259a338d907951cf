"""Month-end settlement through billing's handlers on PostgreSQL: statements on actuals, hardship
waivers, refunds of unused prepayments, payouts, and a second run that emits nothing (R9, R17, R20)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from services.billing.handlers import schedules as s
from services.billing.handlers.settlement import settle_school_month
from tests.unit.billing.builders import School, school_days
from tests.unit.billing.conftest import payloads, published, record
from tests.unit.billing.flows import NOW, PRINCIPAL, approve_schedule, attend, district_approves_the_plans, enroll, pay, settle

DAYS = school_days("2025-09")  # 22 weekdays


async def test_a_month_settles_each_student_on_the_sessions_they_attended(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, True), 2: (False, False), 3: (True, True)})
    schedule_id = await approve_schedule(uow_factory, school)
    await attend(consumer, school, 1, DAYS[:18], care_days=DAYS[:3])
    await attend(consumer, school, 2, DAYS[:10], care_days=DAYS[:2])  # care used but never asked for: free (R13)
    await attend(consumer, school, 3, DAYS[:20], care_days=DAYS[:4])

    summary = await settle(uow_factory, school)

    events = await published(billing_db, school.school_id)
    charges = payloads(events, "FeeCharged")
    by_student = {}
    for charge in charges:
        by_student.setdefault(charge["student_id"], []).append((charge["category"], charge["quantity"], charge["amount_fen"]))
    assert sorted(by_student[school.student(1)]) == [("extended_care", 3, 2400), ("session", 18, 27000)]
    assert by_student[school.student(2)] == [("session", 10, 15000)]
    assert school.student(3) not in by_student  # R9: the hardship student is charged nothing
    assert all(ch["fee_schedule_id"] == schedule_id for ch in charges)
    (waiver,) = payloads(events, "FeeWaived")
    assert (waiver["student_id"], waiver["amount_fen"], waiver["reason"]) == (school.student(3), 20 * 1500 + 4 * 800, "hardship")
    assert (waiver["verification_ref"], waiver["verified_by"]) == (f"app-{school.school_id}-0003", "stf-verifier")
    statements = {st["student_id"]: st for st in payloads(events, "FeeSettled")}
    assert statements[school.student(3)]["outstanding_fen"] == 0 and statements[school.student(3)]["charged_fen"] == 0
    assert statements[school.student(1)]["sessions_provided"] == 20
    assert statements[school.student(1)]["outstanding_fen"] == 29400
    assert summary.statements == 3 and summary.charged_fen == 27000 + 2400 + 15000


async def test_settling_a_month_twice_emits_nothing_new(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {n: (n == 4, n % 2 == 0) for n in range(1, 8)})
    await approve_schedule(uow_factory, school)
    for n in range(1, 8):
        await attend(consumer, school, n, DAYS[n:15], care_days=DAYS[n:n + 2])
    await pay(uow_factory, school, 1, 30000, f"wx-{school.school_id}-1", prepaid_period="2025-09")

    first = await settle(uow_factory, school, chunk_size=2)
    before = await published(billing_db, school.school_id)
    second = await settle(uow_factory, school, chunk_size=2)
    after = await published(billing_db, school.school_id)

    assert first.statements == 7 and first.events > 7
    assert (second.statements, second.events, second.charged_fen, second.refunded_fen) == (0, 0, 0, 0)
    assert after == before


async def test_a_prepayment_pays_the_statement_and_what_was_not_delivered_is_refunded(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    await pay(uow_factory, school, 1, 22 * 1500, f"wx-{school.school_id}-pre", prepaid_period="2025-09")
    await attend(consumer, school, 1, DAYS[:19])  # three of the 22 prepaid sessions not delivered

    await settle(uow_factory, school)

    events = await published(billing_db, school.school_id)
    (statement,) = payloads(events, "FeeSettled")
    (refund,) = payloads(events, "RefundIssued")
    assert (statement["charged_fen"], statement["paid_fen"], statement["refund_due_fen"], statement["outstanding_fen"]) == (
        19 * 1500, 19 * 1500, 3 * 1500, 0)
    assert (refund["amount_fen"], refund["reason"]) == (3 * 1500, "session_not_provided")
    assert refund["payment_id"] == payloads(events, "PaymentReceived")[0]["payment_id"]


async def test_a_withdrawn_student_is_charged_only_before_the_withdrawal_and_refunded_the_rest(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    await pay(uow_factory, school, 1, 10000, f"wx-{school.school_id}-w", prepaid_period="2025-09")
    await attend(consumer, school, 1, DAYS)  # records after the withdrawal are not chargeable (R1)
    await consumer.process([record(school.withdrawn(1, date(2025, 9, 5)))])

    await settle(uow_factory, school)

    events = await published(billing_db, school.school_id)
    (charge,) = payloads(events, "FeeCharged")
    (refund,) = payloads(events, "RefundIssued")
    assert charge["quantity"] == 4 and charge["session_dates"] == ["2025-09-01", "2025-09-02", "2025-09-03", "2025-09-04"]
    assert (refund["amount_fen"], refund["reason"]) == (10000 - 4 * 1500, "withdrawn")


async def test_staff_are_paid_per_the_plan_for_the_sessions_they_ran(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, True), 2: (False, False)})
    await approve_schedule(uow_factory, school)
    async with uow_factory() as uow:
        await s.record_distribution_plan(uow, s.RecordDistributionPlan(
            school_id=school.school_id, per_session_fen=6000, extended_care_per_session_fen=3000,
            approval_ref="jdh-2025-3", approved_on=date(2025, 8, 30), effective_from=date(2025, 9, 1),
            paid_from_account="acct-main"), PRINCIPAL, NOW)
        await district_approves_the_plans(uow, school)
        await uow.commit()
    await attend(consumer, school, 1, DAYS[:5], care_days=DAYS[:2])  # stf-1 runs 5 sessions, stf-2 supervises 2
    await attend(consumer, school, 2, DAYS[:3])

    summary = await settle(uow_factory, school)
    await settle(uow_factory, school)

    payouts = {p["staff_id"]: p for p in payloads(await published(billing_db, school.school_id), "PayoutIssued")}
    assert set(payouts) == {"stf-1", "stf-2"}
    assert (payouts["stf-1"]["sessions_delivered"], payouts["stf-1"]["amount_fen"]) == (5, 5 * 6000 + 2 * 3000)
    assert (payouts["stf-2"]["extended_care_sessions"], payouts["stf-2"]["amount_fen"]) == (2, 2 * 3000)
    assert summary.payouts == 2


async def test_a_programme_without_an_approved_schedule_is_not_charged_at_all(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, False)})
    await attend(consumer, school, 1, DAYS[:10])

    summary = await settle(uow_factory, school)

    assert summary.statements == 0 and "no approved fee schedule" in summary.skipped[0]
    assert payloads(await published(billing_db, school.school_id), "FeeCharged") == []


async def test_a_gate_systems_check_in_counts_as_attendance_but_is_no_session_run_by_staff(consumer, uow_factory,
                                                                                           billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    async with uow_factory() as uow:
        await s.record_distribution_plan(uow, s.RecordDistributionPlan(
            school_id=school.school_id, per_session_fen=6000, extended_care_per_session_fen=0, approval_ref="jdh-1",
            approved_on=date(2025, 8, 30), effective_from=date(2025, 9, 1), paid_from_account="acct-main"),
            PRINCIPAL, NOW)
        await district_approves_the_plans(uow, school)
        await uow.commit()
    gate = school.check_in(1, DAYS[0], staff="gate-07")
    await consumer.process([record(gate.model_copy(update={"checked_in_by_role": "school_system",
                                                           "source": "school_system"}))])

    await settle(uow_factory, school)

    events = await published(billing_db, school.school_id)
    assert [ch["quantity"] for ch in payloads(events, "FeeCharged")] == [1]
    assert payloads(events, "PayoutIssued") == []


async def test_a_settlement_run_records_when_it_finished_by_the_injected_clock(consumer, uow_factory, billing_db) -> None:
    school = School()
    await enroll(consumer, school, {1: (False, False)})
    await approve_schedule(uow_factory, school)
    finished = NOW + timedelta(minutes=7)
    await settle_school_month(uow_factory, school_id=school.school_id, period="2025-09", actor=PRINCIPAL, now=NOW,
                              clock=lambda: finished)

    async with billing_db.engine.connect() as conn:
        runs = (await conn.execute(text("select status, started_at, finished_at from settlement_runs where school_id = :s"),
                                   {"s": school.school_id})).all()
    assert [(r.status, r.started_at, r.finished_at) for r in runs] == [("done", NOW, finished)]
