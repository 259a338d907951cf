"""A school's fee schedule is reviewed by its own district (R10), whatever district the body names: a
school that billing knows is refused when it names another, so it can choose neither its reviewer nor
the cap, nor move itself into another district's sight (issue 15, mass assignment)."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.billing.domain import DomainError, FeeItem
from services.billing.handlers import schedules as s
from tests.unit.billing.flows import NOW, PRINCIPAL


def _cmd(school_id: str, district_id: str | None) -> s.SubmitFeeSchedule:
    return s.SubmitFeeSchedule(school_id=school_id, programme_id=f"prg-{school_id}",
                               items=(FeeItem("session", 1500, "per_session"),),
                               parents_committee_agreed_on=date(2025, 8, 15), parents_committee_ref="pc-1",
                               effective_from=date(2025, 9, 1), district_id=district_id)


async def test_a_known_school_naming_another_district_is_refused_and_stays_in_its_own(uow_factory) -> None:
    school = f"sch-rv-{uuid.uuid4().hex[:6]}"
    async with uow_factory() as uow:
        await uow.remember_school(school, "dst-own")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DomainError) as refused:
            await s.submit_fee_schedule(uow, _cmd(school, "dst-lenient"), PRINCIPAL, NOW, 3000)
    assert refused.value.reasons == [f"school {school} is in district dst-own, not dst-lenient"]
    async with uow_factory() as uow:
        assert await uow.district_of(school) == "dst-own"
        row, created = await s.submit_fee_schedule(uow, _cmd(school, None), PRINCIPAL, NOW, 3000)
    assert created and row.district_id == "dst-own"
