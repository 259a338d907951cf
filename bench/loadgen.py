"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections on asyncio protocols (uvloop
when installed), responses parsed by httptools (a dependency of the services already), open-loop
scheduling, and its own CPU measured, so the client costs the machine little and says how much.

httpx spent about half a core posting PickupSurge's 310 records/s (most of it in its request and
connection-pool machinery); aiohttp is not among the project's locked dependencies. A POST here is one
`transport.write` of prebuilt bytes and one C parse of the reply.
"""
from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httptools


def cpu_seconds() -> float:
    """User + system CPU of this process so far (the load generator's own cost)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def due_times(count: int, rate: float, start: float = 0.0) -> Iterator[float]:
    """Open loop: when each of `count` requests is due at `rate` per second, independent of replies."""
    for i in range(count):
        yield start + i / rate


def request_bytes(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class HTTPError(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self._body: list[bytes] = []
        self._parser = httptools.HttpResponseParser(self)
        self._keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(HTTPError(f"bad response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HTTPError(f"connection closed: {exc}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))
        self._body = []

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        try:
            return await self.waiter
        finally:
            self.waiter = None
            if not self._keep_alive:
                self.transport.close()
                self.closed = True


class Client:
    """At most `connections` keep-alive connections to one origin; a request waits for a free one (the
    wait counts in the caller's latency, as a school system's queue would)."""

    def __init__(self, base_url: str, connections: int = 32) -> None:
        u = urlsplit(base_url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.authority = f"{self.host}:{self.port}"
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)
        self.requests = 0

    async def _connect(self) -> _Connection:
        _, conn = await asyncio.get_running_loop().create_connection(_Connection, self.host, self.port)
        return conn

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        raw = request_bytes(self.authority, path, body, headers or {})
        async with self._slots:
            conn = None
            while self._idle and conn is None:
                c = self._idle.pop()
                conn = None if c.closed else c
            if conn is None:
                conn = await self._connect()
            try:
                status, reply = await conn.request(raw)
            except BaseException:
                if conn.transport is not None:
                    conn.transport.close()
                raise
            self.requests += 1
            if not conn.closed:
                self._idle.append(conn)
            return status, reply

    async def close(self) -> None:
        for c in self._idle:
            if c.transport is not None:
                c.transport.close()
        self._idle.clear()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_loop(count: int, rate: float, fire) -> float:
    """Call `fire(i)` (which must not block: it starts a task) for i in range(count) at `rate` per second,
    catching up at once when the loop falls behind; returns the monotonic start."""
    start = time.monotonic()
    for i, due in enumerate(due_times(count, rate, start)):
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        fire(i)
    return start
