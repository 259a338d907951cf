"""The kit's HTTP edge against hostile input (issue 14): a bad path or query is 400 before routing, a
body past the limit 413 before it is parsed (from Content-Length or while it streams), deep nesting
400, a value the database cannot store 422; never a 500, always with a reason, and every operation's
OpenAPI documents those answers in the one Problem shape."""
from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError

from shared.messaging.http import CorrelationMiddleware, install_database_unavailable, install_input_guards

LIMIT = 4096


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    app = FastAPI()
    install_database_unavailable(app)
    install_input_guards(app, max_body_bytes=LIMIT)
    app.add_middleware(CorrelationMiddleware)
    reached: list[str] = []

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str, q: str | None = None) -> dict:
        reached.append(thing_id)
        return {"thing_id": thing_id, "q": q}

    @app.post("/things")
    async def post_thing(body: dict) -> dict:
        reached.append("post")
        return {"keys": len(body)}

    @app.post("/raw")
    async def raw(request: Request) -> dict:
        reached.append("raw")
        return {"size": len(await request.body())}

    @app.post("/store")
    async def store() -> dict:
        orig = asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        raise DBAPIError("insert into things values ($1)", ("a\x00",), orig) from orig  # as SQLAlchemy raises it

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kit") as c:
        yield c, reached


@pytest.mark.parametrize("target, says", [
    ("/things/a%00b", "path holds a NUL"),
    ("/things/a?q=x%00y", "query string holds a NUL"),
    ("/things/a%zz", "not followed by two hexadecimal digits"),
    ("/things/a?q=%ED%A0%80", "not UTF-8"),  # a lone surrogate (U+D800) encoded as if it were UTF-8
    ("/things/%FF%FE", "not UTF-8"),
])
async def test_a_bad_path_or_query_is_refused_before_routing(client, target: str, says: str) -> None:
    c, reached = client
    reply = await c.get(target)
    assert reply.status_code == 400 and reply.json()["reason"] == "invalid_request_target"
    assert says in reply.json()["detail"] and reply.headers["x-correlation-id"]
    assert reached == []


async def test_a_good_path_and_query_pass(client) -> None:
    c, reached = client
    reply = await c.get("/things/%E8%93%93%E8%95%BE", params={"q": "a b+c"})
    assert reply.status_code == 200 and reply.json() == {"thing_id": "蓓蕾", "q": "a b+c"}


async def test_a_body_over_the_limit_is_refused_from_its_content_length_before_the_route_runs(client) -> None:
    c, reached = client
    reply = await c.post("/raw", content=b"x" * (LIMIT + 1))
    assert reply.status_code == 413 and reply.json()["reason"] == "body_too_large"
    assert reached == []
    assert (await c.post("/raw", content=b"x" * LIMIT)).json() == {"size": LIMIT}


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(client) -> None:
    c, _ = client

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(10):
            yield b"x" * 1000

    for path in ("/raw", "/things"):
        reply = await c.post(path, content=chunks(), headers={"Content-Type": "application/json"})
        assert reply.status_code == 413, reply.text
        assert "over 4,096 bytes" in reply.json()["detail"]


async def test_a_content_length_that_is_not_a_number_is_refused(client) -> None:
    c, _ = client
    reply = await c.post("/raw", content=b"{}", headers={"Content-Length": "2x"})
    assert reply.status_code == 400 and reply.json()["reason"] == "invalid_content_length"


async def test_json_nested_too_deeply_is_a_400_not_a_500(client) -> None:
    c, _ = client
    deep = '{"a": ' + "[" * 2000 + "]" * 2000 + "}"
    reply = await c.post("/things", content=deep, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text


async def test_a_value_the_database_cannot_store_is_a_422_with_the_reason(client) -> None:
    c, _ = client
    reply = await c.post("/store")
    assert reply.status_code == 422 and reply.json()["reason"] == "unstorable_value"
    assert "NUL" in reply.json()["detail"]


async def test_every_operation_documents_the_errors_in_the_problem_shape(client) -> None:
    c, _ = client
    document = (await c.get("/openapi.json")).json()
    problem = {"$ref": "#/components/schemas/Problem"}
    assert "detail" in document["components"]["schemas"]["Problem"]["required"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "413", "422", "4XX", "503"} <= set(responses), (method, path)
            for code in ("400", "413", "4XX", "503"):
                assert responses[code]["content"]["application/json"]["schema"] == problem
            assert problem in responses["422"]["content"]["application/json"]["schema"].get("anyOf", [problem])
