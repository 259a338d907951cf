"""The enrollment use cases on a fake unit of work: every rule of the issue, allowed and forbidden
(R1, R3, R4, R6-R10, R27, R28, R30), and that a repeated command changes nothing."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from cryptography.fernet import Fernet

from services.enrollment import handlers as h
from services.enrollment.domain import Actor, Conflict, DomainError, Forbidden, NotFound, ProgrammeSpec
from shared.privacy import Sealer
from tests.unit.enrollment.builders import World, seed
from tests.unit.enrollment.fakes import FakeStore


@pytest.fixture
async def world() -> tuple[FakeStore, World]:
    store, w = FakeStore(), World("fk", students=4, capacity=2)
    await seed(store.uow, w)
    return store, w


def school(w: World) -> Actor:
    return Actor(w.principal, "school", school_id=w.school)


def district(w: World) -> Actor:
    return Actor(w.officer, "district", district_id=w.district)


def guardian(w: World, i: int) -> Actor:
    return Actor(w.guardians[i], "guardian")


def spec(w: World, **changes) -> ProgrammeSpec:
    return ProgrammeSpec.model_validate(w.programme_spec(**changes))


async def save(store: FakeStore, w: World, **changes):
    async with store.uow() as uow:
        return await h.save_programme(uow, school(w), h.SaveProgramme(w.programme, spec(w, **changes)))


async def open_programme(store: FakeStore, w: World, **changes) -> None:
    await save(store, w, **changes)
    async with store.uow() as uow:
        await h.record_fee_agreement(uow, school(w), w.programme, agreed_on=date.today(), reference="纪要")
    async with store.uow() as uow:
        await h.review_fees(uow, district(w), w.programme, decision="approved", note=None)
    async with store.uow() as uow:
        await h.publish_programme(uow, school(w), w.programme)


def application(w: World, i: int, **changes) -> h.SubmitApplication:
    return h.SubmitApplication(**{"idempotency_key": f"k{i}", "programme_id": w.programme,
                                  "student_id": w.students[i], "guardian_id": w.guardians[i], "consent": True,
                                  **changes})


async def apply(store: FakeStore, w: World, i: int, actor: Actor | None = None, **changes):
    async with store.uow() as uow:
        row, _ = await h.submit_application(uow, actor or guardian(w, i), application(w, i, **changes))
        return row


async def run(store: FakeStore, command, actor: Actor, application_id: str, **kw):
    async with store.uow() as uow:
        return await command(uow, actor, application_id, **kw)


def rules(exc: DomainError) -> set[str]:
    return {p.type for p in exc.problems}


# -- programmes (R3, R7, R8, R10, R28, R30) ------------------------------------------------------

async def test_a_valid_programme_is_saved_as_a_draft_without_announcing_anything(world) -> None:
    store, w = world
    row, created = await save(store, w)

    assert created and row.status == "draft" and row.off_work_local == "17:30"
    assert store.events == []


async def test_a_session_ending_before_the_local_off_work_time_is_refused(world) -> None:
    store, w = world
    with pytest.raises(DomainError) as caught:
        await save(store, w, sessions=[{"weekdays": ["mon"], "starts_at_local": "15:30", "ends_at_local": "16:30"}])

    assert rules(caught.value) == {"R8"}
    assert "16:30" in str(caught.value) and "17:30" in str(caught.value)


async def test_the_off_work_time_comes_from_the_district_when_it_sets_one(world) -> None:
    store, w = world
    async with store.uow() as uow:
        row = await uow.district(w.district)
        row.off_work_local = "18:00"
        uow.add(row)
        await uow.commit()

    with pytest.raises(DomainError, match="18:00"):
        await save(store, w)


async def test_a_programme_must_offer_extended_care_past_the_normal_session(world) -> None:
    store, w = world
    for until in (None, "17:00"):
        with pytest.raises(DomainError) as caught:
            await save(store, w, extended_care_until_local=until)
        assert rules(caught.value) == {"R8"} and "extended care" in str(caught.value)


@pytest.mark.parametrize("tier, name", [("collective_teaching", "数学"), ("classroom_teaching", "语文"),
                                        ("tutoring", "统一上新课"), ("extension", "集体授课（英语）")])
async def test_collective_classroom_teaching_is_not_an_allowed_activity(world, tier, name) -> None:
    store, w = world
    activity = {"activity_id": "act-x", "name": name, "tier": tier, "staff_ids": [w.teacher], "capacity": 40}
    with pytest.raises(DomainError) as caught:
        await save(store, w, activities=[activity])

    assert rules(caught.value) == {"R3"} and "collective classroom teaching" in str(caught.value)


async def test_an_unknown_tier_is_refused_naming_the_allowed_ones(world) -> None:
    store, w = world
    activity = {"activity_id": "act-x", "name": "棋类", "tier": "games", "staff_ids": [w.teacher], "capacity": 40}
    with pytest.raises(DomainError, match="homework_help, tutoring"):
        await save(store, w, activities=[activity])


async def test_only_admitted_staff_may_run_activities(world) -> None:
    store, w = world
    activity = {"activity_id": "act-x", "name": "篮球", "tier": "sports", "staff_ids": [w.coach], "capacity": 40}
    with pytest.raises(DomainError) as caught:
        await save(store, w, activities=[activity])
    assert rules(caught.value) == {"R28"} and w.coach in str(caught.value)

    async with store.uow() as uow:
        await h.set_admission(uow, district(w), w.coach, admission="admitted", checked_on=date.today())
    row, _ = await save(store, w, activities=[activity])
    assert row.spec["activities"][0]["staff_ids"] == [w.coach]


async def test_a_school_may_remove_staff_but_only_a_district_or_the_city_admits_them(world) -> None:
    store, w = world
    async with store.uow() as uow:
        with pytest.raises(Forbidden, match="R28"):
            await h.set_admission(uow, school(w), w.coach, admission="admitted", checked_on=None)
    async with store.uow() as uow:
        row = await h.set_admission(uow, school(w), w.teacher, admission="removed", checked_on=None)
    assert row.admission == "removed" and row.admission_changed_by == w.principal


async def test_every_admission_decision_is_published_for_attendance(world) -> None:
    # R28, issue 16: set_admission published nothing, so attendance never heard of a removal.
    store, w = world
    async with store.uow() as uow:
        await h.set_admission(uow, district(w), w.coach, admission="admitted", checked_on=date.today())
    async with store.uow() as uow:
        await h.set_admission(uow, district(w), w.coach, admission="removed", checked_on=None, reason="资质到期")
    async with store.uow() as uow:
        await h.set_admission(uow, district(w), w.coach, admission="removed", checked_on=None)
    changes = [e for e, _ in store.events if e.type_name == "StaffAdmissionChanged"]
    assert [(e.staff_id, e.admission, e.reason) for e in changes] == [(w.coach, "admitted", None), (w.coach, "removed", "资质到期")]
    assert changes[1].decided_by_role == "district_officer" and changes[1].school_id == w.school


async def test_every_problem_of_a_programme_is_reported_at_once(world) -> None:
    store, w = world
    with pytest.raises(DomainError) as caught:
        await save(store, w, extended_care_until_local=None,
                   sessions=[{"weekdays": ["fri"], "starts_at_local": "15:00", "ends_at_local": "15:30"}],
                   activities=[{"activity_id": "a", "name": "讲新课", "tier": "tutoring", "staff_ids": ["nobody"],
                                "capacity": 1}])

    assert rules(caught.value) == {"R3", "R8", "R28"}
    assert {p.loc for p in caught.value.problems} >= {("body", "sessions", 0, "ends_at_local"),
                                                      ("body", "activities", 0, "tier")}


async def test_a_fee_standard_without_the_parents_committee_agreement_cannot_be_published(world) -> None:
    store, w = world
    await save(store, w)
    async with store.uow() as uow:
        with pytest.raises(DomainError) as caught:
            await h.publish_programme(uow, school(w), w.programme)

    assert rules(caught.value) == {"R10"} and "parents' committee" in str(caught.value)
    assert store.events == []


async def test_the_district_reviews_only_fees_the_committee_agreed(world) -> None:
    store, w = world
    await save(store, w)
    async with store.uow() as uow:
        with pytest.raises(DomainError, match="R10"):
            await h.review_fees(uow, district(w), w.programme, decision="approved", note=None)


async def test_fees_changed_after_agreement_need_a_new_agreement_and_review(world) -> None:
    store, w = world
    await save(store, w)
    async with store.uow() as uow:
        await h.record_fee_agreement(uow, school(w), w.programme, agreed_on=date.today(), reference="纪要")
    async with store.uow() as uow:
        await h.review_fees(uow, district(w), w.programme, decision="approved", note=None)
    await save(store, w, fee_per_session_fen=2000)

    async with store.uow() as uow:
        with pytest.raises(DomainError) as caught:
            await h.publish_programme(uow, school(w), w.programme)
    assert len(caught.value.problems) == 2 and rules(caught.value) == {"R10"}


async def test_a_free_programme_needs_no_fee_agreement(world) -> None:
    store, w = world
    await save(store, w, fee_per_session_fen=0, extended_care_fee_per_session_fen=0)
    async with store.uow() as uow:
        row, published = await h.publish_programme(uow, school(w), w.programme)

    assert published and row.status == "published"


async def test_insurance_that_has_ended_blocks_publication(world) -> None:
    store, w = world
    old = {"liability_policy_no": "PL", "accident_policy_no": "GA", "insurer": "人保",
           "valid_from": str(date.today() - timedelta(days=400)), "valid_until": str(date.today() - timedelta(days=1))}
    await save(store, w, insurance=old, fee_per_session_fen=0, extended_care_fee_per_session_fen=0)
    async with store.uow() as uow:
        with pytest.raises(DomainError) as caught:
            await h.publish_programme(uow, school(w), w.programme)
    assert rules(caught.value) == {"R30"}


async def test_publishing_discloses_everything_r4_requires_once(world) -> None:
    store, w = world
    await open_programme(store, w)
    async with store.uow() as uow:
        _, again = await h.publish_programme(uow, school(w), w.programme)

    assert not again
    (event, _), = store.events
    assert event.type_name == "ProgrammePublished"
    assert event.served and event.delivery and event.safety_measures and event.insurance.accident_policy_no
    assert [s.ends_at_local for s in event.sessions] == ["17:30"] and event.normal_off_work_local == "17:30"
    assert event.extended_care_until_local == "18:30" and event.fee_per_session_fen == 1500
    assert event.parents_committee_agreed_on == date.today() and event.fee_reviewed_by == w.officer
    assert event.published_by == w.principal and event.published_by_role == "principal"
    assert event.applications_open_at >= event.published_at


async def test_a_published_programme_cannot_change(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(Conflict, match="published"):
        await save(store, w, capacity=5)


async def test_another_school_cannot_propose_or_publish_this_schools_programme(world) -> None:
    store, w = world
    await save(store, w)
    intruder = Actor("stf-x", "school", school_id=w.other_school)
    async with store.uow() as uow:
        with pytest.raises(Forbidden):
            await h.publish_programme(uow, intruder, w.programme)


# -- applications (R1, R6, R9) ----------------------------------------------------------------

async def test_applying_before_the_programme_is_disclosed_is_refused(world) -> None:
    store, w = world
    await save(store, w)
    with pytest.raises(DomainError) as caught:
        await apply(store, w, 0)

    assert rules(caught.value) == {"R4"} and "after the school has published" in str(caught.value)


async def test_applying_for_an_unknown_programme_is_not_found(world) -> None:
    store, w = world
    with pytest.raises(NotFound):
        await apply(store, w, 0, programme_id="prg-none")


async def test_a_guardian_cannot_apply_for_someone_elses_child(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(Forbidden, match="their own child"):
        await apply(store, w, 0, actor=guardian(w, 0), student_id=w.students[1])
    with pytest.raises(Forbidden, match="as themselves"):
        await apply(store, w, 0, actor=guardian(w, 1))


async def test_consent_is_required(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(DomainError) as caught:
        await apply(store, w, 0, consent=False)
    assert rules(caught.value) == {"R1"}


@pytest.mark.parametrize("role", ["district", "city"])
async def test_officials_cannot_enrol_students(world, role) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(Forbidden, match="R1"):
        await apply(store, w, 0, actor=Actor("off", role, district_id=w.district))


async def test_a_list_of_applications_is_refused_as_bulk_enrollment() -> None:
    with pytest.raises(DomainError) as caught:
        h.forbid_bulk([{"student_id": "a"}, {"student_id": "b"}])

    assert rules(caught.value) == {"R1"} and "bulk enrollment is forbidden" in str(caught.value)


async def test_staff_entering_an_application_must_record_the_guardians_consent_and_it_is_marked(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(DomainError) as caught:
        await apply(store, w, 0, actor=school(w))
    assert rules(caught.value) == {"R1"}

    row = await apply(store, w, 0, actor=school(w), consent_evidence="签字申请表")
    (event, _), = [e for e in store.events if e[0].type_name == "ApplicationSubmitted"]
    assert row.on_behalf and event.on_behalf and event.submitted_by == w.principal
    assert event.submitted_by_role == "principal"


async def test_a_school_cannot_enter_applications_for_another_schools_students(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(Forbidden):
        await apply(store, w, 0, actor=Actor("stf-x", "school", school_id=w.other_school), consent_evidence="表")


async def test_a_retried_application_returns_the_first_and_announces_nothing(world) -> None:
    store, w = world
    await open_programme(store, w)
    first = await apply(store, w, 0)
    again = await apply(store, w, 0)

    assert again.application_id == first.application_id
    assert store.types().count("ApplicationSubmitted") == 1
    with pytest.raises(Conflict, match="Idempotency-Key"):
        await apply(store, w, 0, hardship=True)


async def test_one_live_application_per_child_and_programme(world) -> None:
    store, w = world
    await open_programme(store, w)
    await apply(store, w, 0)
    with pytest.raises(Conflict, match="already has application"):
        await apply(store, w, 0, idempotency_key="other")


async def test_preferred_activities_must_be_on_offer(world) -> None:
    store, w = world
    await open_programme(store, w)
    with pytest.raises(DomainError, match="not offered"):
        await apply(store, w, 0, activity_ids=("act-chess",))


async def test_the_whole_workflow_emits_each_step_once_with_actor_and_time(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0, hardship=True, wants_extended_care=True)
    steps = [(h.approve_application, school(w), {"hardship_verified": True}), (h.report_application, school(w), {}),
             (h.file_application, district(w), {}), (h.withdraw_application, guardian(w, 0), {"reason": "搬家"})]
    for command, actor, kw in steps:
        for attempt in range(2):
            row, changed = await run(store, command, actor, app.application_id, **kw)
            assert changed is (attempt == 0)

    assert store.types() == ["ProgrammePublished", "ApplicationSubmitted", "ApplicationApproved",
                             "ApplicationReported", "EnrollmentFiled", "EnrollmentWithdrawn"]
    approved, reported, filed, withdrawn = (e for e, _ in store.events[2:])
    assert approved.hardship and approved.hardship_verified_by == w.principal and approved.extended_care
    assert reported.district_id == w.district and reported.reported_by == w.principal
    assert filed.hardship and filed.class_teacher_id == w.teacher and filed.student_name == "学生0"
    assert filed.enrollment_id == withdrawn.enrollment_id and withdrawn.withdrawn_by_role == "guardian"
    assert withdrawn.effective_on == date.today() or withdrawn.effective_on >= date.today() - timedelta(days=1)


async def test_hardship_is_free_only_once_the_school_verifies_it(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0, hardship=True)
    row, _ = await run(store, h.approve_application, school(w), app.application_id)

    assert row.hardship and not row.hardship_verified
    approved = store.events[-1][0]
    assert approved.hardship is False and approved.hardship_verified_by is None


async def test_steps_out_of_order_are_refused(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0)
    with pytest.raises(Conflict, match="approve it before reporting"):
        await run(store, h.report_application, school(w), app.application_id)
    with pytest.raises(Conflict, match="approve and report"):
        await run(store, h.file_application, district(w), app.application_id)
    await run(store, h.approve_application, school(w), app.application_id)
    with pytest.raises(Conflict, match="only the guardian"):
        await run(store, h.reject_application, school(w), app.application_id, reason_code="other", reason="不行")


async def test_each_step_belongs_to_its_role(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0)
    with pytest.raises(Forbidden):
        await run(store, h.approve_application, district(w), app.application_id)
    with pytest.raises(Forbidden):
        await run(store, h.approve_application, guardian(w, 0), app.application_id)
    await run(store, h.approve_application, school(w), app.application_id)
    await run(store, h.report_application, school(w), app.application_id)
    with pytest.raises(Forbidden):
        await run(store, h.file_application, school(w), app.application_id)
    with pytest.raises(Forbidden):
        await run(store, h.file_application, Actor("off-y", "district", district_id="dst-other"), app.application_id)
    with pytest.raises(Forbidden):
        await run(store, h.withdraw_application, school(w), app.application_id)
    with pytest.raises(Forbidden):
        await run(store, h.withdraw_application, guardian(w, 1), app.application_id)


async def test_a_rejection_carries_its_reason_and_cannot_be_withdrawn_afterwards(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0)
    await run(store, h.reject_application, school(w), app.application_id, reason_code="not_eligible", reason="不在本校")
    await run(store, h.reject_application, school(w), app.application_id, reason_code="not_eligible", reason="不在本校")

    rejected = [e for e, _ in store.events if e.type_name == "ApplicationRejected"]
    assert len(rejected) == 1 and rejected[0].reason == "不在本校" and rejected[0].rejected_by == w.principal
    with pytest.raises(Conflict):
        await run(store, h.withdraw_application, guardian(w, 0), app.application_id)


async def test_approvals_beyond_capacity_wait_and_move_up_when_a_place_frees(world) -> None:
    store, w = world  # capacity 2
    await open_programme(store, w)
    apps = [await apply(store, w, i) for i in range(4)]
    for app in apps:
        await run(store, h.approve_application, school(w), app.application_id)

    statuses = [(await store.uow().application(a.application_id)).status for a in apps]
    assert statuses == ["approved", "approved", "waitlisted", "waitlisted"]
    waitlisted = [e for e, _ in store.events if e.type_name == "ApplicationWaitlisted"]
    assert [e.position for e in waitlisted] == [1, 2]

    await run(store, h.withdraw_application, guardian(w, 1), apps[1].application_id)
    promoted = store.events[-1][0]
    assert promoted.type_name == "ApplicationApproved" and promoted.promoted_from_waitlist
    assert promoted.application_id == apps[2].application_id and promoted.approved_by == w.principal
    assert (await store.uow().application(apps[3].application_id)).status == "waitlisted"


async def test_withdrawing_from_the_waitlist_frees_no_place(world) -> None:
    store, w = world
    await open_programme(store, w)
    apps = [await apply(store, w, i) for i in range(4)]
    for app in apps:
        await run(store, h.approve_application, school(w), app.application_id)
    before = len(store.events)
    await run(store, h.withdraw_application, guardian(w, 2), apps[2].application_id)

    assert [e.type_name for e, _ in store.events[before:]] == ["EnrollmentWithdrawn"]


async def test_a_withdrawal_cannot_take_effect_in_the_past(world) -> None:
    store, w = world
    await open_programme(store, w)
    app = await apply(store, w, 0)
    with pytest.raises(DomainError, match="past"):
        await run(store, h.withdraw_application, guardian(w, 0), app.application_id,
                  effective_on=date.today() - timedelta(days=3))


async def test_the_enrollment_names_the_other_guardians_as_authorised_pickups(world) -> None:
    store, w = world
    async with store.uow() as uow:
        second = await uow.guardian(w.guardians[1])
        second.student_ids = [w.students[1], w.students[0]]
        uow.add(second)
        await uow.commit()
    await open_programme(store, w)
    app = await apply(store, w, 0)
    for command, actor in ((h.approve_application, school(w)), (h.report_application, school(w)),
                           (h.file_application, district(w))):
        await run(store, command, actor, app.application_id)

    filed = store.events[-1][0]
    assert filed.authorised_pickup_ids == [w.guardians[1]]


async def test_a_schools_staff_contact_is_published_sealed_with_what_the_staff_member_answers_for(world) -> None:
    # Issue 16: notification had no way to reach class teachers, programme leads or safety contacts (R11, R12, R22).
    store, w = world
    sealer = Sealer(Fernet.generate_key().decode())
    async with store.uow() as uow:
        await h.register_staff_contact(uow, school(w), w.teacher, roles=["safety_contact", "class_teacher"],
                                       class_ids=["cls-1"], programme_ids=[], phone="13912345678", push_token=None,
                                       locale="zh-CN", sealer=sealer)
    (event,) = [e for e, _ in store.events if e.type_name == "StaffRegistered"]
    assert (event.staff_id, event.school_id, event.roles) == (w.teacher, w.school, ["class_teacher", "safety_contact"])
    assert event.phone_masked == "139****5678" and "13912345678" not in event.model_dump_json()
    assert sealer.unseal(event.phone_sealed) == "13912345678" and event.registered_by == w.principal
    async with store.uow() as uow:
        with pytest.raises(Forbidden):
            await h.register_staff_contact(uow, Actor("gdn-1", "guardian"), w.teacher, roles=[], class_ids=[],
                                           programme_ids=[], phone="13912345678", push_token=None, locale="zh-CN",
                                           sealer=sealer)
