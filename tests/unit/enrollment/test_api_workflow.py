"""The enrollment API in-process on PostgreSQL: the whole voluntary workflow, who may do what (R1, R6,
R27), and every refusal as a clear 4xx with its reason."""
from __future__ import annotations

import httpx

from tests.unit.enrollment.builders import World, bearer
from tests.unit.enrollment.conftest import outbox_events


async def _world(client: httpx.AsyncClient, prefix: str, **kw) -> World:
    world = World(prefix, **kw)
    await world.load_reference(client)
    return world


async def test_the_workflow_runs_apply_approve_report_file_withdraw_with_one_event_per_step(client, runtime, prefix) -> None:
    w = await _world(client, prefix)
    published = await w.open_programme(client)
    assert published["status"] == "published"

    reply = await client.post("/v1/applications", json=w.application(0, hardship=True, wants_extended_care=True,
                                                                     activity_ids=["act-fb"]),
                              headers={**w.guardian_token(0), "Idempotency-Key": "k1"})
    assert reply.status_code == 201, reply.text
    app_id = reply.json()["application_id"]
    steps = [("approve", w.school_token, {"hardship_verified": True}), ("report", w.school_token, None),
             ("file", w.district_token, None), ("withdraw", w.guardian_token(0), {"reason": "家中有人接送"})]
    for name, token, body in steps:
        for _ in range(2):  # the second time is a redelivered command: same reply, no new event
            reply = await client.post(f"/v1/applications/{app_id}/{name}", json=body, headers=token)
            assert reply.status_code == 200, reply.text
    final = reply.json()
    assert final["status"] == "withdrawn" and final["enrollment_id"] == "enr-" + app_id.removeprefix("app-")

    events = await outbox_events(runtime, key=w.students[0])
    assert [e["type"] for e in events] == ["ApplicationSubmitted", "ApplicationApproved", "ApplicationReported",
                                           "EnrollmentFiled", "EnrollmentWithdrawn"]
    approved, filed = events[1]["payload"], events[3]["payload"]
    assert approved["hardship"] is True and approved["hardship_verified_by"] == w.principal
    assert approved["approved_by_role"] == "principal"
    assert filed["hardship"] is True and filed["extended_care"] is True and filed["class_teacher_id"] == w.teacher
    assert filed["filed_by"] == w.officer and filed["filed_by_role"] == "district_officer"
    assert filed["activity_ids"] == ["act-fb"]


async def test_every_route_but_the_public_disclosure_needs_a_token(client, prefix) -> None:
    w = World(prefix)
    for method, url in (("post", "/v1/applications"), ("get", "/v1/applications"), ("post", "/v1/reference/students"),
                        ("get", "/v1/reports/participation"), ("put", f"/v1/programmes/{w.programme}")):
        reply = await client.request(method, url, json={})
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer", url
    forged = {"Authorization": "Bearer " + bearer("city", "x")["Authorization"].split()[1][:-2] + "xx"}
    assert (await client.get("/v1/applications", headers=forged)).status_code == 401


async def test_the_disclosure_is_public_once_published_and_only_then(client, prefix) -> None:
    w = await _world(client, prefix)
    await client.put(f"/v1/programmes/{w.programme}", json=w.programme_spec(), headers=w.school_token)
    assert (await client.get(f"/v1/disclosures/{w.programme}")).status_code == 404

    await w.open_programme(client)
    disclosure = (await client.get(f"/v1/disclosures/{w.programme}")).json()
    listed = (await client.get(f"/v1/schools/{w.school}/disclosures")).json()
    assert disclosure["fee_per_session_fen"] == 1500 and disclosure["safety_measures"] and disclosure["insurance"]
    assert disclosure["served"] and disclosure["delivery"] and listed == [disclosure]


