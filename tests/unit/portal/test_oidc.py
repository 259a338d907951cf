"""Signing in with the city's identity provider (issue 18): a small OpenID Connect provider runs in the test on
127.0.0.1 (discovery, JWKS, authorize, token; signing with a key generated here, checking PKCE S256), and the
portal's /signin and /signin/oidc/callback go through the whole code flow against it: the state and nonce
are checked, the code is exchanged with the PKCE verifier, the ID token's signature is checked against the
provider's JWKS, and its role and scope become the session every service accepts. A forged state, an ID
token signed by a key the provider does not publish, another sign-in's nonce, a wrong PKCE verifier and a
role people do not sign in with are each refused."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from services.portal.app import build
from services.portal.settings import Settings
from shared.issuer import Issuer, new_signing_key, public_jwk
from tests.unit.portal.conftest import SCHEMA
from tests.web.harness import serve

CLIENT_ID = "beilei-portal"
AUDIENCE = "beilei-api"


@dataclass
class Provider:
    """The identity provider's state: who signs in next, how it misbehaves, the codes it handed out."""

    url: str = ""
    key: dict[str, Any] = field(default_factory=new_signing_key)
    foreign: dict[str, Any] = field(default_factory=new_signing_key)  # a key it does not publish
    person: dict[str, Any] = field(default_factory=lambda: {"sub": "gdn-oidc-1", "role": "guardian"})
    mode: str = "honest"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key)]}

    def tokens(self, grant: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        scope = {k: v for k, v in self.person.items() if k in ("school_id", "district_id")}
        access = Issuer([self.key], issuer=self.url, audience=AUDIENCE).mint(
            self.person["sub"], self.person["role"], ttl_seconds=3600, **scope)
        key = self.foreign if self.mode == "foreign_key" else self.key
        nonce = "another sign-in's" if self.mode == "wrong_nonce" else grant["nonce"]
        id_token = jwt.encode({"iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": nonce,
                               **self.person}, jwt.PyJWK(key).key, algorithm="EdDSA", headers={"kid": key["kid"]})
        return {"access_token": access, "id_token": id_token, "token_type": "Bearer", "expires_in": 3600}


def provider_app(idp: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {"issuer": idp.url, "authorization_endpoint": f"{idp.url}/authorize",
                "token_endpoint": f"{idp.url}/token", "jwks_uri": f"{idp.url}/jwks",
                "code_challenge_methods_supported": ["S256"], "id_token_signing_alg_values_supported": ["EdDSA"]}

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return idp.jwks()

    @app.get("/authorize")
    async def authorize(request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        assert "openid" in q["scope"].split()
        code = secrets.token_urlsafe(16)
        idp.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"], "redirect_uri": q["redirect_uri"]}
        return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}", status_code=302)

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        grant = idp.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (grant is None or form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT_ID
                or form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["challenge"]):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(idp.tokens(grant))

    return app


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    provider = Provider()
    with serve(provider_app(provider), lifespan="off") as url:
        provider.url = url
        yield provider


@pytest.fixture
async def portal(idp: Provider, portal_db, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    idp.mode, idp.person = "honest", {"sub": "gdn-oidc-1", "role": "guardian"}
    app, rt = build(Settings(database_url=database_url, database_schema=SCHEMA, http_rate_per_second=0,
                             dev_signin=False, oidc_issuer_url=idp.url, oidc_client_id=CLIENT_ID,
                             auth_jwks=json.dumps(idp.jwks()), auth_issuer=idp.url, auth_audience=AUDIENCE))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
        yield c
    await rt.context.oidc.close()
    await rt.db.dispose()


async def _to_provider(portal: httpx.AsyncClient, path: str = "/signin") -> httpx.URL:
    """The portal's redirect to the provider, and the provider's back to the portal's callback."""
    start = await portal.get(path)
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as browser:
        back = await browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    return httpx.URL(back.headers["location"])


async def test_a_guardian_signs_in_through_the_provider_and_every_service_accepts_the_session(
        portal: httpx.AsyncClient, idp: Provider) -> None:
    start = await portal.get("/signin?lang=en")
    to = httpx.URL(start.headers["location"])
    assert str(to).startswith(f"{idp.url}/authorize?")
    assert to.params["code_challenge_method"] == "S256" and len(to.params["code_challenge"]) == 43
    assert to.params["redirect_uri"] == "http://portal/signin/oidc/callback"
    assert to.params["state"] and to.params["nonce"] and "beilei_oidc" in start.headers["set-cookie"]
    assert "HttpOnly" in start.headers["set-cookie"] and "Path=/signin/oidc/callback" in start.headers["set-cookie"]
    async with httpx.AsyncClient() as browser:
        back = httpx.URL((await browser.get(str(to))).headers["location"])
    done = await portal.get(f"{back.path}?{back.query.decode()}")
    assert done.status_code == 303 and done.headers["location"] == "/me?lang=en"
    session = portal.cookies["beilei_session"]
    claims = jwt.decode(session, options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["aud"], claims["iss"]) == ("gdn-oidc-1", "guardian", AUDIENCE, idp.url)
    assert (await portal.get("/me")).status_code == 200  # the session is the token every service verifies


async def test_a_school_signs_in_with_its_school_scope(portal: httpx.AsyncClient, idp: Provider) -> None:
    idp.person = {"sub": "stf-oidc-1", "role": "school", "school_id": "sch-0042"}
    back = await _to_provider(portal)
    done = await portal.get(f"{back.path}?{back.query.decode()}")
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert jwt.decode(portal.cookies["beilei_session"], options={"verify_signature": False})["school_id"] == "sch-0042"


async def _refused(portal: httpx.AsyncClient, back: httpx.URL) -> None:
    reply = await portal.get(f"{back.path}?{back.query.decode()}")
    assert reply.status_code == 400 and "登录没有完成" in reply.text
    assert "beilei_session" not in portal.cookies


async def test_a_forged_state_is_refused(portal: httpx.AsyncClient) -> None:
    back = await _to_provider(portal)
    await _refused(portal, back.copy_set_param("state", "forged"))


async def test_an_id_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
        portal: httpx.AsyncClient, idp: Provider) -> None:
    idp.mode = "foreign_key"
    await _refused(portal, await _to_provider(portal))


async def test_an_id_token_of_another_sign_in_is_refused(portal: httpx.AsyncClient, idp: Provider) -> None:
    idp.mode = "wrong_nonce"
    await _refused(portal, await _to_provider(portal))


async def test_a_code_redeemed_without_this_browsers_pkce_verifier_is_refused(portal: httpx.AsyncClient) -> None:
    back = await _to_provider(portal)
    state, nonce, _, lang = json.loads(base64.urlsafe_b64decode(portal.cookies["beilei_oidc"] + "=="))
    forged = base64.urlsafe_b64encode(json.dumps([state, nonce, "not-the-verifier" * 3, lang]).encode()).decode()
    (kept,) = [c for c in portal.cookies.jar if c.name == "beilei_oidc"]
    portal.cookies.set("beilei_oidc", forged.rstrip("="), domain=kept.domain, path=kept.path)
    await _refused(portal, back)


async def test_a_role_people_do_not_sign_in_with_is_refused(portal: httpx.AsyncClient, idp: Provider) -> None:
    idp.person = {"sub": "sys-1", "role": "school_system", "school_id": "sch-0042"}
    await _refused(portal, await _to_provider(portal))
    idp.person = {"sub": "off-1", "role": "district"}  # a district without its district
    await _refused(portal, await _to_provider(portal))
