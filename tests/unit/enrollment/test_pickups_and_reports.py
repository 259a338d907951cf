"""Pickup persons (R11) and coercion reports (R1) on the fake unit of work: who may name, revoke and
read them, and what is published; the contract test proves the fake answers as PostgreSQL does."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.enrollment.domain import Actor, DomainError, Forbidden, NotFound
from services.enrollment.handlers import coercion, pickups
from shared.time import utc_now
from tests.unit.enrollment.builders import World, seed
from tests.unit.enrollment.fakes import FakeStore

LATER = date(2099, 1, 1)


@pytest.fixture
async def world() -> tuple[FakeStore, World]:
    store, w = FakeStore(), World("pk", students=2)
    await seed(store.uow, w)
    return store, w


async def name_grandmother(store: FakeStore, w: World, **changes):
    args = {"name": "外婆", "relation": "grandparent", "phone": "13912345678", "valid_until": LATER, **changes}
    async with store.uow() as uow:
        return await pickups.authorise_pickup(uow, Actor(w.guardians[0], "guardian"), w.students[0], **args)


async def test_a_guardian_names_a_pickup_person_with_a_masked_phone_and_revokes_them(world) -> None:
    store, w = world
    named = await name_grandmother(store, w)
    async with store.uow() as uow:
        revoked = await pickups.revoke_pickup(uow, Actor(w.guardians[0], "guardian"), w.students[0],
                                              named.pickup_person_id)

    assert named.phone_masked == revoked.phone_masked == "139****5678"
    assert (revoked.pickup_person_id, revoked.name, revoked.valid_until) == (named.pickup_person_id, "外婆", LATER)
    assert store.types() == ["PickupPersonAuthorised", "PickupPersonRevoked"]
    assert "13912345678" not in repr(store.events)


async def test_only_the_childs_guardian_names_a_pickup_person_and_only_until_a_day_to_come(world) -> None:
    store, w = world
    async with store.uow() as uow:
        with pytest.raises(Forbidden):
            await pickups.authorise_pickup(uow, Actor(w.guardians[1], "guardian"), w.students[0], name="邻居",
                                           relation="neighbour", phone="13900000000", valid_until=LATER)
    with pytest.raises(DomainError):
        await name_grandmother(store, w, valid_until=utc_now().date() - timedelta(days=1))
    assert store.types() == []


async def test_revoking_a_person_the_student_does_not_have_is_not_found(world) -> None:
    store, w = world
    named = await name_grandmother(store, w)
    async with store.uow() as uow:
        with pytest.raises(NotFound):
            await pickups.revoke_pickup(uow, Actor(w.guardians[1], "guardian"), w.students[1], named.pickup_person_id)
    assert store.types() == ["PickupPersonAuthorised"]


async def test_a_resent_coercion_report_is_the_same_report_and_the_school_may_not_read_them(world) -> None:
    store, w = world
    report = {"report_key": "k-1", "school_id": w.school, "programme_id": None, "what_happened": "被要求报名",
              "happened_on": date(2026, 3, 2)}
    results = []
    for _ in range(2):
        async with store.uow() as uow:
            results.append(await coercion.report_coercion(uow, Actor(w.guardians[0], "guardian"), **report))
    async with store.uow() as uow:
        with pytest.raises(Forbidden):
            await coercion.coercion_reports(uow, Actor(w.principal, "school", school_id=w.school), w.school)
        read = await coercion.coercion_reports(uow, Actor(w.officer, "district", district_id=w.district), w.school)

    assert [new for _, new in results] == [True, False] and results[0][0] == results[1][0]
    assert read == [results[0][0]] and w.guardians[0] not in repr(read)  # R1: the report names nobody
    assert store.types() == ["CoercionReported"]


async def test_the_handler_judges_by_the_clock_it_is_given(world) -> None:
    store, w = world
    in_2030 = datetime(2030, 6, 1, 8, tzinfo=UTC)
    with pytest.raises(DomainError):  # before the clock's day: refused, though after the machine's
        await name_grandmother(store, w, valid_until=date(2030, 5, 31), clock=lambda: in_2030)
    named = await name_grandmother(store, w, valid_until=date(2030, 6, 1), clock=lambda: in_2030)
    assert named.decided_at == in_2030
