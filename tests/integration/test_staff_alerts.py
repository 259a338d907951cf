"""Safety alerts reach the staff answering for the child on the running platform (issue 16, R11-R13): the
school records its class teacher, programme lead and safety contact through enrollment's HTTP route, and
attendance's own absence and escalation timers and a refused pickup reach each of them in notification's
sink, with the duty they were told for, by name and never by id."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from local.platform import Platform
from shared.contracts.enrollment import EnrollmentFiled
from shared.contracts.topics import ENROLLMENT_EVENTS
from tests.integration.kafkatools import caught_up, eventually
from tests.integration.test_attendance_ingest import (  # noqa: F401 - the fixture keeps clear of local midnight
    SchoolFixture,
    _clear_of_midnight,
    _full,
    _now_local,
    _produce,
)
from tests.integration.test_staff_lifecycle import CITY, _load, _published

pytestmark = pytest.mark.integration


async def _sink(client: httpx.AsyncClient, recipient_id: str) -> list[dict]:
    reply = await client.get("/v1/sink", params={"recipient_id": recipient_id}, headers=CITY)
    reply.raise_for_status()
    return reply.json()


async def test_absence_escalation_and_a_refused_pickup_reach_the_named_staff_with_their_duty(
    platform: Platform, kafka_bootstrap: str
) -> None:
    # A session from 00:00 to 00:01 local with extended care until 00:02: by now attendance's sweep has an
    # absence (nobody checked `absent` in) and an escalation (`stays` is never collected) to raise.
    school = SchoolFixture("alrt", 3, session=("00:00", "00:01"), extended_care_until="00:02")
    absent, stays, refused = school.students
    teacher, lead, safety = (f"stf-{school.school_id}-{duty}" for duty in ("ct", "pl", "sc"))
    contacts = {teacher: ("王丽", {"roles": ["class_teacher"], "class_ids": [f"cls-{school.school_id}-3-2"]}),
                lead: ("欧阳明", {"roles": ["programme_lead"], "programme_ids": [school.programme_id]}),
                safety: ("赵强", {"roles": ["safety_contact"]}),
                school.staff_id: ("张老师", {"roles": []})}  # on duty at the gate: named in messages, no alerts
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=60) as enrollment:
        await _load(enrollment, school, staff=[
            {"staff_id": staff_id, "school_id": school.school_id, "name": name, "admission": "admitted"}
            for staff_id, (name, _) in contacts.items()])
        for i, (staff_id, (_, duties)) in enumerate(contacts.items()):
            reply = await enrollment.post(f"/v1/staff/{staff_id}/contact", headers=CITY,
                                          json={**duties, "phone": f"1370000{i:04d}"})
            assert reply.status_code == 200 and reply.json()["phone_masked"] == f"137****{i:04d}", reply.text
    for staff_id in contacts:  # each contact is its own outbox record: wait for the last as well as the first
        await eventually(lambda s=staff_id: _published(kafka_bootstrap, "StaffRegistered", staff_id=s), timeout=60,
                         what=f"the contact of {staff_id} published")
    await eventually(lambda: caught_up(kafka_bootstrap, "notification", ENROLLMENT_EVENTS), timeout=120,
                     what="notification caught up with the staff contacts")

    # Only now the programme and the enrollments: attendance's timers start from the roster.
    events = [e.model_copy(update={"class_teacher_id": teacher}) if isinstance(e, EnrollmentFiled) else e
              for e in school.events()]
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, events, "enrollment")
    midnight = _now_local().replace(hour=0, minute=0, second=0, microsecond=0)
    def at(seconds: float) -> str:
        return (midnight + timedelta(seconds=seconds)).isoformat()
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as attendance:
        await eventually(lambda: _full(attendance, school), timeout=120, what="the roster")
        records = [school.check_in(stays) | {"at": at(20)}, school.check_in(refused) | {"at": at(20)},
                   school.check_out(refused, record_id="out-stranger", collected_by_id="pku-not-listed") | {"at": at(40)},
                   school.check_out(refused) | {"at": at(50)}]
        # One request, applied in order in one transaction, so no timer sweep sees the refused child on site
        # between the refusal and the real check-out (and escalates them, the session being long over).
        reply = await attendance.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                      json={"records": records})
        results = [(r["status"], r.get("reason_code")) for r in reply.json()["results"]]
        assert results == [("accepted", None), ("accepted", None), ("rejected", "unauthorised_collector"),
                           ("accepted", None)]

    expected = {teacher: [("StudentAbsent", "class_teacher")], lead: [("ExtendedCareEscalated", "programme_lead")],
                safety: [("ExtendedCareEscalated", "safety_contact"), ("UnauthorisedPickupRefused", "safety_contact")]}
    async with httpx.AsyncClient(base_url=platform["notification"].url, timeout=60) as notification:
        async def all_sent() -> dict[str, list[dict]] | None:
            rows = {staff_id: await _sink(notification, staff_id) for staff_id in expected}
            done = all(sum(m["status"] == "sent" for m in rows[s]) >= len(want) for s, want in expected.items())
            return rows if done else None

        rows = await eventually(all_sent, timeout=180, what="the staff alerts handed over")
    told = {staff_id: sorted((m["cause_event_type"], m["recipient_role"]) for m in messages)
            for staff_id, messages in rows.items()}
    assert told == expected, {s: [(m["event_id"], m["body"]) for m in ms] for s, ms in rows.items()}
    bodies = {staff_id: [m["body"] for m in messages] for staff_id, messages in rows.items()}
    assert all(m["status"] == "sent" and m["to_masked"].startswith("137****") for ms in rows.values() for m in ms)
    assert "您班上的学生0" in bodies[teacher][0], bodies[teacher]
    refusal = next(m["body"] for m in rows[safety] if m["cause_event_type"] == "UnauthorisedPickupRefused")
    assert "被张老师拒绝" in refusal, refusal  # the staff member at the gate, by name
    assert not any(token in body for ms in bodies.values() for body in ms for token in ("stf-", "stu-", "prg-", "sch-"))
