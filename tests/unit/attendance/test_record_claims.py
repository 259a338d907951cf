"""Records are checked against what they claim (issue 14): an activity is one of the programme's, of its
tier, run while the child is on site (R3, R7, R11, R14); a record id resent with other content is a
conflict kept for review, the same content again is "already received" (R15); one bad record never fails
the records beside it. Rules as pure functions first, then through the ingest use case, the HTTP route
and the attendance.ingest topic on a real PostgreSQL schema."""
from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import time

import httpx

from services.attendance import handlers as h
from services.attendance.app import build
from services.attendance.domain import LOCAL_TZ, Activity, DayState, Enrollment, Record, Rejection, Schedule, Slot, decide
from services.attendance.settings import Settings
from shared.contracts.ingest import SchoolActivityRecorded, SchoolCheckInRecorded
from tests.tokens import bearer
from tests.unit.attendance.conftest import DAY, School, dead_letters, local, outbox, unique
from tests.unit.attendance.test_ingest import rec, run
from tests.unit.attendance.test_topic_ingest import raw, reader

SCHEDULE = Schedule("prg-1", "sch-1", "dst-1", (Slot(frozenset({"fri"}), time(15, 30), time(17, 30)),), time(18, 30),
                    frozenset({"stf-1"}), "pri-1", (("act-football", "sports"), ("act-hw", "homework_help")))
ENROLLMENT = Enrollment("stu-1", "prg-1", "sch-1", "李小明", frozenset({"gdn-1"}), frozenset())
WINDOW = SCHEDULE.window(DAY)
INJECTION = "act-1'; drop table activities; --"
EMOJI = "⚽🔥"


def activity(hhmm: str = "16:00", **changes) -> Record:
    base = Record(record_id="r-1", kind="activity", school_id="sch-1", student_id="stu-1", at=local(hhmm), session_date=DAY,
                  staff_id="stf-1", staff_role="school_staff", system_id="sys-1", activity_id="act-football", tier="sports",
                  minutes=45, exercise_minutes=40)
    return replace(base, **changes)


def on_site(since: str = "15:25", until: str | None = None) -> DayState:
    return DayState(checked_in_at=local(since), checked_in_by="stf-1", checked_out_at=local(until) if until else None)


# -- the rules ------------------------------------------------------------------------------------------
def test_an_activity_the_programme_does_not_offer_is_rejected_naming_the_activity() -> None:
    for claimed in (INJECTION, EMOJI, "act-unknown"):
        decision = decide(activity(activity_id=claimed), ENROLLMENT, SCHEDULE, WINDOW, on_site())
        assert isinstance(decision, Rejection) and decision.code == "unknown_activity", claimed
        assert repr(claimed) in decision.reason and "prg-1" in decision.reason and "act-football, act-hw" in decision.reason


def test_an_activity_of_another_tier_than_the_programmes_is_rejected() -> None:
    decision = decide(activity(tier="arts"), ENROLLMENT, SCHEDULE, WINDOW, on_site())
    assert isinstance(decision, Rejection) and decision.code == "wrong_tier"
    assert "act-football is a sports activity" in decision.reason


def test_an_activity_needs_the_child_checked_in() -> None:
    decision = decide(activity(), ENROLLMENT, SCHEDULE, WINDOW, DayState())
    assert isinstance(decision, Rejection) and decision.code == "not_checked_in" and "stu-1" in decision.reason


def test_an_activity_outside_the_childs_time_on_site_is_rejected() -> None:
    for when, state in (("15:20", on_site("15:25")), ("17:45", on_site("15:25", "17:40"))):
        decision = decide(activity(when), ENROLLMENT, SCHEDULE, WINDOW, state)
        assert isinstance(decision, Rejection) and decision.code == "not_on_site", when
    assert isinstance(decide(activity("17:40"), ENROLLMENT, SCHEDULE, WINDOW, on_site("15:25", "17:40")), Activity)


def test_a_programme_stored_before_its_activities_were_kept_still_takes_activity_records() -> None:
    legacy = replace(SCHEDULE, activities=None)
    assert isinstance(decide(activity(activity_id="act-anything"), ENROLLMENT, legacy, WINDOW, on_site()), Activity)
    assert decide(activity(), ENROLLMENT, legacy, WINDOW, DayState()).code == "not_checked_in"  # type: ignore[union-attr]


def test_a_claim_is_what_the_record_says_whatever_the_offset_it_was_written_in() -> None:
    record = activity()
    same_moment = replace(record, at=record.at.astimezone(LOCAL_TZ), system_id="sys-2")
    assert same_moment.claim == record.claim, "the sending system and the offset's spelling are not part of the claim"
    assert replace(record, minutes=50).claim != record.claim
    assert "record_id" not in record.claim and "school_id" not in record.claim


