"""Fixtures of the audit tests: one ledger schema on the session's PostgreSQL database."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.audit.harness import TestLedger


@pytest.fixture(scope="session")
async def ledger(database_url: str) -> AsyncIterator[TestLedger]:
    """Shared by the audit tests of a session: each test uses its own school ids."""
    lg = await TestLedger.create(database_url, "unit")
    yield lg
    await lg.close()