async def test_applying_before_disclosure_is_a_422_naming_r4(client, prefix) -> None:
    w = await _world(client, prefix)
    await client.put(f"/v1/programmes/{w.programme}", json=w.programme_spec(), headers=w.school_token)
    reply = await client.post("/v1/applications", json=w.application(0), headers=w.guardian_token(0))

    assert reply.status_code == 422
    (problem,) = reply.json()["detail"]
    assert problem["type"] == "R4" and problem["loc"] == ["body", "programme_id"]


async def test_a_list_of_applications_is_a_422_naming_bulk_enrollment(client, prefix) -> None:
    w = await _world(client, prefix)
    await w.open_programme(client)
    reply = await client.post("/v1/applications", json=[w.application(0), w.application(1)], headers=w.school_token)

    assert reply.status_code == 422
    assert reply.json()["detail"][0]["type"] == "R1" and "bulk enrollment" in reply.json()["detail"][0]["msg"]


async def test_applying_for_someone_elses_child_is_a_403(client, prefix) -> None:
    w = await _world(client, prefix)
    await w.open_programme(client)
    reply = await client.post("/v1/applications", json=w.application(1, guardian_id=w.guardians[0]),
                              headers=w.guardian_token(0))

    assert reply.status_code == 403 and "own child" in reply.json()["detail"]


async def test_bad_programmes_get_a_422_with_one_reason_per_field(client, prefix) -> None:
    w = await _world(client, prefix)
    spec = w.programme_spec(sessions=[{"weekdays": ["mon"], "starts_at_local": "14:00", "ends_at_local": "15:30"}],
                            activities=[{"activity_id": "a1", "name": "数学", "tier": "collective_teaching",
                                         "staff_ids": [w.teacher], "capacity": 30}])
    reply = await client.put(f"/v1/programmes/{w.programme}", json=spec, headers=w.school_token)

    assert reply.status_code == 422
    assert {(tuple(p["loc"]), p["type"]) for p in reply.json()["detail"]} == {
        (("body", "sessions", 0, "ends_at_local"), "R8"), (("body", "activities", 0, "tier"), "R3")}


async def test_publishing_without_the_committee_agreement_is_a_422_naming_r10(client, prefix) -> None:
    w = await _world(client, prefix)
    await client.put(f"/v1/programmes/{w.programme}", json=w.programme_spec(), headers=w.school_token)
    reply = await client.post(f"/v1/programmes/{w.programme}/publish", headers=w.school_token)

    assert reply.status_code == 422 and {p["type"] for p in reply.json()["detail"]} == {"R10"}


async def test_each_role_reads_only_its_own_applications(client, prefix) -> None:
    w = await _world(client, prefix)
    await w.open_programme(client)
    app_id = (await client.post("/v1/applications", json=w.application(0), headers=w.guardian_token(0))).json()[
        "application_id"]

    assert (await client.get(f"/v1/applications/{app_id}", headers=w.guardian_token(0))).status_code == 200
    assert (await client.get(f"/v1/applications/{app_id}", headers=w.guardian_token(1))).status_code == 403
    assert (await client.get(f"/v1/applications/{app_id}", headers=w.school_token)).status_code == 200
    assert (await client.get(f"/v1/applications/{app_id}", headers=w.other_school_token)).status_code == 403
    assert (await client.get(f"/v1/applications/{app_id}", headers=w.district_token)).status_code == 200
    other_district = bearer("district", "off-z", district="dst-elsewhere")
    assert (await client.get(f"/v1/applications/{app_id}", headers=other_district)).status_code == 403
    assert (await client.get(f"/v1/applications/{app_id}", headers=w.city)).status_code == 200

    mine = (await client.get("/v1/applications", headers=w.guardian_token(0))).json()
    theirs = (await client.get("/v1/applications", headers=w.guardian_token(1))).json()
    assert [a["application_id"] for a in mine] == [app_id] and theirs == []
    assert (await client.get("/v1/applications", params={"school_id": w.school},
                             headers=w.other_school_token)).status_code == 403
    assert [a["application_id"] for a in (await client.get("/v1/applications", headers=w.school_token)).json()] == [app_id]


