"""Each anti-misappropriation rule (R9, R17-R21, R24, R25), fed its violating events through the
consumer into a real ledger, raises exactly one AnomalyDetected with evidence; clean books raise none."""
from __future__ import annotations

from datetime import date, timedelta

from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import DAY, School, at, envelope


async def _ready_school(ledger: TestLedger, tag: str) -> tuple[School, str]:
    """A school with an approved, disclosed standard, its account known, its labour-fee plan recorded,
    one enrolled student who attended today's session: nothing here is wrong."""
    school = School(tag)
    student = school.student()
    await ledger.feed(school.schedule(), school.programme(), school.plan(), school.subsidy(), school.enrollment(student),
                      school.check_in(student, DAY))
    return school, student


async def _only(ledger: TestLedger, school: School, check: str) -> dict:
    await ledger.settle()
    found = await ledger.anomalies(school.school_id)
    assert [a["check"] for a in found] == [check], found
    return found[0]


async def test_a_month_of_clean_fee_records_raises_no_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "ok")
    charge = school.charge(student)
    await ledger.feed(charge, school.payment(student, 1500), school.settlement(student, 1500),
                      school.payout(sessions=1, amount=1500), school.expense(), school.refund(student, 100))
    await ledger.settle()
    assert await ledger.anomalies(school.school_id) == []


async def test_a_charge_to_a_student_never_enrolled_raises_one_anomaly(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "une")
    stranger = school.student()
    await ledger.feed(school.check_in(stranger, DAY), school.charge(stranger))
    found = await _only(ledger, school, "charge_to_unenrolled")
    assert found["student_id"] == stranger and found["amount_fen"] == 1500
    assert found["ledger_indexes"] and found["ledger_tree_size"] > found["ledger_indexes"][0]


async def test_a_charge_after_withdrawal_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "wdr")
    await ledger.feed(school.withdrawal(student, DAY - timedelta(days=1)), school.charge(student))
    found = await _only(ledger, school, "charge_to_unenrolled")
    assert found["evidence"]["withdrawn_on"] == (DAY - timedelta(days=1)).isoformat()


async def test_a_charge_to_a_hardship_student_raises_one_anomaly_unless_it_is_waived(ledger: TestLedger) -> None:
    school = School("hdp")
    waived_student, charged_student = school.student(), school.student()
    await ledger.feed(school.schedule(), school.programme(), school.subsidy(),
                      school.enrollment(waived_student, hardship=True), school.enrollment(charged_student, hardship=True),
                      school.check_in(waived_student), school.check_in(charged_student))
    waived = school.charge(waived_student)
    await ledger.feed(waived, school.waiver(waived_student, waived.charge_id, waived.amount_fen),
                      school.charge(charged_student))
    found = await _only(ledger, school, "charge_to_exempt")
    assert found["student_id"] == charged_student and found["severity"] == "critical"


async def test_a_charge_above_the_approved_standard_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "abv")
    await ledger.feed(school.charge(student, unit_fen=2000))
    found = await _only(ledger, school, "charge_above_standard")
    assert found["evidence"]["unit_price_fen"] == 2000 and found["evidence"]["standard_fen"] == 1500
    assert found["amount_fen"] == 500


async def test_a_charge_for_an_item_outside_the_standard_raises_one_anomaly(ledger: TestLedger) -> None:
    school = School("itm")
    student = school.student()
    only_sessions = school.schedule(items=[{"category": "session", "amount_fen": 1500, "unit": "per_session"}])
    await ledger.feed(only_sessions, school.programme(), school.subsidy(), school.enrollment(student),
                      school.check_in(student))
    await ledger.feed(school.charge(student, unit_fen=800, category="extended_care"))
    found = await _only(ledger, school, "charge_above_standard")
    assert found["evidence"]["category"] == "extended_care" and "not an item" in found["detail"]


