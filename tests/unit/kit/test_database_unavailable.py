"""While PostgreSQL is down, restarting or out of connections, every route of every service answers 503
with Retry-After and a JSON reason (what the API tells school systems to retry on), not a 500; the kit
does it once in create_app. Other failures stay 500."""
from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from shared.messaging.runtime import build_runtime, create_app
from shared.settings import CommonSettings


def _refused() -> OSError:
    # What asyncpg raises through SQLAlchemy when nothing listens: no errno, one line per address tried.
    return OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432), "
                   "[Errno 99] Cannot assign requested address")


def _wrapped(orig: BaseException, *, invalidated: bool = False,
             cls: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> sa_exc.DBAPIError:
    try:
        raise cls("select 1", None, orig, connection_invalidated=invalidated) from orig
    except sa_exc.DBAPIError as exc:
        return exc


FAILURES = {
    "refused": lambda: ConnectionRefusedError(111, "Connection refused"),
    "connect-call-failed": _refused,
    "starting-up": lambda: asyncpg.CannotConnectNowError("the database system is starting up"),
    "shutting-down": lambda: asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    "connection-gone": lambda: asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    "connection-closed": lambda: asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    "invalidated": lambda: _wrapped(Exception("server closed the connection unexpectedly"), invalidated=True),
    "wrapped-gone": lambda: _wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed")),
    "operational": lambda: sa_exc.OperationalError("select 1", None, Exception("could not connect to server")),
    "pool-timeout": lambda: sa_exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"),
}
DEFECTS = {
    "integrity": lambda: _wrapped(asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
                                  cls=sa_exc.IntegrityError),
    "busy-connection": lambda: asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    "missing-file": lambda: FileNotFoundError(2, "No such file or directory"),
    "timeout": lambda: TimeoutError(),
    "value": lambda: ValueError("a defect"),
}


def _app(with_own_dbapi_handler: bool = False) -> FastAPI:
    router = APIRouter()

    @router.get("/fail/{kind}")
    async def fail(kind: str) -> dict:
        raise {**FAILURES, **DEFECTS}[kind]()

    rt = build_runtime("kit_probe", CommonSettings())
    app = create_app(rt, handlers={}, routers=[router], title="t", description="d")
    if with_own_dbapi_handler:
        # Like enrollment's: a service's own DBAPIError handler answers what it knows and re-raises the rest.
        async def own(request: Request, exc: sa_exc.DBAPIError) -> JSONResponse:
            if isinstance(exc, sa_exc.IntegrityError):
                return JSONResponse({"detail": "conflict"}, status_code=409)
            raise exc

        app.add_exception_handler(sa_exc.DBAPIError, own)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_a_route_failing_because_the_database_is_away_answers_503_with_retry_after(
        client: httpx.AsyncClient, kind: str) -> None:
    response = await client.get(f"/fail/{kind}", headers={"X-Correlation-Id": "c-503"})

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-correlation-id"] == "c-503"
    assert response.json()["reason"] == "database_unavailable"
    assert response.json()["detail"]


async def test_the_database_starting_up_is_named_in_the_reason(client: httpx.AsyncClient) -> None:
    response = await client.get("/fail/starting-up")

    assert response.json()["detail"].startswith("the database is starting up")


@pytest.mark.parametrize("kind", sorted(DEFECTS))
async def test_any_other_failure_stays_a_500(client: httpx.AsyncClient, kind: str) -> None:
    response = await client.get(f"/fail/{kind}")

    assert response.status_code == 500


async def test_a_service_handler_that_re_raises_a_database_outage_still_gives_503() -> None:
    transport = httpx.ASGITransport(app=_app(with_own_dbapi_handler=True), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        outage = await c.get("/fail/invalidated")
        conflict = await c.get("/fail/integrity")

    assert (outage.status_code, outage.headers.get("retry-after")) == (503, "5")
    assert conflict.status_code == 409


# -- the real drivers, against a server that is not there or not ready ---------------------------

async def _starting_up_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers like PostgreSQL during recovery: SSL and GSS declined, then FATAL 57P03 to the startup."""
    while True:
        length, code = struct.unpack("!ii", await reader.readexactly(8))
        await reader.readexactly(length - 8)
        if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
            writer.write(b"N")
            await writer.drain()
            continue
        fields = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"
        writer.write(b"E" + struct.pack("!i", len(fields) + 4) + fields)
        await writer.drain()
        writer.close()
        return


async def _ping_through_the_kit(database_url: str) -> httpx.Response:
    router = APIRouter()
    rt = build_runtime("kit_probe", CommonSettings(database_url=database_url))

    @router.get("/count")
    async def count() -> dict:
        await rt.db.ping()
        return {}

    app = create_app(rt, handlers={}, routers=[router], title="t", description="d")
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/count")
    finally:
        await rt.db.dispose()


async def test_a_database_that_refuses_connections_gives_503_through_the_real_drivers() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    response = await _ping_through_the_kit(f"postgresql://u:p@127.0.0.1:{port}/db")

    assert (response.status_code, response.json()["reason"]) == (503, "database_unavailable")


async def test_a_database_starting_up_gives_503_through_the_real_drivers() -> None:
    server = await asyncio.start_server(_starting_up_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        response = await _ping_through_the_kit(f"postgresql://u:p@127.0.0.1:{port}/db")
    finally:
        server.close()

    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database is starting up")