async def test_a_rejection_needs_a_reason(client, prefix) -> None:
    w = await _world(client, prefix)
    await w.open_programme(client)
    app_id = (await client.post("/v1/applications", json=w.application(0), headers=w.guardian_token(0))).json()[
        "application_id"]
    reply = await client.post(f"/v1/applications/{app_id}/reject", json={"reason_code": "other", "reason": " "},
                              headers=w.school_token)

    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "reason"]


async def test_reports_show_participation_waitlists_filing_times_and_staff_entered_classes(client, prefix) -> None:
    w = await _world(client, prefix, students=6, capacity=3)
    await w.open_programme(client)
    ids = []
    for i in range(6):
        token = w.school_token if i < 4 else w.guardian_token(i)  # staff entered four of six: a signal (R1)
        body = w.application(i, consent_evidence="签字表") if i < 4 else w.application(i)
        ids.append((await client.post("/v1/applications", json=body, headers=token)).json()["application_id"])
    for app_id in ids:
        await client.post(f"/v1/applications/{app_id}/approve", headers=w.school_token)
    for app_id in ids[:2]:
        await client.post(f"/v1/applications/{app_id}/report", headers=w.school_token)
        await client.post(f"/v1/applications/{app_id}/file", headers=w.district_token)

    part = (await client.get("/v1/reports/participation", headers=w.district_token)).json()
    mine = [s for s in part["schools"] if s["school_id"] == w.school]
    assert mine == [{"school_id": w.school, "district_id": w.district, "eligible": 6, "enrolled": 2, "rate": 0.3333}]
    assert part["districts"] == [{"school_id": None, "district_id": w.district, "eligible": 6, "enrolled": 2,
                                  "rate": 0.3333}]
    waits = (await client.get("/v1/reports/waitlists", headers=w.school_token)).json()
    assert [(x["capacity"], x["taken"], x["waiting"]) for x in waits] == [(3, 3, 3)]
    waitlist = (await client.get(f"/v1/programmes/{w.programme}/waitlist", headers=w.school_token)).json()
    assert [x["application_id"] for x in waitlist] == ids[3:] and [x["position"] for x in waitlist] == [1, 2, 3]
    times = (await client.get("/v1/reports/filing-times", headers=w.district_token)).json()
    assert [(t["district_id"], t["filed"]) for t in times] == [(w.district, 2)] and times[0]["max_hours"] >= 0
    signals = (await client.get("/v1/reports/staff-entered", headers=w.district_token,
                                params={"threshold": 0.5, "min_applications": 5})).json()
    assert [(s["class_id"], s["applications"], s["entered_by_staff"]) for s in signals] == [(w.klass, 6, 4)]

    assert (await client.get("/v1/reports/participation", headers=w.guardian_token(0))).status_code == 403
    assert (await client.get("/v1/reports/participation", params={"district_id": "dst-other"},
                             headers=w.district_token)).status_code == 403


async def test_a_students_insurance_is_shown_on_the_enrollment_against_the_term(client, runtime, prefix) -> None:
    """R30: the guardian and the school see the cover in force for the student, and whether it spans the term."""
    w = await _world(client, prefix)
    await w.open_programme(client)
    reply = await client.post("/v1/applications", json=w.application(0), headers=w.guardian_token(0))
    app_id = reply.json()["application_id"]
    shown = await client.get(f"/v1/applications/{app_id}/insurance", headers=w.guardian_token(0))
    assert shown.status_code == 200, shown.text
    cover = w.programme_spec()["insurance"]
    body = shown.json()
    assert (body["accident_policy_no"], body["insurer"], body["valid_until"]) == (
        cover["accident_policy_no"], cover["insurer"], cover["valid_until"])
    assert body["in_force_today"] is True and body["student_id"] == w.students[0]
    assert body["covers_the_term"] == (body["valid_until"] >= body["term_ends"])
    assert (await client.get(f"/v1/applications/{app_id}/insurance", headers=w.school_token)).status_code == 200
    assert (await client.get(f"/v1/applications/{app_id}/insurance", headers=w.guardian_token(1))).status_code == 403
