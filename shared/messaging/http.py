"""HTTP edge of every service: a correlation id per request (taken from X-Correlation-Id or made),
set for the logs and the events the request publishes, and echoed back to the caller; 503 with
Retry-After, not 500, while the database is away; 4xx with a reason, not 500, for hostile input, and
the one error shape (Problem) every operation documents; no phone or ID number echoed back in the clear.
Nothing here knows a service's routes."""
from __future__ import annotations

import errno
import logging
import re
import socket
import uuid
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import unquote_to_bytes

import asyncpg
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import correlation_id
from shared.privacy import redact

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


class _ResponseWatch:
    """The `send` of a request, noting whether the response has begun: after that, no other answer fits."""

    def __init__(self, send: Send) -> None:
        self.send, self.started = send, False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


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
        refused = unstorable(exc)
        if refused is None:
            raise exc
        return _unstorable_response(request.url.path, refused, exc)
    _log_unavailable(request.url.path, reason, exc)
    return unavailable_response(reason)


# A value the caller sent that PostgreSQL cannot hold (a NUL, a lone surrogate, a number past bigint, an
# instant past its range) is the caller's error: 422 with the reason, whichever route let it through.
# Only these data exceptions: another (a division by zero, say) is the service's bug and stays a 500.
_UNSTORABLE_STATES = {"22021": "a text holds a NUL character or bytes that are not UTF-8",
                      "22P05": "a text holds a character the database cannot store",
                      "22003": "a number is out of the range the database stores",
                      "22008": "a date or time is out of the range the database stores"}


def unstorable(exc: BaseException) -> str | None:
    """Why the database refused a value of the request (a reason for the caller), else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if isinstance(current, UnicodeEncodeError):
            return "a text holds a lone surrogate, which is not valid Unicode"
        if isinstance(current, OverflowError):
            return "a number or an instant is out of the range the database stores (64-bit integers, years 1-9999)"
        if isinstance(current, asyncpg.PostgresError) and str(current.sqlstate) in _UNSTORABLE_STATES:
            return _UNSTORABLE_STATES[str(current.sqlstate)]
        current = current.__cause__ or current.__context__
    return None


def _unstorable_response(path: str, reason: str, exc: BaseException) -> JSONResponse:
    log.warning("answered 422: a value the database cannot store", extra={
        "path": path, "reason": reason, "error": type(exc).__name__})
    return problem(422, f"{reason}; nothing was stored", "unstorable_value")


def _log_unavailable(path: str, reason: str, exc: BaseException) -> None:
    log.warning("answered 503: database unavailable", extra={"path": path, "reason": reason,
                                                              "error": f"{type(exc).__name__}: {exc}"[:300]})


class DatabaseUnavailableMiddleware(_HttpMiddleware):
    """Answers 503 for a database outage, and 422 for a value it cannot store, that no exception handler
    answered (a service's own handler for DBAPIError, say, re-raises what it does not know). A response
    already begun is left alone."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = _ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            reason = None if watch.started else database_unavailable(exc)
            refused = None if watch.started or reason else unstorable(exc)
            if reason:
                _log_unavailable(scope.get("path", ""), reason, exc)
                await unavailable_response(reason)(scope, receive, send)
            elif refused:
                await _unstorable_response(scope.get("path", ""), refused, exc)(scope, receive, send)
            else:
                raise


def install_database_unavailable(app: FastAPI) -> None:
    """Every route of `app` answers 503 with Retry-After while the database is away. Call before a
    service adds its own handlers, so a more specific one of theirs still wins."""
    for cls in DATABASE_ERRORS:
        app.add_exception_handler(cls, database_unavailable_handler)
    app.add_middleware(DatabaseUnavailableMiddleware)


# -- hostile input ------------------------------------------------------------------------------------
# A request a client got wrong, by accident or on purpose, is answered 4xx with a reason, never 500, and
# before it costs anything: a NUL byte or bytes that are not UTF-8 in the path or query (PostgreSQL and
# every log line refuse them), a body past the limit (refused from Content-Length, or as soon as the
# stream passes it: nothing that large is buffered, let alone parsed), JSON nested deeper than Python's
# parser recurses. One place for every route of every service.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class Problem(BaseModel):
    """The body of every error the platform answers: a sentence for the caller, and for a refusal by a
    rule of the domain a stable code. Request validation (422) lists its errors in `detail` instead, in
    the framework's shape; a refusal with several reasons lists them in `reasons`."""

    model_config = ConfigDict(extra="allow")

    detail: str | list[dict[str, Any]] | dict[str, Any] = Field(
        description="What is wrong, in words; for request validation, one entry per field in error.")
    reason: str | None = Field(None, description="Stable code of the refusal, where the route gives one.")
    reasons: list[str] | None = Field(None, description="Every reason, when a rule refused for several.")


class RequestBody(BaseModel):
    """The base of every body a caller sends: a field the model does not declare is refused (422 naming
    it), so no caller sets what the server decides (ids it assigns, status, approval, actor, amounts the
    rules derive) by adding a field a later version might read (issue 15, mass assignment)."""

    model_config = ConfigDict(extra="forbid")


def problem(status: int, detail: str, reason: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "reason": reason}, status_code=status)


