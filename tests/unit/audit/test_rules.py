"""The rules as pure functions (R17-R21, R25): edges the database-backed tests do not reach."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.audit.domain import rules
from services.audit.ledger import books
from shared.contracts.registry import encode
from tests.unit.audit.money import DAY, School, envelope

EID = uuid.UUID(int=7)


@pytest.mark.parametrize("months, day, expected", [
    (1, date(2025, 9, 14), ("2025-09", date(2025, 9, 1), date(2025, 9, 30))),
    (3, date(2025, 11, 3), ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31))),
    (3, date(2024, 2, 29), ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31))),
    (6, date(2025, 7, 1), ("2025-H2", date(2025, 7, 1), date(2025, 12, 31))),
    (12, date(2025, 1, 1), ("2025", date(2025, 1, 1), date(2025, 12, 31))),
    (2, date(2025, 4, 30), ("2025-P2of6", date(2025, 3, 1), date(2025, 4, 30))),
])
def test_disclosure_periods_have_names_and_bounds(months: int, day: date, expected: tuple) -> None:
    assert rules.disclosure_period(day, months) == expected


def test_a_period_is_covered_only_when_disclosures_leave_no_day_out() -> None:
    q3 = (date(2025, 7, 1), date(2025, 9, 30))
    assert rules.covered(*q3, [(date(2025, 7, 1), date(2025, 9, 30))])
    assert rules.covered(*q3, [(date(2025, 8, 1), date(2025, 9, 30)), (date(2025, 6, 1), date(2025, 7, 31))])
    assert not rules.covered(*q3, [(date(2025, 7, 1), date(2025, 8, 30)), (date(2025, 9, 1), date(2025, 9, 30))])
    assert not rules.covered(*q3, [])


def _charge_facts(**kw) -> tuple[School, rules.ChargeFacts]:
    school = School("r")
    standard = rules.FeeStandard(school.schedule_id, school.school_id, school.programme_id,
                                 {"session": (1500, "per_session")})
    base = dict(enrollment=rules.Enrollment(school.school_id, False), standard=standard, programme=None,
                sessions_held=frozenset({DAY}))
    return school, rules.ChargeFacts(**{**base, **kw})


def test_a_charge_above_the_disclosed_fee_is_reported_even_within_the_approved_standard() -> None:
    school, facts = _charge_facts()
    facts = rules.ChargeFacts(facts.enrollment, facts.standard, rules.DisclosedProgramme(school.school_id, 1200, 800),
                              facts.sessions_held)
    (finding,) = rules.check_charge(3, EID, school.charge("stu-1", unit_fen=1500), facts)
    assert finding.check == "charge_above_standard" and finding.evidence["disclosed_fen"] == 1200
    assert finding.amount_fen == 300


def test_charging_more_sessions_than_it_lists_is_a_charge_without_session() -> None:
    school, facts = _charge_facts()
    (finding,) = rules.check_charge(3, EID, school.charge("stu-1", days=[DAY], quantity=3), facts)
    assert finding.check == "charge_without_session" and finding.amount_fen == 3000


def test_an_advance_charge_without_session_dates_is_not_judged_on_sessions() -> None:
    school, facts = _charge_facts(sessions_held=frozenset())
    assert rules.check_charge(3, EID, school.charge("stu-1", days=[], quantity=20), facts) == []


def _entry(event) -> books.Entry:
    return books.read_entry(encode(envelope(event)))


def test_a_refund_may_go_back_to_families_but_not_to_staff() -> None:
    school = School("r")
    ok = school.refund("stu-1", 100)
    assert rules.check_spending(1, _entry(ok), ok, (school.school_id,)) == []
    to_staff = school.refund("stu-1", 100, postings=[{"debit": "staff_labour_fees", "credit": "bank", "amount_fen": 100}])
    (finding,) = rules.check_spending(1, _entry(to_staff), to_staff, (school.school_id,))
    assert finding.check == "spending_outside_categories"


def test_a_payout_to_the_school_itself_is_a_management_fee() -> None:
    school = School("r")
    payout = school.payout(staff=school.school_id, sessions=0)
    (finding,) = rules.check_spending(1, _entry(payout), payout, (school.school_id, school.district_id))
    assert finding.check == "management_fee"


def test_only_labour_fees_are_judged_against_sessions_run() -> None:
    school = School("r")
    plan = rules.LabourFeePlan(school.plan_id, school.school_id, 1500, 800)
    assert rules.check_payout(1, EID, school.payout(sessions=2), 2, plan) == []
    assert rules.check_payout(1, EID, school.payout(sessions=0, category="staff_subsidy"), 0, None) == []
    (finding,) = rules.check_payout(1, EID, school.payout(sessions=0, amount=800), 5, plan)
    assert "for no session at all" in finding.detail and finding.amount_fen == 800


def test_a_payout_only_for_extended_care_is_judged_on_the_care_sessions_supervised() -> None:
    school = School("r")
    plan = rules.LabourFeePlan(school.plan_id, school.school_id, 1500, 800)
    care_only = school.payout(sessions=0, amount=1600, extended_care_sessions=2)
    assert rules.check_payout(1, EID, care_only, 2, plan) == []
    (finding,) = rules.check_payout(1, EID, care_only, 1, plan)
    assert finding.evidence["sessions_run"] == 1 and finding.amount_fen == 800


def test_a_payout_off_the_plan_and_for_sessions_nobody_ran_is_one_finding_naming_both() -> None:
    school = School("r")
    plan = rules.LabourFeePlan(school.plan_id, school.school_id, 1500, 800)
    (finding,) = rules.check_payout(1, EID, school.payout(sessions=5, amount=9000), 1, plan)
    assert "attendance shows 1" in finding.detail and "pays 7500 fen" in finding.detail
    assert finding.evidence["expected_fen"] == 7500 and finding.amount_fen == 7200


def test_a_shortfall_is_reported_once_and_later_settlements_are_judged_on_new_money() -> None:
    school = School("r")
    cash = rules.StudentCash(deposited_fen=1000)
    assert len(rules.check_settlement(1, EID, school.settlement("stu-1", 1500), cash)) == 1
    cash.deposited_fen += 700
    assert rules.check_settlement(2, EID, school.settlement("stu-1", 700), cash) == []
