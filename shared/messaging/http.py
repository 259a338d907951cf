"""HTTP edge of every service: a correlation id per request (taken from X-Correlation-Id or made),
set for the logs and the events the request publishes, and echoed back to the caller; and 503 with
Retry-After, not 500, while the database is away. Nothing here knows a service's routes."""
from __future__ import annotations

import errno
import logging
import socket
import uuid
from abc import ABC, abstractmethod

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import correlation_id

log = logging.getLogger(__name__)

HEADER = b"x-correlation-id"


class _HttpMiddleware(ABC):
    """Pure ASGI (no body buffering), so it costs nothing on the batch endpoints; other scopes pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request."""


class CorrelationMiddleware(_HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers") or []).get(HEADER, b"").decode("latin-1").strip()
        cid = given[:128] if given else str(uuid.uuid4())
        token = correlation_id.set(cid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, cid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)


# -- the database away ------------------------------------------------------------------------------
# While PostgreSQL is down, restarting or out of connections, a request cannot succeed now but will
# shortly: it is answered 503 with Retry-After (what the API tells school systems to retry on), never a
# 500. One place for every route: an exception handler (found by routes and by middlewares that ask the
# app's handlers) and a middleware for what a service's own handler for the same class lets through.
RETRY_AFTER_SECONDS = 5
# SQLSTATE classes and codes that say the server cannot be reached or is not accepting work: connection
# exceptions (08), admin/crash shutdown and "the database system is starting up" (57P01-57P03), too many
# connections (53300).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
_CONNECTION_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
                      errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE, errno.ENOTCONN, errno.EHOSTDOWN}


def _why_unavailable(exc: BaseException) -> str | None:
    if isinstance(exc, sa_exc.TimeoutError):
        return "no database connection came free in time"
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return "the connection to the database was lost"
    if isinstance(exc, sa_exc.OperationalError):
        return "the database is unreachable"
    state = str(getattr(exc, "sqlstate", "") or "")
    if isinstance(exc, asyncpg.PostgresError) and state.startswith(_UNAVAILABLE_STATES):
        return "the database is starting up" if state == "57P03" else "the database is unreachable"
    if isinstance(exc, (asyncpg.InterfaceError, sa_exc.InterfaceError)) and "connection is closed" in str(exc):
        return "the connection to the database was lost"
    if isinstance(exc, (ConnectionError, socket.gaierror)) or (
        isinstance(exc, OSError) and not isinstance(exc, TimeoutError) and (
            exc.errno in _CONNECTION_ERRNOS or (exc.errno is None and "connect call failed" in str(exc).lower()))):
        return "the database is unreachable"
    return None


def database_unavailable(exc: BaseException) -> str | None:
    """Why `exc` means the database cannot be reached right now (a reason for the caller), else None.
    Follows the chain of causes: SQLAlchemy wraps asyncpg's error, which may wrap the socket's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        reason = _why_unavailable(current)
        if reason:
            return reason
        current = current.__cause__ or current.__context__
    return None


def unavailable_response(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{reason}; retry in a few seconds (a resend is harmless)", "reason": "database_unavailable"},
        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# The exception classes a database outage surfaces as (the handler re-raises anything else of them).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.DBAPIError, sa_exc.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    reason = database_unavailable(exc)
    if reason is None:
        raise exc
    _log_unavailable(request.url.path, reason, exc)
    return unavailable_response(reason)


def _log_unavailable(path: str, reason: str, exc: BaseException) -> None:
    log.warning("answered 503: database unavailable", extra={"path": path, "reason": reason,
                                                              "error": f"{type(exc).__name__}: {exc}"[:300]})


class DatabaseUnavailableMiddleware(_HttpMiddleware):
    """Answers 503 for a database outage that no exception handler answered (a service's own handler for
    DBAPIError, say, re-raises what it does not know). A response already begun is left alone."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            reason = None if started else database_unavailable(exc)
            if reason is None:
                raise
            _log_unavailable(scope.get("path", ""), reason, exc)
            await unavailable_response(reason)(scope, receive, send)


def install_database_unavailable(app: FastAPI) -> None:
    """Every route of `app` answers 503 with Retry-After while the database is away. Call before a
    service adds its own handlers, so a more specific one of theirs still wins."""
    for cls in DATABASE_ERRORS:
        app.add_exception_handler(cls, database_unavailable_handler)
    app.add_middleware(DatabaseUnavailableMiddleware)
