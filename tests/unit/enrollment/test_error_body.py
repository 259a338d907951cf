"""Enrollment answers with the one error body (the kit's Problem): an unknown path, a body that fails
validation, a rule broken (422, one entry per reason) and a published programme changed (409, R4) carry
`detail` and a stable `reason`."""
from __future__ import annotations

from tests.problem import assert_problem
from tests.unit.enrollment.builders import World


async def test_a_404_a_422_and_a_changed_published_programme_have_the_same_shape(client, prefix) -> None:
    world = World(prefix)
    await world.load_reference(client)
    await world.open_programme(client)
    url = f"/v1/programmes/{world.programme}"

    assert_problem(await client.get("/v1/nowhere", headers=world.school_token), 404, "not_found")
    assert_problem(await client.put(url, json={**world.programme_spec(), "capacity": "many"},
                                    headers=world.school_token), 422, "invalid_request")
    assert_problem(await client.put(url, json=world.programme_spec(name="另一个名字"), headers=world.school_token),
                   409, "conflict")
