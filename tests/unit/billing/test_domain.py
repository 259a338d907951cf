"""Billing's pure rules: months as bit masks, schedule review (R2, R4, R10, R17, R18), which schedule
is in force on which day, the R19 spending rule and staff pay under the plan (R20)."""
from __future__ import annotations

from datetime import date

import pytest

from services.billing.domain import (
    ApprovedSchedule,
    DistributionPlan,
    FeeItem,
    days_in,
    effective_cap,
    expense_refusal,
    mask_from,
    mask_until,
    parse_period,
    payout_fen,
    plan_in_force,
    schedule_problems,
    spans_for,
)


def test_a_month_is_written_yyyy_mm_and_has_its_calendar_length() -> None:
    assert parse_period("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    for bad in ("2025-9", "2025-13", "25-09", "2025-09-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_period(bad)


def test_day_masks_cut_a_month_at_a_day() -> None:
    assert days_in(0b1011, "2025-09") == [date(2025, 9, 1), date(2025, 9, 2), date(2025, 9, 4)]
    assert days_in(mask_from(date(2025, 9, 29), "2025-09"), "2025-09") == [date(2025, 9, 29), date(2025, 9, 30)]
    assert mask_until(date(2025, 9, 3), "2025-09") == 0b11
    assert mask_until(date(2025, 8, 31), "2025-09") == 0 and mask_from(date(2025, 10, 1), "2025-09") == 0
    assert mask_until(None, "2025-09") == (1 << 30) - 1


def test_the_lower_of_the_city_and_district_caps_binds() -> None:
    assert effective_cap(3000, 2000) == 2000 and effective_cap(3000, None) == 3000 and effective_cap(None, None) is None


def test_a_schedule_is_refused_with_a_reason_for_each_problem() -> None:
    items = [FeeItem("session", 3500, "per_session"), FeeItem("extended_care", 900, "per_month"),
             FeeItem("session", 100, "per_session"), FeeItem("materials", 100, "per_session")]

    problems = schedule_problems(items, cap_fen=3000, disclosed_fen={"session": 1500, "extended_care": 800})

    assert any("above the cap of 3000" in p for p in problems)
    assert any("above the disclosed standard of 1500" in p for p in problems)
    assert any("per_session (R17)" in p for p in problems)
    assert any("a category may appear once" in p for p in problems)
    assert any("materials" in p and "R18" in p for p in problems)
    assert schedule_problems([FeeItem("session", 1500, "per_session")], cap_fen=3000,
                             disclosed_fen={"session": 1500}) == []
    assert schedule_problems([], cap_fen=None) == ["a fee schedule needs at least one item"]


def test_each_day_is_charged_under_the_schedule_in_force_that_day() -> None:
    term = ApprovedSchedule("fsc-term", date(2025, 8, 1), 1500, 800)
    revised = ApprovedSchedule("fsc-rev", date(2025, 9, 15), 1200, None)
    late = ApprovedSchedule("fsc-oct", date(2025, 10, 1), 1000, None)

    spans = spans_for("2025-09", [revised, late, term])

    assert [(s.schedule.fee_schedule_id, s.mask) for s in spans] == [
        ("fsc-term", (1 << 14) - 1), ("fsc-rev", ((1 << 30) - 1) & ~((1 << 14) - 1))]
    assert spans_for("2025-09", [late]) == []  # nothing approved yet: nothing chargeable (R18)


def test_spending_is_allowed_only_in_the_r19_categories() -> None:
    for allowed in ("staff_remuneration", "extra_hours_operating", "group_accident_insurance"):
        assert expense_refusal(allowed) is None
    for fee in ("management_fee", "Management Fee", "管理费", "school management"):
        assert "management fee" in expense_refusal(fee)
    assert "R19" in expense_refusal("banquet")


def test_staff_pay_follows_the_plan_in_force_and_the_sessions_run() -> None:
    old = DistributionPlan("dpl-1", date(2025, 3, 1), 5000, 2000)
    new = DistributionPlan("dpl-2", date(2025, 9, 1), 6000, 3000)

    assert plan_in_force([old, new], date(2025, 9, 30)) == new
    assert plan_in_force([old, new], date(2025, 8, 31)) == old
    assert plan_in_force([new], date(2025, 8, 31)) is None
    assert payout_fen(new, 18, 4) == 18 * 6000 + 4 * 3000 and payout_fen(new, 0, 0) == 0
    with pytest.raises(ValueError):
        payout_fen(new, -1, 0)