# -- through the ingest use case ------------------------------------------------------------------------
async def conflicts_of(uow_factory, school_id: str) -> list:
    async with uow_factory() as uow:
        return await uow.record_conflicts(school_id)


def content(value: object) -> dict:
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]


async def test_bad_activity_records_beside_good_ones_leave_the_good_ones_accepted(school, uow_factory, policy) -> None:
    here, absent = await school.enroll(), await school.enroll()
    batch = [
        rec(school, "check_in", here, "15:25"),
        rec(school, "activity", here, "15:40", activity_id=INJECTION),
        rec(school, "activity", here, "15:50", activity_id=EMOJI),
        rec(school, "activity", here, "16:00"),
        rec(school, "activity", absent, "16:00"),
        rec(school, "activity", here, "16:10", tier="reading"),
        rec(school, "check_out", here, "17:20"),
    ]
    outcomes = await run(uow_factory, policy, batch)
    assert [(o.status, o.reason_code) for o in outcomes] == [
        ("accepted", None), ("rejected", "unknown_activity"), ("rejected", "unknown_activity"), ("accepted", None),
        ("rejected", "not_checked_in"), ("rejected", "wrong_tier"), ("accepted", None),
    ]
    assert INJECTION in outcomes[1].reason and EMOJI in outcomes[2].reason  # type: ignore[operator]
    (recorded,) = await outbox(uow_factory, school.school_id, "ActivityRecorded")
    assert recorded["payload"]["activity_id"] == "act-football" and recorded["event_id"] == outcomes[3].event_id
    async with uow_factory() as uow:
        assert await uow.exercise_minutes(school.school_id, DAY) == {here: 35}


async def test_a_republished_programme_changes_which_activities_are_accepted(school, uow_factory, policy) -> None:
    student = await school.enroll()
    await run(uow_factory, policy, [rec(school, "check_in", student, "15:25")])
    (before,) = await run(uow_factory, policy, [rec(school, "activity", student, "16:00", activity_id="act-chess", tier="extension")])
    assert before.reason_code == "unknown_activity"
    await school.publish(activities=[{"activity_id": "act-chess", "name": "围棋", "tier": "extension",
                                      "staff_ids": [school.staff_id], "capacity": 20}])
    (after,) = await run(uow_factory, policy, [rec(school, "activity", student, "16:00", activity_id="act-chess", tier="extension")])
    assert after.status == "accepted"


async def test_a_resent_record_id_with_other_content_is_a_conflict_kept_for_review(school, uow_factory, policy) -> None:
    student = await school.enroll()
    first = rec(school, "check_in", student, "15:25")
    (accepted,) = await run(uow_factory, policy, [first])
    published = await outbox(uow_factory, school.school_id)
    counted: list[int] = []
    counting = replace(policy, count_conflicts=counted.append)

    changed = h.Submitted(first.record_id, replace(first.record, at=local("15:45")))
    (conflict,) = await run(uow_factory, counting, [changed])
    assert (conflict.status, conflict.reason_code) == ("conflict", "content_differs")
    assert "(at differ)" in conflict.reason and conflict.event_id == accepted.event_id  # type: ignore[operator]
    assert await outbox(uow_factory, school.school_id) == published, "a conflict is not applied"
    (kept,) = await conflicts_of(uow_factory, school.school_id)
    assert kept.record_id == first.record_id and kept.student_id == student
    assert content(kept.first_content) == first.record.claim and content(kept.resent_content) == changed.record.claim
    assert kept.first_received_at is not None and kept.received_at >= kept.first_received_at
    assert counted == [1]

    # The same differing resend again is answered the same, and kept once.
    (again,) = await run(uow_factory, counting, [changed])
    assert again.status == "conflict"
    assert len(await conflicts_of(uow_factory, school.school_id)) == 1


async def test_an_identical_resend_is_already_received_and_kept_nowhere(school, uow_factory, policy) -> None:
    student = await school.enroll()
    batch = [rec(school, "check_in", student, "15:25"), rec(school, "activity", student, "16:00"),
             rec(school, "check_out", student, "17:10", collected_by_id="stranger-1")]
    first = await run(uow_factory, policy, batch)
    assert [o.status for o in first] == ["accepted", "accepted", "rejected"]  # the refused pickup is remembered
    # The same records, the instants written with another offset: the same claims.
    spelled_otherwise = [replace(s, record=replace(s.record, at=s.record.at.astimezone(LOCAL_TZ))) for s in batch]
    again = await run(uow_factory, policy, spelled_otherwise)
    assert [(o.status, o.reason_code) for o in again] == [("duplicate", "already_received")] * 3
    assert [o.event_id for o in again] == [o.event_id for o in first]
    assert await conflicts_of(uow_factory, school.school_id) == []


