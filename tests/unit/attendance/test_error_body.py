"""Attendance answers with the one error body (the kit's Problem): an unknown path, a body that fails
validation and a handover id resent with other content (R11, R28) carry `detail` and a stable `reason`."""
from __future__ import annotations

from tests.problem import assert_problem
from tests.unit.attendance.conftest import School, bearer, check_in


async def test_a_404_a_422_and_a_conflicting_handover_have_the_same_shape(client, uow_factory) -> None:
    school = School(uow_factory)
    relief = f"stf-relief-{school.school_id}"
    await school.publish(staff=[school.staff_id, relief])
    kid = await school.enroll()
    system = bearer("school_system", school=school.school_id)
    path = f"/v1/schools/{school.school_id}"
    await client.post(f"{path}/records", headers=system, json={"records": [check_in(school, kid)]})
    body = {"handover_id": "hov-shape", "programme_id": school.programme_id, "from_staff_id": school.staff_id,
            "to_staff_id": relief, "at": "2025-09-12T16:30:00+08:00", "student_ids": [kid]}
    assert (await client.post(f"{path}/handovers", headers=system, json=body)).status_code == 201

    assert_problem(await client.get("/v1/nowhere", headers=system), 404, "not_found")
    assert_problem(await client.post(f"{path}/handovers", headers=system, json={**body, "student_ids": "all"}),
                   422, "invalid_request")
    assert_problem(await client.post(f"{path}/handovers", headers=system,
                                     json={**body, "to_staff_id": school.staff_id, "from_staff_id": relief}),
                   409, "conflict")
    refused = assert_problem(await client.post(f"{path}/handovers", headers=system,
                                               json={**body, "handover_id": "hov-other", "to_staff_id": "stf-stranger"}),
                             422, "staff_not_admitted")
    assert refused["detail"]["reason_code"] == "staff_not_admitted", "where attendance's clients read it"


async def test_the_records_fast_path_refuses_in_the_same_shape(client, uow_factory) -> None:
    """The school gates' POST goes round the framework (RecordsFastPath); its refusals are Problems too."""
    school = School(uow_factory)
    system = bearer("school_system", school=school.school_id)
    path = f"/v1/schools/{school.school_id}/records"
    assert_problem(await client.post(path, headers={**system, "Content-Type": "application/json"}, content=b"{not json"),
                   400, "bad_request")
    assert_problem(await client.post(path, headers=system, json={"records": "all"}), 422, "invalid")
