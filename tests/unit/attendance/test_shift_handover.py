"""Staff shift handover (交接班, R11, R28): a staff member going off shift hands the children still on site to
an admitted colleague; recorded once per handover id, announced as StaffShiftHandedOver, listed for the day."""
from __future__ import annotations

from services.attendance.domain.handover import judge_handover
from services.attendance.domain.ingest import Rejection
from tests.unit.attendance.conftest import DAY, School, bearer, check_in, outbox


async def test_children_on_site_are_handed_to_an_admitted_colleague_once_and_listed(client, uow_factory) -> None:
    school = School(uow_factory)
    relief = f"stf-relief-{school.school_id}"
    await school.publish(staff=[school.staff_id, relief])
    kids = [await school.enroll() for _ in range(3)]
    system = bearer("school_system", school=school.school_id)
    path = f"/v1/schools/{school.school_id}"
    posted = await client.post(f"{path}/records", headers=system, json={"records": [check_in(school, k) for k in kids]})
    assert posted.json()["accepted"] == 3, posted.text

    body = {"handover_id": "hov-1", "programme_id": school.programme_id, "from_staff_id": school.staff_id,
            "to_staff_id": relief, "at": "2025-09-12T16:30:00+08:00", "student_ids": [*kids, "stu-not-here"]}
    first = await client.post(f"{path}/handovers", headers=system, json=body)
    assert first.status_code == 201, first.text
    assert sorted(first.json()["student_ids"]) == sorted(kids)
    assert [r["reason_code"] for r in first.json()["refused"]] == ["not_on_site"]
    again = await client.post(f"{path}/handovers", headers=system, json=body)
    assert again.status_code == 200 and again.json() == first.json()
    changed = await client.post(f"{path}/handovers", headers=system, json={**body, "to_staff_id": school.staff_id,
                                                                            "from_staff_id": relief})
    assert changed.status_code == 409

    (event,) = await outbox(uow_factory, school.school_id, "StaffShiftHandedOver")
    assert (event["payload"]["from_staff_id"], event["payload"]["to_staff_id"]) == (school.staff_id, relief)
    assert sorted(event["payload"]["student_ids"]) == sorted(kids)

    listed = await client.get(f"{path}/handovers", params={"day": DAY.isoformat()},
                              headers=bearer("district", district="dst-unit"))
    assert listed.status_code == 200 and [h["handover_id"] for h in listed.json()] == ["hov-1"]
    other = bearer("school_system", school="sch-elsewhere")
    assert (await client.post(f"{path}/handovers", headers=other, json=body)).status_code == 403


async def test_a_handover_to_or_from_staff_not_admitted_is_refused_whole(client, uow_factory) -> None:
    school = School(uow_factory)
    await school.publish()
    system = bearer("school_system", school=school.school_id)
    body = {"handover_id": "hov-2", "programme_id": school.programme_id, "from_staff_id": school.staff_id,
            "to_staff_id": "stf-stranger", "at": "2025-09-12T16:30:00+08:00"}
    refused = await client.post(f"/v1/schools/{school.school_id}/handovers", headers=system, json=body)
    assert refused.status_code == 422 and refused.json()["detail"]["reason_code"] == "staff_not_admitted"
    assert await outbox(uow_factory, school.school_id, "StaffShiftHandedOver") == []


def test_the_rules_refuse_the_same_staff_member_and_an_unknown_programme() -> None:
    assert judge_handover(None, "sch-1", "a", "b", [], None) == Rejection(
        "unknown_programme", "school sch-1 runs no such published programme")
    from services.attendance.domain.schedule import Schedule

    schedule = Schedule("prg-1", "sch-1", "dst-1", (), None, frozenset({"a", "b"}), "a")
    assert isinstance(judge_handover(schedule, "sch-1", "a", "a", [], None), Rejection)
    handed = judge_handover(schedule, "sch-1", "a", "b", ["s1", "s2"], None)
    assert not isinstance(handed, Rejection) and handed.handed == ("s1", "s2") and handed.refused == ()