# The code an error carries when its route gives none: a caller branches on `reason`, never on the words.
_STATUS_REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                   405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "body_too_large",
                   415: "unsupported_media_type", 422: "invalid", 429: "rate_limited", 503: "unavailable"}


def problem_body(status: int, detail: Any, reason: str | None = None, **more: Any) -> dict[str, Any]:
    """The one error body (Problem): `detail` in words (or, for request validation, one entry per field),
    `reason` a stable code (the route's, else one for the status), and what else the route adds
    (`reasons` for a rule refused for several)."""
    body = {"detail": detail, "reason": reason or _STATUS_REASONS.get(status, "refused" if status < 500 else "failed")}
    body.update({key: value for key, value in more.items() if value is not None})
    return body


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """An HTTPException as a Problem. A route that has a code for its refusal raises it with
    `detail={"detail": ..., "reason": ...}`; a route without one gets the status's."""
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    given = exc.detail
    if isinstance(given, dict) and "detail" in given:
        body = problem_body(exc.status_code, **given)
    elif isinstance(given, dict) and isinstance(given.get("reason_code"), str):
        # Attendance's refusals carry {"reason_code", "reason"} in `detail` (clients read it there); the
        # code is the Problem's reason as well.
        body = problem_body(exc.status_code, given, given["reason_code"])
    else:
        body = problem_body(exc.status_code, given)
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """Request validation as a Problem: the framework's list of field errors in `detail`."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(problem_body(422, jsonable_encoder(exc.errors()), "invalid_request"), status_code=422)


def install_error_body(app: FastAPI) -> None:
    """Every error the framework answers (an unknown path, a route's HTTPException, a body that fails
    validation) has the Problem body, as the services' own refusals do."""
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)


class BodyTooLarge(HTTPException):
    """Raised from the request's receive channel once the body passes the limit; answered 413 by the
    app's HTTPException handler (or by InputGuardMiddleware, if a route swallowed it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over {limit:,} bytes, the most this service reads; "
                              "split the batch or send less")


def bad_request_target(scope: Scope) -> str | None:
    """Why the path or query of this request cannot be taken (a reason for the caller), else None."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    for part, raw in (("path", raw_path), ("query string", scope.get("query_string") or b"")):
        if _BAD_ESCAPE.search(raw):
            return f"the {part} has a '%' that is not followed by two hexadecimal digits"
        try:
            text = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return f"the {part} is not UTF-8 once percent-decoded (a lone surrogate, or bytes that are not text)"
        if "\x00" in text:
            return f"the {part} holds a NUL character, which no identifier or parameter may hold"
    return None


