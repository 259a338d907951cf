"""Attendance's HTTP routes in-process (ASGI) on a real PostgreSQL schema: who may post and read what
(R15, R27), per-record reasons for malformed records, and clear 4xx answers for malformed requests."""
from __future__ import annotations

import json

from tests.unit.attendance.conftest import DAY, School, bearer, check_in, unique


async def test_a_school_system_cannot_post_or_read_anything_of_another_school(client, uow_factory) -> None:
    a, b = School(uow_factory), School(uow_factory)
    await a.publish()
    await b.publish()
    student_b = await b.enroll()
    system_a = bearer("school_system", school=a.school_id)
    reply = await client.post(f"/v1/schools/{b.school_id}/records", json={"records": [check_in(b, student_b)]}, headers=system_a)
    assert reply.status_code == 403 and a.school_id in reply.json()["detail"]
    for path in ("attendance", "on-site", "exercise", "roster"):
        reply = await client.get(f"/v1/schools/{b.school_id}/{path}", params={"date": DAY.isoformat()}, headers=system_a)
        assert reply.status_code == 403, path
    reply = await client.post(f"/v1/schools/{b.school_id}/excusals", headers=system_a,
                              json={"student_id": student_b, "session_date": DAY.isoformat(), "reason": "病假"})
    assert reply.status_code == 403
    # And a record naming school B, posted to school A's endpoint, is rejected, not filed under A.
    reply = await client.post(f"/v1/schools/{a.school_id}/records", headers=system_a,
                              json={"records": [check_in(b, student_b, school_id=b.school_id)]})
    assert reply.status_code == 200 and reply.json()["results"][0]["reason_code"] == "wrong_school"


