"""Notification answers with the one error body (the kit's Problem): an unknown path, a body that fails
validation and a broadcast id reused for another notice carry `detail` and a stable `reason`."""
from __future__ import annotations

import uuid

import httpx
import pytest

from services.notification.app import build
from services.notification.settings import Settings
from tests.problem import assert_problem
from tests.tokens import bearer
from tests.unit.notification.test_broadcast import notice
from tests.unit.notification.test_sender import unique

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_a_404_a_422_and_a_reused_broadcast_id_have_the_same_shape(db) -> None:
    app, rt = build(Settings(database_url=db.url, database_schema=db.schema))
    school, bid = unique("sch"), str(uuid.uuid4())
    headers = bearer("usr-p", "school", school_id=school)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notification") as client:
        assert (await client.post("/v1/broadcasts", json=notice(school, broadcast_id=bid), headers=headers)).status_code == 201
        assert_problem(await client.get("/v1/nowhere", headers=headers), 404, "not_found")
        assert_problem(await client.post("/v1/broadcasts", json={**notice(school), "scope": "galaxy"}, headers=headers),
                       422, "invalid_request")
        assert_problem(await client.post("/v1/broadcasts", json=notice(school, broadcast_id=bid, body="另一条通知"),
                                         headers=headers), 409, "conflict")
    await rt.db.dispose()
