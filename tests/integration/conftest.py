"""Fixtures for cross-process tests: the five services as real processes on real Kafka and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.local.platform import Platform


@pytest.fixture(scope="session")
def platform(kafka_bootstrap: str, database_url: str, logs_dir: Path) -> Iterator[Platform]:
    plat = Platform(kafka_bootstrap, database_url, logs_dir, extra_env={"LOG_LEVEL": "INFO"})
    try:
        plat.start(timeout=180)
        yield plat
    finally:
        plat.stop()
