"""Staff lifecycle on the running platform (issue 16, R11, R28): the district removes a staff member
through enrollment, enrollment publishes the decision, and attendance refuses that staff member's next
record, so the child they tried to hand over stays on site."""
from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from local.platform import Platform
from shared.contracts.topics import ENROLLMENT_EVENTS
from tests.integration.kafkatools import caught_up, envelope_of, eventually, read_topic
from tests.integration.test_attendance_ingest import SchoolFixture, _full, _produce
from tests.tokens import bearer

pytestmark = pytest.mark.integration


async def _published(bootstrap: str, type_name: str, **payload: str) -> bool:
    bodies = [envelope_of(r.value) for r in await read_topic(bootstrap, ENROLLMENT_EVENTS)]
    return any(b.get("type") == type_name and payload.items() <= b["payload"].items() for b in bodies)


async def _attendance_heard(bootstrap: str, type_name: str, **payload: str) -> None:
    await eventually(lambda: _published(bootstrap, type_name, **payload), timeout=60, what=f"{type_name} published")
    await eventually(lambda: caught_up(bootstrap, "attendance", ENROLLMENT_EVENTS), timeout=120,
                     what="attendance caught up with enrollment.events")


async def _load(enrollment: httpx.AsyncClient, school: SchoolFixture, **extra: list[dict]) -> None:
    reference = {
        "districts": [{"district_id": "dst-att", "name": "考勤区"}],
        "schools": [{"school_id": school.school_id, "district_id": "dst-att", "name": "考勤小学"}],
        "staff": [{"staff_id": school.staff_id, "school_id": school.school_id, "name": "张老师", "admission": "admitted"}],
        **extra,
    }
    for kind, records in reference.items():
        reply = await enrollment.post(f"/v1/reference/{kind}", json={"records": records}, headers=CITY)
        assert reply.status_code == 200 and reply.json()["rejected"] == 0, reply.text


CITY = bearer("city-stf", "city")


async def test_staff_the_district_removes_cannot_hand_a_child_over_and_the_child_stays(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = SchoolFixture("stf", 2)
    first, second = school.students
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    district = bearer("off-stf", "district", district_id="dst-att")
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=60) as enrollment, \
            httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as attendance:
        await _load(enrollment, school)
        await eventually(lambda: _full(attendance, school), timeout=120, what="both students on the roster")
        posted = await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                       json={"records": [school.check_in(first), school.check_in(second)]})
        assert posted.json()["accepted"] == 2, posted.text
        (out_before,) = (await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                               json={"records": [school.check_out(second)]})).json()["results"]
        assert out_before["status"] == "accepted", out_before

        removed = await enrollment.post(f"/v1/staff/{school.staff_id}/admission", headers=district,
                                        json={"admission": "removed", "reason": "资质到期"})
        assert removed.status_code == 200 and removed.json()["admission"] == "removed", removed.text
        await _attendance_heard(kafka_bootstrap, "StaffAdmissionChanged", staff_id=school.staff_id)

        (refused,) = (await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                            json={"records": [school.check_out(first)]})).json()["results"]
        assert (refused["status"], refused["reason_code"]) == ("rejected", "staff_not_admitted"), refused
        on_site = (await attendance.get(f"/v1/schools/{school.school_id}/on-site", headers=school.headers())).json()
        assert [s["student_id"] for s in on_site] == [first], "the child the removed teacher tried to hand over stays"



async def test_a_grandparent_the_guardian_names_collects_and_unlisted_or_revoked_people_are_refused(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = SchoolFixture("pku", 1)
    (child,) = school.students
    guardian = f"gdn-{child}"
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    as_guardian = bearer(guardian, "guardian")
    until = str(date.today() + timedelta(days=30))
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=60) as enrollment, \
            httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as attendance:
        await _load(enrollment, school,
                    students=[{"student_id": child, "school_id": school.school_id, "name": "学生", "grade": 3}],
                    guardians=[{"guardian_id": guardian, "school_id": school.school_id, "name": "王芳",
                                "phone": "13800001111", "student_ids": [child], "consent": True}])
        people = {}
        for name, relation in (("李建国", "祖父"), ("赵邻居", "邻居")):
            reply = await enrollment.post(f"/v1/students/{child}/pickup-persons", headers=as_guardian, json={
                "name": name, "relation": relation, "phone": "13700004321", "valid_until": until})
            assert reply.status_code == 201 and reply.json()["phone_masked"] == "137****4321", reply.text
            people[relation] = reply.json()["pickup_person_id"]
        stranger = bearer("gdn-someone-else", "guardian")
        assert (await enrollment.post(f"/v1/students/{child}/pickup-persons", headers=stranger, json={
            "name": "陌生人", "relation": "朋友", "phone": "13700004322", "valid_until": until})).status_code == 403
        revoked = await enrollment.delete(f"/v1/students/{child}/pickup-persons/{people['邻居']}", headers=as_guardian)
        assert revoked.status_code == 200 and revoked.json()["revoked"], revoked.text
        await _attendance_heard(kafka_bootstrap, "PickupPersonRevoked", pickup_person_id=people["邻居"])
        await eventually(lambda: _full(attendance, school), timeout=120, what="the child on the roster")

        records = [school.check_in(child),
                   school.check_out(child, record_id="out-unlisted", collected_by_id="pku-not-listed"),
                   school.check_out(child, record_id="out-revoked", collected_by_id=people["邻居"]),
                   school.check_out(child, record_id="out-grandpa", collected_by_id=people["祖父"])]
        results = []
        for record in records:  # one at a time, as the gate sends them
            reply = await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                          json={"records": [record]})
            results += [(r["status"], r.get("reason_code")) for r in reply.json()["results"]]
        assert results == [("accepted", None), ("rejected", "unauthorised_collector"),
                           ("rejected", "unauthorised_collector"), ("accepted", None)]
        day = (await attendance.get(f"/v1/schools/{school.school_id}/attendance", headers=school.headers())).json()
        (mine,) = [s for s in day["students"] if s["student_id"] == child]
        assert mine["collected_by_id"] == people["祖父"]
