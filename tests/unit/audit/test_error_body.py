"""Audit answers with the one error body (the kit's Problem): an unknown path, a query that fails
validation and a refusal of its own (a school reading another school's ledger entries, R27; audit
refuses no command with 409, it takes none) carry `detail` and a stable `reason`."""
from __future__ import annotations

import httpx

from services.audit.app import build
from services.audit.settings import Settings
from tests.problem import assert_problem
from tests.tokens import mint
from tests.unit.audit.harness import TestLedger


async def test_a_404_a_422_and_a_refused_read_have_the_same_shape(ledger: TestLedger) -> None:
    app, rt = build(Settings(database_url=ledger.database_url, database_schema=ledger.schema,
                             ledger_signing_key=ledger.skey, ledger_origin=ledger.origin))
    school = {"Authorization": f"Bearer {mint('who', 'school', school_id='sch-mine')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        assert_problem(await client.get("/v1/nowhere"), 404, "not_found")
        assert_problem(await client.get("/v1/ledger/consistency", params={"old": "genesis"}), 422, "invalid_request")
        assert_problem(await client.get("/v1/audit/entries", params={"school_id": "sch-theirs"}, headers=school),
                       403, "forbidden")
    await rt.db.dispose()
