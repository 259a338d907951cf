"""The same commands on the fake unit of work and on PostgreSQL: the repository methods billing's
command handlers rely on must answer alike, or the fast handler tests prove nothing (R10, R16, R19, R24)."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.billing.domain import DomainError
from services.billing.handlers.common import Actor
from services.billing.handlers.money import GrantSubsidy, RecordExpense, grant_subsidy, record_expense
from services.billing.handlers.schedules import RecordDistributionPlan, record_distribution_plan, set_fee_cap
from tests.unit.billing.builders import unique
from tests.unit.billing.conftest import published
from tests.unit.billing.fakes import FakeBillingStore

NOW = datetime(2025, 9, 30, 6, 0, tzinfo=UTC)
SCHOOL = Actor("stf-1", "principal")
DISTRICT = Actor("edu-1", "district_officer")


async def run_cases(factory, school_id: str) -> dict:
    out: dict = {}
    subsidy = GrantSubsidy("czj-1", school_id, 120000, "utilities", "2025-09", "acct-main")
    async with factory() as uow:
        with pytest.raises(DomainError) as unknown:
            await grant_subsidy(uow, subsidy, DISTRICT, NOW)
        out["unknown_school"] = unknown.value.status
    async with factory() as uow:
        await uow.remember_school(school_id, "dst-1")
        await uow.commit()
    async with factory() as uow:
        await uow.remember_school(school_id, None)  # a later event without a district keeps the one known
        await uow.commit()
    granted = []
    for _ in range(2):
        async with factory() as uow:
            row, created = await grant_subsidy(uow, subsidy, DISTRICT, NOW)
            granted.append((row.subsidy_id, row.district_id, row.amount_fen, created))
    out["granted"] = granted
    async with factory() as uow:
        with pytest.raises(DomainError) as changed:
            await grant_subsidy(uow, GrantSubsidy("czj-1", school_id, 1, "utilities", "2025-09", "acct-main"), DISTRICT, NOW)
        out["changed_subsidy"] = changed.value.status
    expense = RecordExpense("v-1", school_id, "group_accident_insurance", 30000, "保险公司", "团体意外险",
                            date(2025, 9, 29), "acct-main")
    outcomes = []
    for cmd in (expense, expense, RecordExpense("v-2", school_id, "management_fee", 50000, "学校", "提取管理费",
                                                date(2025, 9, 29), "acct-main")):
        async with factory() as uow:
            outcome = await record_expense(uow, cmd, SCHOOL, NOW)
            outcomes.append((outcome.created, outcome.expense is None, outcome.refusal is not None))
    out["expenses"] = outcomes
    for cap in (2000, 1800):
        async with factory() as uow:
            await set_fee_cap(uow, f"school:{school_id}", cap, DISTRICT, NOW)  # a command commits
    async with factory() as uow:  # a row staged and left without commit
        row = await uow.cap_row(f"school:{school_id}")
        row.cap_per_session_fen = 1
        uow.add(row)
    plan = RecordDistributionPlan(school_id=school_id, per_session_fen=6000, extended_care_per_session_fen=3000,
                                  approval_ref="jdh-1", approved_on=date(2025, 8, 30), effective_from=date(2025, 9, 1),
                                  paid_from_account="acct-main")
    recorded = []
    for _ in range(2):
        async with factory() as uow:
            row, created = await record_distribution_plan(uow, plan, SCHOOL, NOW)
            recorded.append((row.plan_id, row.district_id, row.review_status, created))
    out["plans"] = recorded
    async with factory() as uow:
        out["plan_missing"] = await uow.plan_row("dpl-none")
        out["cap"] = await uow.cap(f"school:{school_id}")
        out["no_cap"] = await uow.cap(f"school:{school_id}-none")
        out["journal"] = await uow.journal_lines(school_id, date(2025, 9, 1), date(2025, 9, 30))
        out["district"] = await uow.district_of(school_id)
    return out


async def test_the_fake_and_postgresql_units_of_work_answer_alike(uow_factory, billing_db) -> None:
    store = FakeBillingStore()
    school = unique("sch-uow")

    fake = await run_cases(store.uow, school)
    real = await run_cases(uow_factory, school)

    assert fake == real
    assert fake["unknown_school"] == 404 and fake["changed_subsidy"] == 409
    assert [g[3] for g in fake["granted"]] == [True, False] and fake["granted"][0][1] == "dst-1"
    assert fake["expenses"] == [(True, False, False), (False, False, False), (False, True, True)]
    assert fake["cap"] == 1800 and fake["no_cap"] is None and fake["district"] == "dst-1"
    assert sum(amount for *_, amount in fake["journal"]) == 150000
    assert [p[1:] for p in fake["plans"]] == [("dst-1", "proposed", True), ("dst-1", "proposed", False)]
    assert fake["plan_missing"] is None
    assert store.types(school) == [t for t, _, _ in await published(billing_db, school)] == [
        "SubsidyGranted", "ExpenseRecorded", "DistributionPlanRecorded"]
