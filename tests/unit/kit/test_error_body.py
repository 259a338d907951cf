"""create_app installs one error body for every service: an unknown path (404), a body that fails
validation (422) and a route's own refusal (409) all answer a Problem, with a stable reason."""
from __future__ import annotations

import httpx
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from shared.messaging.runtime import build_runtime, create_app
from shared.settings import CommonSettings
from tests.problem import assert_problem

router = APIRouter()


class Thing(BaseModel):
    count: int


@router.post("/things")
async def add(thing: Thing) -> dict:
    if thing.count == 0:
        raise HTTPException(409, "a thing of nothing is already there")
    if thing.count < 0:
        raise HTTPException(409, {"detail": "negative things conflict with the ledger", "reason": "negative_thing"})
    return {"count": thing.count}


@router.get("/empty", status_code=204)
async def empty() -> None:
    raise HTTPException(304)


async def test_a_404_a_422_and_a_routes_409_answer_the_same_problem_body() -> None:
    app = create_app(build_runtime("kit_errors", CommonSettings()), handlers={}, routers=[router], title="t",
                     description="d")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert_problem(await client.get("/nowhere"), 404, "not_found")
        invalid = assert_problem(await client.post("/things", json={"count": "many"}), 422, "invalid_request")
        assert invalid["detail"][0]["loc"] == ["body", "count"], "the fields in error, in the framework's shape"
        assert_problem(await client.post("/things", json={"count": 0}), 409, "conflict")
        assert_problem(await client.post("/things", json={"count": -1}), 409, "negative_thing")
        assert (await client.post("/things", json={"count": 2})).json() == {"count": 2}
        not_modified = await client.get("/empty")
        assert not_modified.status_code == 304 and not_modified.content == b"", "no body where none is allowed"
