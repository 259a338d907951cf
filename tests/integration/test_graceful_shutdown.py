"""SIGTERM (what Kubernetes sends) drains a service: it stops consuming, finishes and commits the
batch in flight, publishes what that batch left in the outbox, and exits."""
from __future__ import annotations

import json
import signal

import pytest

from local.platform import Platform

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["notification", "billing", "attendance", "audit"])
def test_sigterm_drains_and_stops_cleanly_and_the_service_comes_back(platform: Platform, name: str) -> None:
    service = platform[name]
    seen = len(service.log_path.read_text().splitlines())
    # uvicorn re-raises the signal after a complete graceful shutdown, so the status is -SIGTERM;
    # what proves the drain is the lifespan's last line below.
    assert service.stop(timeout=60) in (0, -signal.SIGTERM)
    lines = [json.loads(x) for x in service.log_path.read_text().splitlines()[seen:] if x.startswith("{")]
    assert [x["msg"] for x in lines if x["msg"] == "service stopped"] == ["service stopped"]
    assert not [x for x in lines if x["level"] == "error"], "a clean stop logs no error"
    service.start()
    service.wait_ready(timeout=120)
