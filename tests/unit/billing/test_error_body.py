"""Billing answers with the one error body (the kit's Problem): an unknown path, a body that fails
validation and a month settled before it ends (409, R17) carry `detail` and a stable `reason`; a
refusal by billing's rules lists every reason in `reasons` besides."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from services.billing.app import build
from services.billing.settings import Settings
from shared.messaging.db import Database
from tests.problem import assert_problem
from tests.unit.billing.conftest import auth


async def test_a_404_a_422_and_a_month_not_yet_ended_have_the_same_shape(billing_db: Database) -> None:
    app, rt = build(Settings(database_url=billing_db.url, database_schema=billing_db.schema))
    body = {"school_id": "sch-shape", "period": "2025-09"}
    unfinished = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billing") as client:
        assert_problem(await client.get("/v1/nowhere", headers=auth("city")), 404, "not_found")
        assert_problem(await client.post("/v1/settlements", json={**body, "period": 202509}, headers=auth("city")),
                       422, "invalid_request")
        early = assert_problem(await client.post("/v1/settlements", json={**body, "period": unfinished},
                                                 headers=auth("city")), 409, "conflict")
    assert "has not ended" in early["detail"] and early["reasons"] == [early["detail"]]
    await rt.db.dispose()
