"""Recording a school's labour-fee distribution plan (劳务费分配方案, R20) publishes it once, so the audit
service can judge payouts against it (R25); a repeat publishes nothing, other rates are refused."""
from __future__ import annotations

from datetime import date

import pytest

from services.billing.domain import DomainError
from services.billing.handlers import schedules as s
from tests.unit.billing.builders import School
from tests.unit.billing.fakes import FakeBillingStore
from tests.unit.billing.flows import NOW, PRINCIPAL


def _plan(school: School, per_session_fen: int = 6000) -> s.RecordDistributionPlan:
    return s.RecordDistributionPlan(
        school_id=school.school_id, per_session_fen=per_session_fen, extended_care_per_session_fen=3000,
        approval_ref="jdh-2025-3", approved_on=date(2025, 8, 30), effective_from=date(2025, 9, 1),
        paid_from_account="acct-main")


async def test_recording_a_plan_publishes_distribution_plan_recorded_once() -> None:
    store, school = FakeBillingStore(), School()
    for _ in range(2):  # the same plan recorded again is not a second plan
        async with store.uow() as uow:
            await s.record_distribution_plan(uow, _plan(school), PRINCIPAL, NOW)

    (plan,) = store.payloads(school.school_id, "DistributionPlanRecorded")
    assert (plan["per_session_fen"], plan["extended_care_per_session_fen"]) == (6000, 3000)
    assert (plan["approval_ref"], plan["approved_on"], plan["effective_from"]) == (
        "jdh-2025-3", "2025-08-30", "2025-09-01")
    assert (plan["paid_from_account"], plan["recorded_by"], plan["recorded_by_role"]) == (
        "acct-main", PRINCIPAL.subject, PRINCIPAL.role)
    assert plan["plan_id"].startswith("dpl-")


async def test_other_rates_under_a_recorded_plan_are_refused_and_publish_nothing() -> None:
    store, school = FakeBillingStore(), School()
    async with store.uow() as uow:
        await s.record_distribution_plan(uow, _plan(school), PRINCIPAL, NOW)
    async with store.uow() as uow:
        with pytest.raises(DomainError) as refused:
            await s.record_distribution_plan(uow, _plan(school, per_session_fen=9000), PRINCIPAL, NOW)
    assert refused.value.status == 409

    assert [p["per_session_fen"] for p in store.payloads(school.school_id, "DistributionPlanRecorded")] == [6000]