async def test_only_school_systems_post_records_and_only_the_schools_overseers_read(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    path = f"/v1/schools/{school.school_id}"
    assert (await client.post(f"{path}/records", json={"records": []})).status_code == 401
    assert (await client.post(f"{path}/records", json={"records": []},
                              headers=bearer("school", school=school.school_id))).status_code == 403
    assert (await client.get(f"{path}/attendance", headers=bearer("guardian"))).status_code == 403
    assert (await client.get(f"{path}/attendance", headers=bearer("district", district="dst-other"))).status_code == 403
    for allowed in (bearer("district", district="dst-unit"), bearer("city"), bearer("auditor"),
                    bearer("school", school=school.school_id)):
        assert (await client.get(f"{path}/attendance", params={"date": DAY.isoformat()}, headers=allowed)).status_code == 200


async def test_malformed_records_get_a_reason_each_while_the_good_ones_beside_them_are_accepted(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    student = await school.enroll()
    records = [
        check_in(school, student),
        {"record_id": "x-1", "kind": "check_out", "student_id": student, "at": "2025-09-12T17:20:00+08:00", "staff_id": "s"},
        {"record_id": "x-2", "kind": "teleport", "student_id": student},
        check_in(school, student, collected_by="gdn-1"),
        "not a record",
    ]
    reply = await client.post(f"/v1/schools/{school.school_id}/records", json={"records": records},
                              headers=bearer("school_system", school=school.school_id))
    assert reply.status_code == 200
    body = reply.json()
    assert (body["received"], body["accepted"], body["duplicate"], body["rejected"]) == (5, 1, 0, 4)
    results = body["results"]
    assert results[0]["status"] == "accepted" and results[0]["event_id"]
    assert "collected_by_id: Field required" in results[1]["reason"]
    assert "kind must be one of" in results[2]["reason"]
    assert "collected_by: Extra inputs are not permitted" in results[3]["reason"]
    assert results[4] == {"index": 4, "record_id": None, "status": "rejected", "reason_code": "invalid",
                          "reason": "a record must be a JSON object, got str"}


async def test_malformed_requests_get_a_clear_4xx(client, uow_factory) -> None:
    school = School(uow_factory)
    headers = bearer("school_system", school=school.school_id)
    path = f"/v1/schools/{school.school_id}/records"
    not_json = await client.post(path, content=b"{records", headers={**headers, "content-type": "application/json"})
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert (await client.post(path, json=[1, 2], headers=headers)).status_code == 422
    too_many = await client.post(path, json={"records": [{}] * 6}, headers=headers)
    assert too_many.status_code == 413 and "at most 5" in too_many.json()["detail"]


async def test_the_days_attendance_on_site_and_exercise_queries_tell_where_each_child_stands(client, uow_factory, clock) -> None:
    school = School(uow_factory)
    await school.publish()
    gone, here, away, excused = [await school.enroll() for _ in range(4)]
    headers = bearer("school_system", school=school.school_id)
    clock.set("17:10")
    records = [check_in(school, s) for s in (gone, here)] + [
        {"record_id": unique("gate"), "kind": "activity", "student_id": here, "at": "2025-09-12T15:40:00+08:00",
         "staff_id": school.staff_id, "activity_id": "act-football", "tier": "sports", "minutes": 45, "exercise_minutes": 30},
        {"record_id": unique("gate"), "kind": "check_out", "student_id": gone, "at": "2025-09-12T17:05:00+08:00",
         "staff_id": school.staff_id, "collected_by_id": f"gdn-{gone}"},
    ]
    assert (await client.post(f"/v1/schools/{school.school_id}/records", json={"records": records},
                              headers=headers)).json()["accepted"] == 4
    excusal = await client.post(f"/v1/schools/{school.school_id}/excusals", headers=headers,
                                json={"student_id": excused, "session_date": DAY.isoformat(), "reason": "病假"})
    assert excusal.status_code == 201 and excusal.json()["programme_id"] == school.programme_id
    bad = await client.post(f"/v1/schools/{school.school_id}/excusals", headers=headers,
                            json={"student_id": "stu-none", "session_date": DAY.isoformat(), "reason": "病假"})
    assert bad.status_code == 422 and bad.json()["detail"]["reason_code"] == "unknown_student"

    day = (await client.get(f"/v1/schools/{school.school_id}/attendance", headers=headers)).json()
    assert day["session_date"] == DAY.isoformat(), "the date defaults to today, school-local"
    status = {s["student_id"]: s["status"] for s in day["students"]}
    assert status == {gone: "collected", here: "on_site", away: "expected", excused: "excused"}
    assert day["counts"] == {"collected": 1, "on_site": 1, "excused": 1, "absent": 0, "expected": 1}
    on_site = (await client.get(f"/v1/schools/{school.school_id}/on-site", headers=headers)).json()
    assert [s["student_id"] for s in on_site] == [here]
    exercise = (await client.get(f"/v1/schools/{school.school_id}/exercise", headers=headers)).json()
    assert (exercise["students"], exercise["compliant"], exercise["share"]) == (2, 1, 0.5)
    assert {s["student_id"]: s["compliant"] for s in exercise["per_student"]} == {gone: False, here: True}


async def test_a_records_events_carry_the_correlation_id_the_school_system_is_answered_with(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    students = [await school.enroll(), await school.enroll()]
    path, headers = f"/v1/schools/{school.school_id}/records", bearer("school_system", school=school.school_id)
    given = await client.post(path, json={"records": [check_in(school, students[0])]},
                              headers={**headers, "X-Correlation-Id": "gate-7-batch-42"})
    made = await client.post(path, json={"records": [check_in(school, students[1])]}, headers=headers)
    async with uow_factory() as uow:
        rows = await uow._fetch("select headers from outbox where headers->>'event_id' = any(cast(:ids as text[]))",
                                {"ids": [given.json()["results"][0]["event_id"], made.json()["results"][0]["event_id"]]})
    by_event = {r.headers["event_id"]: r.headers["correlation_id"] for r in rows}
    assert given.headers["x-correlation-id"] == "gate-7-batch-42"
    assert by_event[given.json()["results"][0]["event_id"]] == "gate-7-batch-42"
    # Without a given id the kit makes one, and the events use that same id rather than a second one.
    assert by_event[made.json()["results"][0]["event_id"]] == made.headers["x-correlation-id"]


async def test_hostile_values_are_rejected_per_record_and_the_good_records_beside_them_are_accepted(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    good, other = await school.enroll(), await school.enroll()
    records = [
        check_in(school, good),
        check_in(school, "stu-\x00-nul"),                                              # NUL: PostgreSQL refuses it
        {**check_in(school, other), "record_id": "gate-\ud800"},                       # a lone surrogate
        {**check_in(school, other), "at": "9999-12-31T23:59:59-14:00"},                # past year 9999 in UTC
        {**check_in(school, other), "at": "9999-12-31T23:59:59+00:00"},                # its local day is past 9999
    ]
    body = json.dumps({"records": records}).encode()  # json.dumps escapes the surrogate, as a careless client would
    reply = await client.post(f"/v1/schools/{school.school_id}/records", content=body,
                              headers={**bearer("school_system", school=school.school_id), "content-type": "application/json"})
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "rejected", "rejected"]
    assert "NUL" in results[1]["reason"]
    assert results[2]["record_id"] == "gate-?" and "surrogate" in results[2]["reason"]
    assert "year" in results[3]["reason"] and "9999" in results[4]["reason"]


async def test_a_body_too_deep_or_too_large_gets_a_clear_4xx_before_it_is_parsed(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    path, headers = f"/v1/schools/{school.school_id}/records", bearer("school_system", school=school.school_id)
    deep = await client.post(path, content=b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", headers=headers)
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["detail"]
    huge = await client.post(path, content=b" " * (9 * 1024 * 1024), headers=headers)
    assert huge.status_code == 413 and "split the batch" in huge.json()["detail"]
