"""The local issuer's OAuth2 token endpoint (RFC 6749 §4.4, client credentials): a registered school
system gets a `school_system` token scoped to its own school (R27), anything else an RFC 6749 §5.2 error;
the issuer publishes public keys only."""
from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shared.auth import Principal, TokenVerifier
from shared.issuer import ClientsFile, Issuer, new_signing_key, register_client, token_app

ISSUER = Issuer([new_signing_key()])
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def clients(tmp_path: Path) -> tuple[ClientsFile, str, str]:
    path = tmp_path / "clients.json"
    client_id, secret = register_client("sch-42", path, client_id="sys-gate-42")
    return ClientsFile(path), client_id, secret


@pytest.fixture
async def client(clients: tuple[ClientsFile, str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = token_app(ISSUER, clients[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://issuer") as c:
        yield c


async def test_a_registered_school_system_gets_a_token_scoped_to_its_school(client, clients) -> None:
    _, client_id, secret = clients
    answer = await client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                     "client_secret": secret})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert TokenVerifier(jwks).verify(body["access_token"]) == Principal(client_id, "school_system", "sch-42")


async def test_http_basic_client_authentication_works_too(client, clients) -> None:
    _, client_id, secret = clients
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = await client.post("/oauth/token", content="grant_type=client_credentials",
                               headers={**FORM, "Authorization": f"Basic {basic}"})
    assert answer.status_code == 200 and answer.json()["scope"] == "school_system"


async def test_a_wrong_secret_or_unknown_client_is_401_invalid_client(client, clients) -> None:
    _, client_id, secret = clients
    for who, password in ((client_id, secret + "x"), ("sys-nobody", secret), (client_id, "")):
        answer = await client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": who,
                                                         "client_secret": password})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", who
        assert "access_token" not in answer.json()


async def test_another_grant_is_400_unsupported_grant_type(client, clients) -> None:
    _, client_id, secret = clients
    for grant in ("password", "authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        answer = await client.post("/oauth/token", data={"grant_type": grant, "client_id": client_id,
                                                         "client_secret": secret, "username": "city"})
        assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type", grant


async def test_a_malformed_request_or_a_wider_scope_is_refused(client, clients) -> None:
    _, client_id, secret = clients
    no_grant = await client.post("/oauth/token", data={"client_id": client_id, "client_secret": secret})
    as_json = await client.post("/oauth/token", json={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret})
    city = await client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": secret, "scope": "city"})
    assert [(a.status_code, a.json()["error"]) for a in (no_grant, as_json, city)] == [
        (400, "invalid_request"), (400, "invalid_request"), (400, "invalid_scope")]


async def test_the_issuer_publishes_public_keys_and_keeps_only_secret_digests(
        client, clients, tmp_path) -> None:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert [set(key) for key in jwks["keys"]] == [{"kty", "crv", "x", "kid", "alg", "use"}]
    discovery = (await client.get("/.well-known/openid-configuration")).json()
    assert discovery["token_endpoint"].endswith("/oauth/token") and discovery["grant_types_supported"] == [
        "client_credentials"]
    stored = (tmp_path / "clients.json").read_text()
    assert clients[2] not in stored and json.loads(stored)["sys-gate-42"]["school_id"] == "sch-42"
