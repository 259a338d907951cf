"""Fixtures for cross-process tests: the five services as real processes on real Kafka and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.local.platform import Platform


@pytest.fixture(scope="session")
def platform(kafka_bootstrap: str, database_url: str, logs_dir: Path) -> Iterator[Platform]:
    # No quiet hours (R22 defers non-urgent messages 21:30-07:00 school-local): these tests run at any hour
    # and count messages handed over; quiet hours themselves are proven in tests/unit/notification.
    plat = Platform(kafka_bootstrap, database_url, logs_dir,
                    extra_env={"LOG_LEVEL": "INFO", "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"})
    try:
        plat.start(timeout=180)
        yield plat
    finally:
        plat.stop()
