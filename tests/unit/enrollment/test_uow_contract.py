"""One scenario through the use cases on the fake unit of work and on PostgreSQL: the repository
methods the handlers rely on must answer the same, or the fast handler tests prove nothing."""
from __future__ import annotations

from datetime import date

import pytest

from services.enrollment import handlers as h
from services.enrollment.domain import Actor, ProgrammeSpec
from services.enrollment.handlers import coercion, pickups
from tests.unit.enrollment.builders import World, seed
from tests.unit.enrollment.conftest import outbox_events
from tests.unit.enrollment.fakes import FakeStore


async def scenario(uow_factory, w: World) -> dict:
    """Publish a 2-place programme, four applications approved, one withdrawn, one filed; then ask
    every repository question the handlers ask."""
    principal = Actor(w.principal, "school", school_id=w.school)
    officer = Actor(w.officer, "district", district_id=w.district)
    await seed(uow_factory, w)
    async with uow_factory() as uow:
        await h.save_programme(uow, principal, h.SaveProgramme(w.programme, ProgrammeSpec.model_validate(w.programme_spec())))
    async with uow_factory() as uow:
        await h.record_fee_agreement(uow, principal, w.programme, agreed_on=date.today(), reference="纪要")
    async with uow_factory() as uow:
        await h.review_fees(uow, officer, w.programme, decision="approved", note="同意")
    async with uow_factory() as uow:
        await h.publish_programme(uow, principal, w.programme)
    ids = []
    for i in range(4):
        async with uow_factory() as uow:
            row, _ = await h.submit_application(uow, Actor(w.guardians[i], "guardian"), h.SubmitApplication(
                idempotency_key=f"c{i}", programme_id=w.programme, student_id=w.students[i],
                guardian_id=w.guardians[i], consent=True))
            ids.append(row.application_id)
    for app_id in ids:
        async with uow_factory() as uow:
            await h.approve_application(uow, principal, app_id)
    async with uow_factory() as uow:
        await h.withdraw_application(uow, Actor(w.guardians[0], "guardian"), ids[0])
    for command, actor in ((h.report_application, principal), (h.file_application, officer)):
        async with uow_factory() as uow:
            await command(uow, actor, ids[1])
    index = {app_id: i for i, app_id in enumerate(ids)}
    async with uow_factory() as uow:
        return {
            "statuses": [(await uow.application(a)).status for a in ids],
            "places_taken": await uow.places_taken(w.programme),
            "waitlist": [index[a.application_id] for a in await uow.waitlist(w.programme)],
            "active": [bool(await uow.active_application(s, w.programme)) for s in w.students],
            "by_key": index[(await uow.application_by_key(f"{w.guardians[2]}:c2")).application_id],
            "term": (await uow.programme_for_term(w.school, "2026-spring")).programme_id == w.programme,
            "admitted": sorted(await uow.admitted_staff(w.school)),
            "guardians_of": await uow.guardians_of(w.students[3]),
            "missing": await uow.application("app-none"),
        }


async def test_the_fake_and_postgresql_units_of_work_behave_alike(runtime, prefix) -> None:
    store = FakeStore()
    w_fake, w_pg = World(prefix, capacity=2), World(prefix + "pg", capacity=2)

    fake = await scenario(store.uow, w_fake)
    real = await scenario(runtime.uow_factory, w_pg)

    assert fake["statuses"] == real["statuses"] == ["withdrawn", "filed", "approved", "waitlisted"]
    for key in ("places_taken", "waitlist", "active", "by_key", "term", "missing"):
        assert fake[key] == real[key], key
    assert [s.replace(prefix, "") for s in fake["admitted"]] == [s.replace(prefix + "pg", "") for s in real["admitted"]]
    assert fake["guardians_of"] == [w_fake.guardians[3]] and real["guardians_of"] == [w_pg.guardians[3]]

    keys = {w_pg.school, *w_pg.students}
    real_types = [e["type"] for e in await outbox_events(runtime) if e["key"] in keys]
    assert store.types() == real_types
    assert real_types.count("ApplicationApproved") == 3  # two at once, one promoted when a place freed


@pytest.mark.parametrize("kind", ["fake", "postgres"])
async def test_a_unit_of_work_left_without_commit_changes_nothing(kind, runtime, prefix) -> None:
    factory = FakeStore().uow if kind == "fake" else runtime.uow_factory
    w = World(prefix)
    await seed(factory, w)
    async with factory() as uow:
        row = await uow.student(w.students[0])
        row.name = "改名"
        uow.add(row)
    async with factory() as uow:
        assert (await uow.student(w.students[0])).name == "学生0"


async def reports_and_pickups(uow_factory, w: World) -> dict:
    """Two coercion reports (one resent) and a pickup person named, revoked, revoked again and looked for
    under another student: what the reports read says and what each revocation returns (R1, R11)."""
    await seed(uow_factory, w)
    gdn, other = Actor(w.guardians[0], "guardian"), Actor(w.guardians[1], "guardian")
    report = {"school_id": w.school, "programme_id": None, "what_happened": "老师说必须报名，电话 13900001234"}
    results = []
    for actor, key, day in ((gdn, "r1", date(2026, 3, 2)), (other, "r2", date(2026, 3, 1)), (gdn, "r1", date(2026, 3, 2))):
        async with uow_factory() as uow:
            event, new = await coercion.report_coercion(uow, actor, report_key=key, happened_on=day, **report)
            results.append((event.report_id, new))
    async with uow_factory() as uow:
        named = await pickups.authorise_pickup(uow, gdn, w.students[0], name="外婆", relation="grandparent",
                                         phone="13912345678", valid_until=date(2099, 1, 1))
    revoked = []
    for _ in range(2):
        async with uow_factory() as uow:
            revoked.append(await pickups.revoke_pickup(uow, gdn, w.students[0], named.pickup_person_id))
    async with uow_factory() as uow:
        elsewhere = await uow.revoke_pickup_person(w.students[1], named.pickup_person_id, revoked[0].decided_at)
        read = await coercion.coercion_reports(uow, Actor(w.officer, "district", district_id=w.district), w.school)
    return {"new": [new for _, new in results], "same_id": results[0][0] == results[2][0],
            "read": [(r.report_id, r.happened_on, r.what_happened) for r in read],
            "first": results[0][0],
            "revoked": [(r.name, r.relation, r.phone_masked, r.valid_until, r.student_id) for r in revoked],
            "elsewhere": elsewhere}


async def test_reports_and_pickup_persons_read_alike_on_the_fake_and_postgresql(runtime, prefix) -> None:
    fake = await reports_and_pickups(FakeStore().uow, World(prefix + "f"))
    real = await reports_and_pickups(runtime.uow_factory, World(prefix + "r"))

    assert fake["new"] == real["new"] == [True, True, False]
    assert fake["same_id"] and real["same_id"]
    for result in (fake, real):
        assert [day for _, day, _ in result["read"]] == [date(2026, 3, 2), date(2026, 3, 1)]  # in reporting order
        assert result["read"][0][0] == result["first"] and "13900001234" not in result["read"][0][2]
        assert result["elsewhere"] is None
    assert fake["revoked"][0][:4] == real["revoked"][0][:4] == ("外婆", "grandparent", "139****5678", date(2099, 1, 1))
    assert fake["revoked"][1][:4] == real["revoked"][1][:4]  # revoking twice answers the same person
