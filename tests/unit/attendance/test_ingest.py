"""School-system batches through the ingest use case on a real PostgreSQL schema: per-record results,
duplicates, out-of-order records, handover refusals and the roster (R11, R14, R15, R28)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from services.attendance import handlers as h
from services.attendance.domain import Record, Rejection
from shared.contracts.enrollment import PickupPersonAuthorised, PickupPersonRevoked, StaffAdmissionChanged
from tests.unit.attendance.conftest import DAY, School, local, outbox, unique


def rec(school: School, kind: str, student_id: str, hhmm: str, **changes) -> h.Submitted:
    base = Record(record_id=unique("rec"), kind=kind, school_id=school.school_id, student_id=student_id, at=local(hhmm),
                  session_date=DAY, staff_id=school.staff_id, staff_role="school_staff", system_id="sys-gate")
    if kind == "check_out":
        base = replace(base, collected_by_id=f"gdn-{student_id}")
    if kind == "activity":
        base = replace(base, activity_id="act-football", tier="sports", minutes=45, exercise_minutes=35)
    base = replace(base, **changes)
    return h.Submitted(base.record_id, base)


async def run(uow_factory, policy, batch: list[h.Submitted]):
    async with uow_factory() as uow:
        outcomes = await h.ingest(uow, batch, policy)
        await uow.commit()
    return outcomes


async def test_a_mixed_batch_accepts_the_valid_records_and_gives_every_other_record_its_reason(school, uow_factory, policy) -> None:
    a, b = await school.enroll(), await school.enroll()
    first = rec(school, "check_in", a, "15:25")
    batch = [
        first,
        rec(school, "check_in", b, "15:27"),
        rec(school, "check_in", "stu-nobody", "15:27"),
        rec(school, "check_in", a, "15:25", record_id=first.record_id),
        rec(school, "check_in", b, "15:29"),
        h.Submitted("bad-1", rejection=Rejection("invalid", "at: Field required")),
        rec(school, "activity", b, "15:40", staff_id="stf-not-admitted"),
    ]
    outcomes = await run(uow_factory, policy, batch)
    assert [(o.status, o.reason_code) for o in outcomes] == [
        ("accepted", None), ("accepted", None), ("rejected", "unknown_student"), ("duplicate", "repeated_in_batch"),
        ("duplicate", "already_checked_in"), ("rejected", "invalid"), ("rejected", "staff_not_admitted"),
    ]
    events = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert sorted(e["payload"]["student_id"] for e in events) == sorted([a, b])
    assert {e["event_id"] for e in events} == {outcomes[0].event_id, outcomes[1].event_id}


async def test_a_resent_batch_is_all_duplicates_and_publishes_nothing_more(school, uow_factory, policy) -> None:
    student = await school.enroll()
    batch = [rec(school, "check_in", student, "15:20"), rec(school, "activity", student, "16:00"),
             rec(school, "check_out", student, "17:10")]
    assert [o.status for o in await run(uow_factory, policy, batch)] == ["accepted"] * 3
    before = await outbox(uow_factory, school.school_id)
    again = await run(uow_factory, policy, batch)
    assert [(o.status, o.reason_code) for o in again] == [("duplicate", "already_received")] * 3
    assert await outbox(uow_factory, school.school_id) == before


async def test_a_check_out_listed_before_its_check_in_in_one_batch_is_accepted(school, uow_factory, policy) -> None:
    student = await school.enroll()
    outcomes = await run(uow_factory, policy, [rec(school, "check_out", student, "17:40"), rec(school, "check_in", student, "15:25")])
    assert [o.status for o in outcomes] == ["accepted", "accepted"]
    (checked_out,) = await outbox(uow_factory, school.school_id, "StudentCheckedOut")
    assert checked_out["payload"]["extended_care"] is True and checked_out["payload"]["extended_care_minutes"] == 10


async def test_a_check_out_arriving_before_its_check_in_is_rejected_then_accepted_when_resent(school, uow_factory, policy) -> None:
    student = await school.enroll()
    check_out = rec(school, "check_out", student, "17:10")
    (early,) = await run(uow_factory, policy, [check_out])
    assert (early.status, early.reason_code) == ("rejected", "not_checked_in")
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    (resent,) = await run(uow_factory, policy, [check_out])
    assert resent.status == "accepted", "a rejected record is not remembered, so its resend is judged afresh"


async def test_a_handover_names_who_collected_and_who_handed_over(school, uow_factory, policy) -> None:
    student = await school.enroll()
    await school.register_guardian(f"gdn-{student}", "王芳", [student])
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:25"), rec(school, "check_out", student, "17:20")])
    (event,) = await outbox(uow_factory, school.school_id, "StudentCheckedOut")
    p = event["payload"]
    assert (p["collected_by_id"], p["collected_by_name"], p["collected_by_relation"]) == (f"gdn-{student}", "王芳", "guardian")
    assert (p["handed_over_by"], p["source"], p["extended_care"]) == (school.staff_id, "school_system", False)


async def test_an_unauthorised_collector_is_refused_with_one_alert_however_often_the_record_is_sent(school, uow_factory, policy) -> None:
    student = await school.enroll()
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    attempt = rec(school, "check_out", student, "17:20", collected_by_id="stranger-1", collected_by_name="张三")
    (refused,) = await run(uow_factory, policy, [attempt])
    assert (refused.status, refused.reason_code) == ("rejected", "unauthorised_collector")
    assert "not released" in refused.reason
    (again,) = await run(uow_factory, policy, [attempt])
    assert again.status == "duplicate"
    alerts = await outbox(uow_factory, school.school_id, "UnauthorisedPickupRefused")
    assert len(alerts) == 1 and alerts[0]["payload"]["claimant_name"] == "张三"
    assert await outbox(uow_factory, school.school_id, "StudentCheckedOut") == []
    (later,) = await run(uow_factory, policy, [rec(school, "check_out", student, "17:25")])
    assert later.status == "accepted", "the child is still on site and may go home with a guardian"


async def test_someone_dropped_from_the_pickup_list_by_a_refiling_is_refused_as_revoked(school, uow_factory, policy) -> None:
    student = await school.enroll(pickups=["pku-aunt"])
    await school.enroll(student, pickups=["pku-uncle"])
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    (refused,) = await run(uow_factory, policy, [rec(school, "check_out", student, "17:20", collected_by_id="pku-aunt")])
    assert refused.reason_code == "unauthorised_collector"
    (alert,) = await outbox(uow_factory, school.school_id, "UnauthorisedPickupRefused")
    assert alert["payload"]["reason"] == "pickup_revoked"
    (ok,) = await run(uow_factory, policy, [rec(school, "check_out", student, "17:21", collected_by_id="pku-uncle")])
    assert ok.status == "accepted"


async def test_a_withdrawn_student_is_rejected_from_the_day_the_withdrawal_takes_effect(school, uow_factory, policy) -> None:
    student = await school.enroll()
    await school.withdraw(student, DAY)
    (outcome,) = await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    assert (outcome.status, outcome.reason_code) == ("rejected", "withdrawn")


async def _decide(school: School, admission: str, effective_at: datetime) -> None:
    await school._apply(h.handler_table(h.Policy())["StaffAdmissionChanged"], StaffAdmissionChanged(
        staff_id=school.staff_id, school_id=school.school_id, admission=admission, decided_by="off-unit",
        decided_by_role="district_officer", effective_at=effective_at))


async def test_staff_the_district_removes_are_refused_from_their_next_record_on(school, uow_factory, policy) -> None:
    # R28, issue 16: the removal arrives as enrollment publishes it, not as a re-published programme.
    student, other = await school.enroll(), await school.enroll()
    (before,) = await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    assert before.status == "accepted"
    await _decide(school, "removed", local("16:00"))
    refused = await run(uow_factory, policy, [rec(school, "check_out", student, "17:10"),
                                              rec(school, "activity", student, "16:10"),
                                              rec(school, "check_in", other, "16:20")])
    assert [(o.status, o.reason_code) for o in refused] == [("rejected", "staff_not_admitted")] * 3
    (day,) = await outbox(uow_factory, school.school_id, "StudentCheckedIn")
    assert not await outbox(uow_factory, school.school_id, "StudentCheckedOut"), "the child stays on site"

    await _decide(school, "admitted", local("16:30"))
    await _decide(school, "suspended", local("16:05"))  # an older decision arriving late does not win
    (after,) = await run(uow_factory, policy, [rec(school, "check_out", student, "17:12")])
    assert after.status == "accepted"
    await _decide(school, "suspended", local("16:40"))
    (suspended,) = await run(uow_factory, policy, [rec(school, "check_in", other, "16:45")])
    assert suspended.reason_code == "staff_not_admitted"


async def test_timetables_read_outside_judging_list_only_staff_the_district_admits(school, uow_factory) -> None:
    # R28: the sweeps and excusals read timetables through `schedules()`; a removed staff member must not
    # stay responsible there while judging already refuses them.
    await school.enroll()
    async with uow_factory() as uow:
        before = (await uow.schedules())[school.programme_id]
    assert school.staff_id in before.staff_ids
    await _decide(school, "removed", local("16:00"))
    async with uow_factory() as uow:
        after = (await uow.schedules([school.programme_id]))[school.programme_id]
    assert school.staff_id not in after.staff_ids


def _pickup(school: School, student: str, person: str, *, revoked: bool = False, until: date = DAY,
            decided_at: datetime | None = None):
    kind = PickupPersonRevoked if revoked else PickupPersonAuthorised
    event = kind(pickup_person_id=person, student_id=student, guardian_id=f"gdn-{student}", name="李建国", relation="祖父",
                 phone_masked="137****4321", valid_until=until, decided_by=f"gdn-{student}", decided_by_role="guardian",
                 decided_at=decided_at or local("08:00"))
    return school._apply(h.handler_table(h.Policy())[kind.type_name], event)


async def test_a_grandparent_the_guardian_authorised_collects_and_others_are_refused(school, uow_factory, policy) -> None:
    # R11, issue 16: only registered guardians could collect; families name grandparents and neighbours.
    a, b, c = await school.enroll(), await school.enroll(), await school.enroll()
    await _pickup(school, a, "pku-grandpa")
    await _pickup(school, b, "pku-neighbour")
    await _pickup(school, b, "pku-neighbour", revoked=True, decided_at=local("09:00"))
    await _pickup(school, b, "pku-neighbour", decided_at=local("08:30"))  # late, older: does not undo the revocation
    await _pickup(school, c, "pku-aunt", until=date(2025, 9, 1))
    await run(uow_factory, policy, [rec(school, "check_in", s, "15:25") for s in (a, b, c)])
    outcomes = await run(uow_factory, policy, [
        rec(school, "check_out", a, "17:10", collected_by_id="pku-stranger"),
        rec(school, "check_out", a, "17:11", collected_by_id="pku-grandpa"),
        rec(school, "check_out", b, "17:12", collected_by_id="pku-neighbour"),
        rec(school, "check_out", c, "17:13", collected_by_id="pku-aunt"),
    ])
    assert [(o.status, o.reason_code) for o in outcomes] == [
        ("rejected", "unauthorised_collector"), ("accepted", None), ("rejected", "unauthorised_collector"),
        ("rejected", "unauthorised_collector")]
    alerts = await outbox(uow_factory, school.school_id, "UnauthorisedPickupRefused")
    assert sorted(e["payload"]["reason"] for e in alerts) == ["not_on_pickup_list", "not_on_pickup_list", "pickup_revoked"]


async def test_a_record_about_another_schools_student_is_rejected(school, uow_factory, policy) -> None:
    other = School(uow_factory)
    await other.publish()
    theirs = await other.enroll()
    (outcome,) = await run(uow_factory, policy, [rec(school, "check_in", theirs, "15:25")])
    assert (outcome.status, outcome.reason_code) == ("rejected", "unknown_student")


async def test_activity_records_are_published_with_their_exercise_minutes(school, uow_factory, policy) -> None:
    student = await school.enroll()
    outcomes = await run(uow_factory, policy, [rec(school, "activity", student, "15:40", exercise_minutes=20),
                                               rec(school, "activity", student, "16:30", exercise_minutes=15),
                                               rec(school, "check_in", student, "15:25")])
    assert [o.status for o in outcomes] == ["accepted", "accepted", "accepted"]
    events = await outbox(uow_factory, school.school_id, "ActivityRecorded")
    assert sorted(e["payload"]["exercise_minutes"] for e in events) == [15, 20]
    async with uow_factory() as uow:
        assert await uow.exercise_minutes(school.school_id, DAY) == {student: 35}