async def test_a_record_id_twice_in_one_batch_with_other_content_is_a_conflict(school, uow_factory, policy) -> None:
    student = await school.enroll()
    first = rec(school, "check_in", student, "15:25")
    other = h.Submitted(first.record_id, replace(first.record, staff_id="stf-someone-else"))
    outcomes = await run(uow_factory, policy, [first, other, first])
    assert [(o.status, o.reason_code) for o in outcomes] == [
        ("accepted", None), ("conflict", "content_differs"), ("duplicate", "repeated_in_batch")]
    (kept,) = await conflicts_of(uow_factory, school.school_id)
    assert content(kept.first_content)["staff_id"] == school.staff_id
    assert content(kept.resent_content)["staff_id"] == "stf-someone-else"


# -- over HTTP and on the topic ---------------------------------------------------------------------------


async def test_the_batch_route_answers_conflict_per_record_and_counts_it(attendance_db, clock, uow_factory) -> None:
    app, rt = build(Settings(database_url=attendance_db.url, database_schema=attendance_db.schema), clock=clock)
    school = School(uow_factory)
    await school.publish()
    student = await school.enroll()
    headers = bearer('sys-gate', 'school_system', school_id=school.school_id)
    check_in = {"record_id": unique("gate"), "kind": "check_in", "student_id": student, "at": "2025-09-12T15:25:00+08:00",
                "staff_id": school.staff_id}
    football = {"record_id": unique("gate"), "kind": "activity", "student_id": student, "at": "2025-09-12T16:00:00+08:00",
                "staff_id": school.staff_id, "activity_id": "act-football", "tier": "sports", "minutes": 45, "exercise_minutes": 30}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://attendance") as client:
            first = await client.post(f"/v1/schools/{school.school_id}/records", headers=headers,
                                      json={"records": [check_in, football]})
            assert first.status_code == 200 and first.json()["accepted"] == 2, first.text
            resent = [check_in | {"at": "2025-09-12T07:25:00Z"}, football | {"minutes": 60},
                      {**football, "record_id": unique("gate"), "activity_id": INJECTION}]
            reply = await client.post(f"/v1/schools/{school.school_id}/records", headers=headers, json={"records": resent})
    finally:
        await rt.db.dispose()
    body = reply.json()
    assert (body["accepted"], body["duplicate"], body["rejected"], body["conflict"]) == (0, 1, 1, 1), body
    assert [(r["status"], r.get("reason_code")) for r in body["results"]] == [
        ("duplicate", "already_received"), ("conflict", "content_differs"), ("rejected", "unknown_activity")]
    assert body["results"][1]["event_id"] == first.json()["results"][1]["event_id"]
    assert rt.registry.get_sample_value("beilei_attendance_record_conflicts_total") == 1


async def test_the_topic_dead_letters_unknown_activities_and_conflicts_with_their_reasons(school, uow_factory, policy) -> None:
    consumer = reader(policy, uow_factory)
    student = await school.enroll()
    common = dict(system_id="sys-gate", school_id=school.school_id, student_id=student, session_date=DAY)
    check_in = SchoolCheckInRecorded(record_id=unique("gate"), **common, checked_in_at=local("15:25"),
                                     checked_in_by=school.staff_id, checked_in_by_role="school_staff")
    football = SchoolActivityRecorded(record_id=unique("gate"), **common, activity_id="act-football", tier="sports",
                                      started_at=local("16:00"), minutes=45, exercise_minutes=40, recorded_by=school.staff_id,
                                      recorded_by_role="school_staff")
    emoji = football.model_copy(update={"record_id": unique("gate"), "activity_id": EMOJI})
    await consumer.process([raw(check_in, 1), raw(football, 2), raw(emoji, 3)])
    assert sorted(e["type"] for e in await outbox(uow_factory, school.school_id)) == ["ActivityRecorded", "StudentCheckedIn"]
    (unknown,) = await dead_letters(uow_factory, {student})
    assert unknown["kind"] == "rejected" and unknown["reason"].startswith("unknown_activity:") and EMOJI in unknown["reason"]

    # The same record id in a new envelope with other minutes: not applied, kept for review, dead-lettered.
    await consumer.process([raw(football.model_copy(update={"minutes": 90}), 4), raw(football, 5)])
    assert len(await outbox(uow_factory, school.school_id, "ActivityRecorded")) == 1
    letters = await dead_letters(uow_factory, {student})
    assert [(d["kind"], d["reason"].split(":")[0]) for d in letters] == [("rejected", "unknown_activity"), ("conflict", "content_differs")]
    assert json.loads(base64.b64decode(letters[1]["original_b64"]))["payload"]["minutes"] == 90
    (kept,) = await conflicts_of(uow_factory, school.school_id)
    assert (content(kept.first_content)["minutes"], content(kept.resent_content)["minutes"]) == (45, 90)