async def test_a_charge_for_a_session_that_was_never_held_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "nss")
    empty_day = DAY - timedelta(days=1) if DAY.day > 1 else DAY + timedelta(days=1)
    await ledger.feed(school.charge(student, days=[DAY, empty_day]))
    found = await _only(ledger, school, "charge_without_session")
    assert found["evidence"]["first_day_without_session"] == empty_day.isoformat()
    assert found["amount_fen"] == 1500


async def test_a_payment_into_an_account_that_is_not_the_schools_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "acc")
    await ledger.feed(school.charge(student), school.payment(student, 1500, deposited_to_account="acct-private-9"))
    found = await _only(ledger, school, "income_not_deposited")
    assert found["evidence"]["deposited_to_account"] == "acct-private-9"


async def test_a_settlement_claiming_more_paid_than_deposited_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "wth")
    await ledger.feed(school.charge(student, days=[DAY], quantity=1), school.payment(student, 1000),
                      school.settlement(student, paid=1500))
    found = await _only(ledger, school, "income_not_deposited")
    assert found["amount_fen"] == 500 and found["evidence"]["shortfall_fen"] == 500


async def test_spending_booked_outside_the_permitted_categories_raises_one_anomaly(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "out")
    # Recorded as extra-hours operating cost, but the money went to the subsidy account's side instead.
    misbooked = school.expense(30000, "extra_hours_operating", payee="某文具店", details="加班耗材",
                               postings=[{"debit": "government_subsidy", "credit": "bank", "amount_fen": 30000}])
    await ledger.feed(misbooked)
    found = await _only(ledger, school, "spending_outside_categories")
    assert found["evidence"]["accounts"] == "government_subsidy" and found["amount_fen"] == 30000


async def test_a_management_fee_raises_one_anomaly_and_not_also_outside_spending(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "mgt")
    await ledger.feed(school.expense(90000, "extra_hours_operating", payee="某区教育局", details="提取10%管理费"))
    found = await _only(ledger, school, "management_fee")
    assert found["severity"] == "critical" and "管理费" in found["evidence"]["details"]


async def test_a_payout_for_sessions_nobody_ran_raises_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "pyo")
    await ledger.feed(school.check_in(student, DAY, staff="stf-real"), school.payout(staff="stf-real", sessions=5,
                                                                                    amount=7500))
    found = await _only(ledger, school, "payout_not_per_plan")
    assert found["evidence"]["sessions_delivered"] == 5 and found["evidence"]["sessions_run"] == 1
    assert found["amount_fen"] == 6000


async def test_a_labour_fee_paid_per_the_plan_raises_no_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "ppl")
    await ledger.feed(school.check_in(student, DAY, staff="stf-care"),
                      school.payout(sessions=1, amount=1500),
                      school.payout(staff="stf-care", sessions=1, amount=1500 + 800, extended_care_sessions=1))
    await ledger.settle()
    assert await ledger.anomalies(school.school_id) == []


async def test_a_labour_fee_above_the_plan_raises_one_anomaly(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "pab")
    await ledger.feed(school.payout(sessions=1, amount=2000))
    found = await _only(ledger, school, "payout_not_per_plan")
    assert (found["evidence"]["expected_fen"], found["evidence"]["amount_fen"]) == (1500, 2000)
    assert (found["evidence"]["per_session_fen"], found["evidence"]["extended_care_per_session_fen"]) == (1500, 800)
    assert found["amount_fen"] == 500 and "pays 1500 fen" in found["detail"]


async def test_a_labour_fee_naming_a_plan_never_recorded_raises_one_anomaly(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "pun")
    await ledger.feed(school.payout(sessions=1, amount=1500, distribution_plan_id=f"dpl-forged-{school.school_id}"))
    found = await _only(ledger, school, "payout_not_per_plan")
    assert found["evidence"]["plan_recorded"] is False and found["evidence"]["expected_fen"] is None
    assert found["amount_fen"] == 1500 and "never recorded" in found["detail"]


async def test_a_labour_fee_under_another_schools_plan_raises_one_anomaly(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "pot")
    other = School("pot-other")
    await ledger.feed(other.plan(), school.payout(sessions=1, amount=1500, distribution_plan_id=other.plan_id))
    found = await _only(ledger, school, "payout_not_per_plan")
    assert found["evidence"]["plan_recorded"] is False


