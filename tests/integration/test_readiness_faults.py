"""A broker crash is visible and quiet: a service's /health/ready turns 503 with the Kafka check failed
and beilei_kafka_reachable reads 0 while its broker is down, the clients' repeated connection errors
are logged once per window, and everything comes back by itself when the broker does (its storage
kept across the kill -9)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from local import infra
from local.platform import ServiceProcess

pytestmark = pytest.mark.integration

KAFKA = str(infra.SCRIPTS / "kafka.sh")
WINDOW_S = 10.0  # RepeatFilter's window in shared.messaging.runtime


def kafka_sh(state: Path, *args: str) -> str:
    result = subprocess.run([KAFKA, *args], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "BEILEI_STATE": str(state)})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Path]:
    """A broker of this test's own: it is killed here, which no other test may see."""
    state = tmp_path / "state"
    kafka_sh(state, "start")
    try:
        yield state
    finally:
        subprocess.run([KAFKA, "stop"], capture_output=True, env={**os.environ, "BEILEI_STATE": str(state)})


def readiness(service: ServiceProcess) -> tuple[int, dict]:
    response = httpx.get(f"{service.url}/health/ready", timeout=5)
    return response.status_code, response.json()


def wait_for_readiness(service: ServiceProcess, status: int, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = readiness(service)
        if got == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"readiness never answered {status} in {timeout:.0f} s: {body}\n{service.tail()}")
        time.sleep(0.5)


def kafka_gauge(service: ServiceProcess) -> str:
    metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
    return next(line for line in metrics.splitlines() if line.startswith("beilei_kafka_reachable "))


def test_a_broker_crash_makes_the_service_not_ready_quietly_until_the_broker_is_back(
        private_broker: Path, postgres_server: str, tmp_path: Path) -> None:
    database = infra.create_database(postgres_server, f"beilei_test_{uuid.uuid4().hex[:10]}")
    bootstrap = kafka_sh(private_broker, "address")
    service = ServiceProcess("billing", {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database,
                                         "LOG_LEVEL": "INFO"}, log_path=tmp_path / "billing.log")
    service.start()
    try:
        service.wait_ready(timeout=180)
        assert readiness(service)[1]["checks"]["kafka"] is True
        assert kafka_gauge(service) == "beilei_kafka_reachable 1.0"
        seen = len(service.log_path.read_text().splitlines())

        os.kill(int((private_broker / "kafka" / "pid").read_text()), signal.SIGKILL)
        body = wait_for_readiness(service, 503)
        assert body["checks"]["kafka"] is False and body["problems"]["kafka"]
        assert body["checks"]["database"] is True
        assert kafka_gauge(service) == "beilei_kafka_reachable 0.0"
        outage_began = time.monotonic()  # it lasts while the broker restarts below (tens of seconds)

        kafka_sh(private_broker, "start")
        wait_for_readiness(service, 200)
        assert kafka_gauge(service) == "beilei_kafka_reachable 1.0"
        outage_s = time.monotonic() - outage_began
    finally:
        service.stop()

    lines = [json.loads(x) for x in service.log_path.read_text().splitlines()[seen:] if x.startswith("{")]
    loud = [x for x in lines if x["level"] in ("warning", "error", "critical")]
    times: dict[tuple, list[datetime]] = defaultdict(list)
    for x in loud:
        times[(x["logger"], x["level"], x["msg"])].append(datetime.fromisoformat(x["ts"]))
    print(f"\n[readiness] outage ~{outage_s:.0f} s: {len(loud)} warning/error lines, "
          f"{sum(x.get('suppressed', 0) for x in loud)} repeats held back")
    for key, stamps in times.items():
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        assert all(gap >= WINDOW_S - 0.1 for gap in gaps), f"{key} repeated within {WINDOW_S} s: {gaps}"
    said = [x["msg"] for x in lines if x["msg"] in ("Kafka unreachable", "Kafka reachable again")]
    assert (said[:1], said[-1:]) == (["Kafka unreachable"], ["Kafka reachable again"])
