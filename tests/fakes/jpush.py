"""Imitates the JPush push API v3 as documented: HTTP Basic authentication with appKey:masterSecret,
GET /v3/push/cid, POST /v3/push to registration ids, the cid rule (the same cid again returns the
first result and pushes nothing), error 1011 for an unknown device, and the frequency limit (429)."""
from __future__ import annotations

import asyncio
import base64
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class JPushFake:
    app_key: str = "0123456789abcdef01234567"
    master_secret: str = "fake-master-secret"
    devices: set[str] = field(default_factory=set)  # registration ids of installed apps
    per_minute: int | None = None
    latency: float = 0.0
    pushed: list[dict] = field(default_factory=list)
    requests: int = 0
    _cids: dict[str, dict | None] = field(default_factory=dict)
    _calls: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v3/push/cid", self._cid, methods=["GET"]),
                                 Route("/v3/push", self._push, methods=["POST"])])

    def delivered(self) -> list[dict]:
        with self._lock:
            return list(self.pushed)

    @staticmethod
    def _error(status: int, code: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.app_key}:{self.master_secret}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    async def _cid(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return self._error(401, 1004, "Authen failed")
        count = max(1, min(10, int(request.query_params.get("count", "1"))))  # a standard app gets at most 10
        cids = [f"{self.app_key}-{uuid.uuid4()}" for _ in range(count)]
        with self._lock:
            self._cids.update({c: None for c in cids})
        return JSONResponse({"cidlist": cids})

    async def _push(self, request: Request) -> JSONResponse:
        with self._lock:
            self.requests += 1
        if not self._authorised(request):
            return self._error(401, 1004, "Authen failed")
        if self.per_minute is not None:
            now = time.monotonic()
            with self._lock:
                self._calls = [t for t in self._calls if now - t < 60]
                over = len(self._calls) >= self.per_minute
                if not over:
                    self._calls.append(now)
            if over:
                return self._error(429, 2002, "Request times of the app_key exceed the limit of current time window",
                                   **{"X-Rate-Limit-Limit": str(self.per_minute), "X-Rate-Limit-Remaining": "0",
                                      "X-Rate-Limit-Reset": "60"})
        try:
            body = await request.json()
            ids = body["audience"]["registration_id"]
            alert = body["notification"]["alert"]
            assert body["platform"] in ("all", ["android", "ios"], ["android"], ["ios"]) and ids and alert
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error(400, 1003, "Parameter value is invalid")
        cid = body.get("cid")
        with self._lock:
            if cid is not None:
                if cid not in self._cids:
                    return self._error(400, 1003, "cid is invalid")
                first = self._cids[cid]
                if first is not None:
                    return JSONResponse(first)  # documented: the first successful result, nothing pushed again
            if not any(i in self.devices for i in ids):
                return self._error(400, 1011, "cannot find user by this audience or has been inactive for more "
                                   "than 255 days")
            result = {"sendno": str(body.get("options", {}).get("sendno", 0)), "msg_id": str(random.randrange(10**17, 10**18))}
            self.pushed.append({"registration_ids": ids, "alert": alert, "cid": cid, "msg_id": result["msg_id"],
                                "extras": body["notification"].get("android", {}).get("extras", {}),
                                "at": datetime.now(UTC)})
            if cid is not None:
                self._cids[cid] = result
        if self.latency:
            await asyncio.sleep(self.latency)
        return JSONResponse(result)
