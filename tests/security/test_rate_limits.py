"""Rate limits per principal (issue 15): past its burst a caller gets 429 with Retry-After and the kit's
Problem body, before the request costs anything, and gets through again once the bucket refills; one
caller's flood never throttles another; a forged token buys no bucket of its own; health probes and
metrics are never limited. In-process apps with a clock the test moves: no sleeps, nothing timed."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from local.platform import SERVICES
from shared.auth import AuthError, Principal
from shared.messaging.http import RateLimitMiddleware
from shared.settings import CommonSettings

RATE, BURST = 2.0, 5


class Issuer:
    """Stands in for the runtime's token verifier: the middleware asks it `verify(token)` and nothing else,
    whatever the token scheme; a token here is `good.<sub>`, anything else is refused."""

    @staticmethod
    def verify(token: str) -> Principal:
        kind, _, subject = token.partition(".")
        if kind != "good" or not subject:
            raise AuthError("bad token signature")
        return Principal(subject, "school_system")


def bearer(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer good.{subject}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(clock: Clock, rate: float = RATE, burst: int = BURST) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RateLimitMiddleware, per_second=rate, burst=burst, clock=clock)
    app.state.runtime = SimpleNamespace(authority=Issuer())

    @app.get("/v1/thing")
    async def thing() -> dict:
        return {"ok": True}

    @app.get("/health/live")
    async def live() -> dict:
        return {"status": "alive"}

    @app.get("/metrics")
    async def metrics() -> dict:
        return {}

    return app


async def _codes(app: FastAPI, n: int, path: str = "/v1/thing", **kw) -> list[int]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return [(await client.get(path, **kw)).status_code for _ in range(n)]


async def test_a_principal_past_its_burst_gets_429_with_retry_after_and_a_problem_then_gets_through_again() -> None:
    clock = Clock()
    app = _app(clock)
    school = bearer("sys-rl-1")
    assert await _codes(app, BURST, headers=school) == [200] * BURST
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        refused = await client.get("/v1/thing", headers=school)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"  # one request's worth at 2 a second: half a second, rounded up
    assert refused.json()["reason"] == "rate_limited" and "retry in 1 s" in refused.json()["detail"]
    clock.now += 0.5
    assert await _codes(app, 2, headers=school) == [200, 429], "one request a half second, no more"
    clock.now += BURST / RATE
    assert await _codes(app, BURST + 1, headers=school) == [200] * BURST + [429], "a full bucket once refilled"


async def test_one_callers_flood_never_throttles_another_and_a_forged_token_buys_no_bucket() -> None:
    app = _app(Clock())
    assert (await _codes(app, BURST + 3, headers=bearer("sys-rl-a")))[-1] == 429
    assert await _codes(app, BURST, headers=bearer("sys-rl-b")) == [200] * BURST
    # Unverified tokens all count as their client's address, whatever `sub` they claim.
    forged = [{"Authorization": f"Bearer forged.sub-{i}"} for i in range(BURST + 1)]
    codes = [(await _codes(app, 1, headers=h))[0] for h in forged]
    assert codes == [200] * BURST + [429]


async def test_health_probes_and_metrics_are_never_limited() -> None:
    app = _app(Clock(), burst=1)
    assert await _codes(app, 20, "/health/live") == [200] * 20
    assert await _codes(app, 20, "/metrics") == [200] * 20
    assert await _codes(app, 2) == [200, 429]


async def test_a_rate_of_zero_turns_the_limit_off() -> None:
    assert await _codes(_app(Clock(), rate=0, burst=1), 30) == [200] * 30


async def test_the_defaults_stop_the_batterys_flood_and_let_a_school_system_at_city_pace_through() -> None:
    """The battery's 2,000 requests in 11 s from one principal met no 429; 508 school systems sending
    300+ a second between them send under one a second each (bench/pickup_surge.py)."""
    defaults = CommonSettings()
    clock = Clock()
    app = _app(clock, rate=defaults.http_rate_per_second, burst=defaults.http_rate_burst)
    flood, steady = bearer("city-rl"), bearer("sys-rl-steady")
    flooded, steadily = [], []
    for step in range(11 * 4):  # 2,000 in 11 s, in 44 steps of a quarter second; the steady one once a second
        flooded += await _codes(app, 2000 // 44, headers=flood)
        if step % 4 == 0:
            steadily += await _codes(app, 1, headers=steady)
        clock.now += 0.25
    assert flooded.count(429) > 0, "the flood is limited"
    assert flooded.count(200) >= defaults.http_rate_burst, "and not before its burst is spent"
    assert steadily == [200] * 11, "the steady caller never is"


@pytest.mark.parametrize("service", SERVICES)
def test_every_services_app_limits_its_callers_with_the_settings(service: str) -> None:
    app, _ = importlib.import_module(f"services.{service}.app").build()
    limits = [m for m in app.user_middleware if m.cls is RateLimitMiddleware]
    assert len(limits) == 1 and limits[0].kwargs == {"per_second": CommonSettings().http_rate_per_second,
                                                     "burst": CommonSettings().http_rate_burst}
