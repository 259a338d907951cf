"""Readiness tells the truth about what a service depends on: Kafka unreachable (from a cached probe, shown
by the beilei_kafka_reachable gauge too) and a consumer held back on a record make /health/ready 503;
a flood of identical connection errors is logged once per window, with how many were held back."""
from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest

from shared.messaging.runtime import KafkaProbe, RepeatFilter, Runtime, build_runtime, create_app
from shared.settings import CommonSettings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app() -> FastAPI:
    rt = build_runtime("kit_probe", CommonSettings(kafka_bootstrap_servers=f"127.0.0.1:{_closed_port()}"))
    app = create_app(rt, handlers={}, routers=[], title="t", description="d")
    # Everything else healthy: started, relay publishing, database answering, Kafka answering.
    rt.ready = True
    rt.relay.active = True

    async def ping() -> None:
        return None

    rt.db.ping = ping  # type: ignore[method-assign]
    assert rt.kafka is not None
    rt.kafka.reachable = True
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def runtime(app: FastAPI) -> Runtime:
    return app.state.runtime


async def test_a_service_with_everything_reachable_is_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"started": True, "relay": True, "database": True,
                                         "kafka": True, "consumer": True}


async def test_kafka_unreachable_makes_the_service_not_ready_and_says_why(app: FastAPI, client: httpx.AsyncClient) -> None:
    probe = runtime(app).kafka
    assert probe is not None
    probe.reachable, probe.last_error = False, "KafkaConnectionError: Unable to bootstrap"

    response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["kafka"] is False
    assert response.json()["problems"]["kafka"] == "KafkaConnectionError: Unable to bootstrap"


async def test_a_consumer_held_back_makes_the_service_not_ready_and_says_on_what(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.consumer = SimpleNamespace(stuck=True, last_error="cannot dead-letter: record too large")

    response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["consumer"] is False
    assert response.json()["problems"]["consumer"] == "cannot dead-letter: record too large"


async def test_the_probe_finds_no_broker_on_a_closed_port_and_the_gauge_says_so(app: FastAPI) -> None:
    probe = runtime(app).kafka
    assert probe is not None

    try:
        assert await probe.check() is False
    finally:
        await probe.stop()

    assert probe.reachable is False and probe.last_error
    assert b"beilei_kafka_reachable 0.0" in generate_latest(runtime(app).registry)


async def test_the_probe_asks_the_broker_only_when_its_round_comes_not_per_readiness_request(
        app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    async def ask(self: KafkaProbe) -> None:
        asked.append(1)

    monkeypatch.setattr(KafkaProbe, "_ask", ask)
    for _ in range(5):
        await client.get("/health/ready")

    assert asked == []


def _record(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (), None)


def test_identical_errors_pass_once_per_window_and_the_next_one_counts_the_held_back() -> None:
    now = [100.0]
    repeat = RepeatFilter(10.0, clock=lambda: now[0])
    error = "Unable connect to node with id 1: [Errno 111] Connect call failed"

    passed = [repeat.filter(_record("aiokafka", logging.ERROR, error)) for _ in range(100)]
    now[0] += 10.0
    after_window = _record("aiokafka", logging.ERROR, error)

    assert passed.count(True) == 1 and passed[0] is True
    assert repeat.suppressed_total == 99
    assert repeat.filter(after_window) is True
    assert after_window.suppressed == 99


def test_other_messages_other_loggers_and_info_lines_are_never_held_back() -> None:
    repeat = RepeatFilter(10.0, clock=lambda: 0.0)

    assert repeat.filter(_record("aiokafka", logging.ERROR, "a"))
    assert repeat.filter(_record("aiokafka", logging.ERROR, "b"))
    assert repeat.filter(_record("faststream", logging.ERROR, "a"))
    assert all(repeat.filter(_record("svc", logging.INFO, "service ready")) for _ in range(3))
    assert repeat.suppressed_total == 0
