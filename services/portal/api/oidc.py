"""Signing in with the city's identity provider (OpenID Connect, authorization code flow with PKCE; issue 18).

`/signin` sends the browser to the provider's authorization endpoint (from its discovery document) with a
fresh `state`, `nonce` and PKCE S256 challenge, kept for ten minutes in an HttpOnly cookie scoped to the
callback. `/signin/oidc/callback` checks the state, exchanges the code (with the PKCE verifier) at the
token endpoint, verifies the ID token's signature against the provider's JWKS (the algorithm the key names,
never the token's word alone), its issuer, audience (our client id), expiry and nonce, and maps its claims
(`sub`, `role`, `school_id` / `district_id`) to the session. The session cookie then holds the token every
service accepts as a bearer token (AUTH_JWKS, AUTH_ISSUER, AUTH_AUDIENCE: the provider's access token, or
the ID token itself where its audience is the services'), and only when it names the same person and role."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from shared.auth import AuthError, Principal, TokenVerifier

log = logging.getLogger(__name__)

FLOW_COOKIE = "beilei_oidc"
FLOW_SECONDS = 600
# Roles a person signs in with, and the scope claim each needs (R27).
SCOPE_OF_ROLE = {"guardian": None, "city": None, "auditor": None, "school": "school_id", "district": "district_id"}
# Signature algorithms an ID token may use, each only with a key of its kind.
ID_TOKEN_ALGORITHMS = ("EdDSA", "ES256", "RS256", "PS256")
DISCOVERY_SECONDS = 3600.0
JWKS_REFRESH_SECONDS = 60.0


class SignInError(Exception):
    """The sign-in did not complete; str() says why (logged, never shown with the provider's secrets)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress: what the callback must see again."""

    state: str
    nonce: str
    verifier: str
    lang: str = "zh"

    @classmethod
    def start(cls, lang: str) -> Flow:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), lang)

    @property
    def challenge(self) -> str:
        return _b64url(hashlib.sha256(self.verifier.encode("ascii")).digest())

    def cookie(self) -> str:
        return _b64url(json.dumps([self.state, self.nonce, self.verifier, self.lang]).encode())

    @classmethod
    def from_cookie(cls, value: str | None) -> Flow | None:
        if not value:
            return None
        try:
            state, nonce, verifier, lang = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            return cls(str(state), str(nonce), str(verifier), str(lang))
        except (ValueError, TypeError):
            return None


