"""Every service's OpenAPI declares its security (issue 15: only enrollment did): the bearerAuth scheme,
and on every operation either bearerAuth or an explicit empty list; the open operations are exactly
the public ones below (disclosures R4, the ledger's public proofs R24, health and metrics). Built from
the apps in-process; the running platform's answers are checked against the same declarations in
test_authz_matrix.py."""
from __future__ import annotations

import importlib

import pytest

from local.platform import SERVICES
from shared.messaging.http import BEARER

OPERATIONS_OF_THE_KIT = {"GET /health/live", "GET /health/ready", "GET /metrics", "GET /asyncapi.json"}
PUBLIC = {
    "enrollment": {"GET /v1/disclosures/{programme_id}", "GET /v1/schools/{school_id}/disclosures"},
    "attendance": set(),
    "billing": {"GET /v1/fee-caps", "GET /v1/fee-schedules", "GET /v1/fee-schedules/{fee_schedule_id}",
                "GET /v1/disclosures", "GET /v1/disclosures/{disclosure_id}"},
    "notification": set(),
    "audit": {"GET /v1/ledger/head", "GET /v1/ledger/checkpoint", "GET /v1/ledger/checkpoints", "GET /v1/ledger/key",
              "GET /v1/ledger/consistency", "GET /v1/ledger/witnesses",
              "GET /v1/ledger/disclosures/{disclosure_id}",  # a disclosure's proof, for anyone to check (R21)
              # C2SP tlog-tiles: the public read path (R26); a bundle holding a format-1 entry asks for a token
              "GET /checkpoint", "GET /tile/{level}/{rest}", "GET /tile/entries/{rest}"},
    # The portal's pages are for people (not in its OpenAPI); its two JSON routes are audit's public proofs.
    "portal": {"GET /api/disclosures/{disclosure_id}/proof", "GET /api/ledger/consistency"},
}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    return {s: importlib.import_module(f"services.{s}.app").build()[0].openapi() for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_declares_bearer_auth_or_that_it_is_open_and_only_public_ones_are_open(
    documents: dict[str, dict], service: str
) -> None:
    document = documents[service]
    assert document["components"]["securitySchemes"][BEARER] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"][BEARER]["description"]}
    declared = {f"{m.upper()} {p}": op.get("security") for p, item in document["paths"].items() for m, op in item.items()}
    assert all(security in ([], [{BEARER: []}]) for security in declared.values()), declared
    assert {op for op, security in declared.items() if security == []} == PUBLIC[service] | OPERATIONS_OF_THE_KIT