class InputGuardMiddleware(_HttpMiddleware):
    """Refuses a bad path or query (400) before routing, and a body past `max_body_bytes` (413) from its
    Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        super().__init__(app)
        self.limit = max_body_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit, size, watch = self.limit, 0, _ResponseWatch(send)

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge as exc:
            if watch.started:
                raise
            await problem(413, exc.detail, "body_too_large")(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        reason = bad_request_target(scope)
        if reason:
            return problem(400, reason, "invalid_request_target")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                return problem(400, f"Content-Length {length[:40]!r} is not a number of bytes", "invalid_content_length")
            if int(length) > self.limit:
                return problem(413, f"the body is {int(length):,} bytes; at most {self.limit:,}; "
                                    "split the batch or send less", "body_too_large")
        return None


class RedactionMiddleware(_HttpMiddleware):
    """Masks mobile and resident ID numbers (shared.privacy.redact) in every JSON error body and in the answer
    to every write, whatever built it: the framework's validation errors echo the refused `input`, per-record
    reasons quote the value they refuse, a batch answer echoes each record id (issue 15: a phone sent as a
    student id must not come back in the clear). Reads (GET) are left byte for byte as stored: what the
    audit ledger serves is verified by its hash, and input boundaries refuse such numbers in names."""

    _READS = frozenset({"GET", "HEAD", "OPTIONS"})

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        write = scope.get("method", "GET") not in self._READS
        held: Message | None = None
        chunks: list[bytes] = []

        async def redacting(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if (write or message["status"] >= 400) and _is_json(message.get("headers") or []):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = _redact_body(b"".join(chunks))
                headers = [(k, v) for k, v in held.get("headers") or [] if k.lower() != b"content-length"]
                await send({**held, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, redacting)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v.lower() for k, v in headers)


def _redact_body(body: bytes) -> bytes:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    masked = redact(text)
    return body if masked == text else masked.encode("utf-8")


async def too_deep_handler(request: Request, exc: Exception) -> Response:
    return problem(400, "the body is nested too deeply to be read", "nested_too_deeply")


def _problem_schema() -> dict[str, Any]:
    return Problem.model_json_schema(ref_template="#/components/schemas/{model}")


def document_errors(app: FastAPI) -> None:
    """Every operation documents the errors any route may answer: 400 and 413 (InputGuardMiddleware),
    503 (the database away), any other 4xx as a Problem, 422 as a Problem or request validation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = _problem_schema()
        ref = {"$ref": "#/components/schemas/Problem"}
        content = {"application/json": {"schema": ref}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                for code, text in _ALWAYS.items():
                    responses.setdefault(code, {"description": text})
                for code, response in responses.items():
                    if code[0] in "45":
                        given = response.get("content", {}).get("application/json", {}).get("schema")
                        response["content"] = (
                            {"application/json": {"schema": {"anyOf": [given, ref]}}} if given and given != ref
                            else content)
        declare_security(app, schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# -- declared security ---------------------------------------------------------------------------------
BEARER = "bearerAuth"
_BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                  "description": "A bearer token with a role and, for a school or district, its scope (R27)."}


def needs_token(dependant: Any) -> bool:
    """Whether a route's dependencies verify the caller's token (directly, through `require`, or as a
    declared security dependency)."""
    from fastapi.security.base import SecurityBase

    from shared.auth import current_principal

    if dependant.call is current_principal or isinstance(dependant.call, SecurityBase):
        return True
    return any(needs_token(d) for d in dependant.dependencies)


def api_routes(app: FastAPI) -> list[Any]:
    """The app's operations as the OpenAPI document sees them: included routers flattened, each route with
    its router's dependencies (FastAPI keeps included routers as branches since 0.16x)."""
    from fastapi.openapi import utils
    from fastapi.routing import APIRoute

    contexts = getattr(utils, "_get_api_route_for_openapi", None)
    if contexts is None:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    from fastapi.routing import iter_route_contexts

    return [r for r in (contexts(c) for c in iter_route_contexts(app.routes)) if r is not None]


def declare_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """The bearer scheme once, and on every operation its security: bearerAuth where the route verifies a
    token, an empty list (open) where it does not. A route that reads its token itself (not through a
    dependency) says so with `openapi_extra={"security": [{"bearerAuth": []}]}`."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER] = _BEARER_SCHEME
    secured = {(route.path_format, method.lower()) for route in api_routes(app)
               if needs_token(route.dependant) for method in route.methods}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if (path, method) in secured:
                operation["security"] = [{BEARER: []}]
            else:
                operation.setdefault("security", [])


_ALWAYS = {
    "400": "The path, query or body cannot be read: a NUL character, bytes that are not UTF-8, JSON nested too deeply.",
    "413": "The body is larger than this service reads.",
    "422": "The request is not valid, or a rule refused it; `detail` says why.",
    "429": "Too many requests from this caller; retry after Retry-After seconds.",
    "4XX": "Refused; `detail` says why.",
    "503": "The database is away or the service is stopping; retry after Retry-After seconds.",
}


def install_input_guards(app: FastAPI, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
    """Every route of `app` answers hostile input 4xx with a reason (see InputGuardMiddleware) that echoes
    no phone or ID number (RedactionMiddleware), and its OpenAPI documents the errors routes answer. Call before
    CorrelationMiddleware is added, so refusals carry the correlation id too."""
    app.add_exception_handler(RecursionError, too_deep_handler)
    app.add_middleware(InputGuardMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(RedactionMiddleware)  # around the guard, so its refusals are masked too
    document_errors(app)


# -- rate limits --------------------------------------------------------------------------------------
# Each principal (the verified token's `sub`; without a valid token, the client's address) draws from a
# bucket of its own: `burst` requests at once, refilled at `per_second`. Past it: 429 with Retry-After and
# a Problem body, before the request costs anything. Per process: each replica keeps its own buckets, so
# the limit a deployment enforces is per replica. Health probes and metrics are never limited (the
# platform's own probes must not be starved by a busy caller).
DEFAULT_RATE_EXEMPT = ("/health/", "/metrics")


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class RateLimitMiddleware(_HttpMiddleware):
    """Token bucket per principal; 429 + Retry-After + Problem once a principal's bucket is empty."""

    _MAX_BUCKETS = 100_000

    def __init__(self, app: ASGIApp, per_second: float, burst: int,
                 exempt: tuple[str, ...] = DEFAULT_RATE_EXEMPT, clock: Any = None) -> None:
        super().__init__(app)
        import time

        self.rate, self.burst, self.exempt = per_second, max(1, burst), exempt
        self.clock = clock or time.monotonic
        self.buckets: dict[str, _Bucket] = {}

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.rate <= 0 or scope.get("path", "").startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        wait = self._take(self.principal(scope))
        if wait is None:
            await self.app(scope, receive, send)
            return
        retry = max(1, int(wait + 0.999))
        response = problem(429, f"too many requests from this caller: at most {self.burst} at once and "
                                f"{self.rate:g} a second; retry in {retry} s", "rate_limited")
        response.headers["Retry-After"] = str(retry)
        await response(scope, receive, send)

    def principal(self, scope: Scope) -> str:
        """The token's verified subject, else the client's address: an unverified `sub` is anyone's to
        choose, so a forged token would otherwise buy a fresh bucket per request. The verifier remembers the
        tokens it has verified (until they expire), so this costs a look-up, not a signature check."""
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = header.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            subject = self._verify(scope, token)
            if subject is not None:
                return subject
        client = scope.get("client")
        return f"address:{client[0] if client else 'unknown'}"

    @staticmethod
    def _verify(scope: Scope, token: str) -> str | None:
        try:
            principal = scope["app"].state.runtime.authority.verify(token)
        except Exception:  # not ours, malformed or expired: the route answers 401; here it is no one's
            return None
        return f"sub:{principal.subject}"

    def _take(self, key: str) -> float | None:
        """None when `key` may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self._MAX_BUCKETS:
                self._forget_full(now)
            bucket = self.buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing for their callers."""
        full = [k for k, b in self.buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full:
            del self.buckets[key]
        if len(self.buckets) >= self._MAX_BUCKETS:
            self.buckets.clear()


def install_rate_limits(app: FastAPI, per_second: float, burst: int) -> None:
    """Every route of `app` but health and metrics is limited per principal (see RateLimitMiddleware);
    `per_second` 0 turns the limit off."""
    app.add_middleware(RateLimitMiddleware, per_second=per_second, burst=burst)