class OidcClient:
    """The provider as the portal sees it: its discovery document and keys (cached), the code exchange."""

    def __init__(self, issuer_url: str, client_id: str, *, client_secret: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        self.issuer = issuer_url.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.client = client or httpx.AsyncClient(timeout=10)
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_read_at = float("-inf")

    async def close(self) -> None:
        await self.client.aclose()

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            reply = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise SignInError(f"the identity provider is unreachable at {url}: {exc}") from exc
        if reply.status_code != 200:
            raise SignInError(f"the identity provider answered {reply.status_code} at {url}: {reply.text[:200]}")
        try:
            value = reply.json()
        except ValueError as exc:
            raise SignInError(f"the identity provider's answer at {url} is not JSON") from exc
        if not isinstance(value, dict):
            raise SignInError(f"the identity provider's answer at {url} is not an object")
        return value

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None or self._discovery[0] < time.monotonic():
            found = await self._json("GET", f"{self.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInError(f"the discovery document names issuer {found.get('issuer')!r}, not {self.issuer!r}")
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(field), str):
                    raise SignInError(f"the discovery document has no {field}")
            self._discovery = (time.monotonic() + DISCOVERY_SECONDS, found)
        return self._discovery[1]

    async def authorization_url(self, flow: Flow, redirect_uri: str) -> str:
        query = httpx.QueryParams({
            "response_type": "code", "client_id": self.client_id, "scope": "openid", "redirect_uri": redirect_uri,
            "state": flow.state, "nonce": flow.nonce, "code_challenge": flow.challenge,
            "code_challenge_method": "S256"})
        return f"{(await self.discovery())['authorization_endpoint']}?{query}"

    async def _key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str):
            raise SignInError("the ID token names no key (kid)")
        if kid not in self._keys and time.monotonic() - self._keys_read_at >= JWKS_REFRESH_SECONDS:
            jwks = await self._json("GET", (await self.discovery())["jwks_uri"])
            self._keys_read_at = time.monotonic()
            keys = {}
            for entry in jwks.get("keys", []):
                if not isinstance(entry, dict) or "d" in entry or entry.get("use", "sig") != "sig" or not entry.get("kid"):
                    continue
                try:
                    key = jwt.PyJWK(entry)
                except jwt.PyJWTError:  # a kind of key PyJWT cannot use
                    continue
                if key.algorithm_name in ID_TOKEN_ALGORITHMS:
                    keys[entry["kid"]] = key
            self._keys = keys
        key = self._keys.get(kid)
        if key is None:
            raise SignInError(f"the ID token is signed by key {kid!r}, which the provider does not publish")
        return key

    async def exchange(self, code: str, flow: Flow, redirect_uri: str) -> dict[str, Any]:
        """The token endpoint's answer to the code and the PKCE verifier."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": flow.verifier}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        answer = await self._json("POST", (await self.discovery())["token_endpoint"], data=form,
                                  headers={"Accept": "application/json"})
        if not isinstance(answer.get("id_token"), str):
            raise SignInError("the token endpoint gave no ID token")
        return answer

    async def id_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce hold."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError as exc:
            raise SignInError("the ID token is malformed") from exc
        key = await self._key(header.get("kid"))
        if header.get("alg") != key.algorithm_name:
            raise SignInError(f"the ID token claims {header.get('alg')!r}, its key is {key.algorithm_name}")
        try:
            claims = jwt.decode(id_token, key, algorithms=[key.algorithm_name], audience=self.client_id,
                                issuer=(await self.discovery())["issuer"], leeway=30,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidTokenError as exc:
            raise SignInError(f"the ID token does not verify: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError("the ID token's nonce is not this sign-in's")
        return claims


def principal_of(claims: dict[str, Any]) -> Principal:
    """The portal's person from the ID token's claims: a role people sign in with, and its scope (R27)."""
    role, subject = claims.get("role"), claims.get("sub")
    if role not in SCOPE_OF_ROLE or not isinstance(subject, str) or not subject:
        raise SignInError(f"the ID token's role {role!r} is not one people sign in with")
    scope = SCOPE_OF_ROLE[role]
    if scope and not isinstance(claims.get(scope), str):
        raise SignInError(f"a {role} signs in with a {scope}, which the ID token lacks")
    return Principal(subject, role, claims.get("school_id"), claims.get("district_id"))


def session_token(answer: dict[str, Any], person: Principal, authority: TokenVerifier) -> tuple[str, int]:
    """The token the services accept as this person's bearer token (the access token, else the ID token), and
    how many seconds it lives; SignInError when neither is one they accept, or it names someone else."""
    for name in ("access_token", "id_token"):
        token = answer.get(name)
        if not isinstance(token, str):
            continue
        try:
            holder = authority.verify(token)
        except AuthError as exc:
            log.info("the provider's %s is not a bearer token the services accept: %s", name, exc)
            continue
        if (holder.subject, holder.role, holder.school_id, holder.district_id) != (
                person.subject, person.role, person.school_id, person.district_id):
            raise SignInError(f"the provider's {name} names {holder.subject} ({holder.role}), the ID token "
                              f"{person.subject} ({person.role})")
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
        return token, max(0, int(expires - time.time()))
    raise SignInError("the provider gave no token the services accept (AUTH_JWKS, AUTH_ISSUER, AUTH_AUDIENCE)")