async def test_a_redelivered_payout_off_the_plan_raises_nothing_more(ledger: TestLedger) -> None:
    school, _ = await _ready_school(ledger, "prp")
    plan, bad = envelope(school.plan()), envelope(school.payout(sessions=1, amount=4000))
    await ledger.feed(plan, bad)
    await ledger.settle()
    await ledger.feed(bad, plan, bad)
    await ledger.settle()
    await ledger.check(at(DAY + timedelta(days=1)))
    assert [a["check"] for a in await ledger.anomalies(school.school_id)] == ["payout_not_per_plan"]


async def test_postings_that_do_not_book_the_cash_an_event_moved_raise_one_anomaly(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "bks")
    short = school.payment(student, 30000, postings=[{"debit": "bank", "credit": "parent_receivables",
                                                      "amount_fen": 25000}])
    await ledger.feed(short)
    found = await _only(ledger, school, "books_unbalanced")
    assert found["evidence"]["bank_fen"] == found["evidence"]["cash_fen"] - 5000
    assert found["ledger_tree_size"] == found["evidence"]["checkpoint_size"]


async def test_a_period_that_passed_without_disclosure_raises_one_anomaly(ledger: TestLedger) -> None:
    school = School("dsc")
    disclosed = School("dsk")
    long_ago = date(2024, 2, 10)
    for s in (school, disclosed):
        await ledger.feed(s.subsidy(day=long_ago), s.expense(1000, spent_on=long_ago.isoformat()))
    await ledger.feed(disclosed.disclosure(date(2024, 1, 1), date(2024, 3, 31)))
    found = await _only(ledger, school, "disclosure_missing")
    assert found["evidence"]["period"] == "2024-Q1" and found["evidence"]["due_on"] == "2024-04-30"
    assert await ledger.anomalies(disclosed.school_id) == []
    await ledger.check()
    assert len(await ledger.anomalies(school.school_id)) == 1


async def test_one_event_id_with_a_different_body_is_refused_and_reported_once(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "dup")
    first = envelope(school.payment(student, 1500))
    forged_payload = {**first.payload, "amount_fen": 150, "postings": [
        {"debit": "bank", "credit": "parent_receivables", "amount_fen": 150}]}
    forged = first.model_copy(update={"payload": forged_payload})
    await ledger.feed(first)
    await ledger.feed(first, forged)
    await ledger.feed(forged)
    found = await _only(ledger, school, "conflicting_duplicate")
    async with ledger.uow() as uow:
        recorded = await uow.recorded(first.event_id)
        refused = await uow.conflicts_of(first.event_id)
    assert recorded is not None and b'"amount_fen":1500' in recorded[3]
    assert len(refused) == 1 and b'"amount_fen":150,' in refused[0]
    assert found["subject_event_ids"] == [str(first.event_id)] and found["ledger_indexes"] == [recorded[0]]


async def test_anomalies_are_published_as_version_1_where_version_1_can_name_the_check(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "ver")
    first = envelope(school.charge(student, unit_fen=9000))
    forged = first.model_copy(update={"payload": {**first.payload, "unit_price_fen": 1}})
    await ledger.feed(first)
    await ledger.feed(forged)
    await ledger.settle()
    versions = {e["payload"]["check"]: e["version"] for e in await ledger.published("AnomalyDetected", school.school_id)}
    assert versions == {"charge_above_standard": 1, "conflicting_duplicate": 2}


async def test_redelivered_violations_and_repeated_checks_raise_nothing_more(ledger: TestLedger) -> None:
    school, student = await _ready_school(ledger, "rpt")
    bad = envelope(school.charge(student, unit_fen=2500))
    await ledger.feed(bad)
    await ledger.settle()
    await ledger.feed(bad, bad)
    await ledger.settle()
    await ledger.check(at(DAY + timedelta(days=1)))
    assert [a["check"] for a in await ledger.anomalies(school.school_id)] == ["charge_above_standard"]
