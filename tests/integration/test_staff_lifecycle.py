"""Staff lifecycle on the running platform (issue 16, R11, R28): the district removes a staff member
through enrollment, enrollment publishes the decision, and attendance refuses that staff member's next
record, so the child they tried to hand over stays on site."""
from __future__ import annotations

import json

import httpx
import pytest

from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.local.platform import Platform
from tests.integration.kafkatools import caught_up, eventually, read_topic
from tests.integration.test_attendance_ingest import SchoolFixture, _full, _produce
from tests.tokens import bearer

pytestmark = pytest.mark.integration


async def _decision_published(bootstrap: str, staff_id: str) -> bool:
    bodies = [json.loads(r.value) for r in await read_topic(bootstrap, ENROLLMENT_EVENTS)]
    return any(b["type"] == "StaffAdmissionChanged" and b["payload"]["staff_id"] == staff_id for b in bodies)


async def test_staff_the_district_removes_cannot_hand_a_child_over_and_the_child_stays(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = SchoolFixture("stf", 2)
    first, second = school.students
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    city = bearer("city-stf", "city")
    district = bearer("off-stf", "district", district_id="dst-att")
    reference = {
        "districts": [{"district_id": "dst-att", "name": "考勤区"}],
        "schools": [{"school_id": school.school_id, "district_id": "dst-att", "name": "考勤小学"}],
        "staff": [{"staff_id": school.staff_id, "school_id": school.school_id, "name": "张老师", "admission": "admitted"}],
    }
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=60) as enrollment, \
            httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as attendance:
        for kind, records in reference.items():
            reply = await enrollment.post(f"/v1/reference/{kind}", json={"records": records}, headers=city)
            assert reply.status_code == 200 and reply.json()["rejected"] == 0, reply.text
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
        await eventually(lambda: _decision_published(kafka_bootstrap, school.staff_id), timeout=60,
                         what="StaffAdmissionChanged on enrollment.events")
        await eventually(lambda: caught_up(kafka_bootstrap, "attendance", ENROLLMENT_EVENTS), timeout=120,
                         what="attendance caught up with enrollment.events")

        (refused,) = (await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                            json={"records": [school.check_out(first)]})).json()["results"]
        assert (refused["status"], refused["reason_code"]) == ("rejected", "staff_not_admitted"), refused
        on_site = (await attendance.get(f"/v1/schools/{school.school_id}/on-site", headers=school.headers())).json()
        assert [s["student_id"] for s in on_site] == [first], "the child the removed teacher tried to hand over stays"

