"""Bearer tokens with roles and scopes (R27), verified by every service; no service can mint one.

Tokens are JWTs signed by one issuer (the city's identity provider; locally shared.issuer) with an
asymmetric key (EdDSA over Ed25519). Services hold only the issuer's public keys, a JWKS (the AUTH_JWKS
setting), and verify with PyJWT: the algorithm is pinned, the key is chosen by `kid`, and `iss`, `aud`
and `exp` are checked. Claims: `sub` (who), `role`, optional `school_id` / `district_id` scope, `iat`,
`exp`, `iss`, `aud`. docs/security.md says how keys rotate and how school systems get their tokens.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import jwt
from fastapi import Depends, HTTPException, Request

Role = Literal["guardian", "school", "district", "city", "auditor", "school_system"]
ROLES: tuple[str, ...] = get_args(Role)
ISSUER = "beilei"
AUDIENCE = "beilei-api"
# The one signing algorithm accepted: a token naming any other (HS256 keyed with a public key, "none",
# RS256 …) is refused before any key is touched.
ALGORITHMS = ("EdDSA",)
LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096  # distinct tokens remembered as verified (one per school system and user)

log = logging.getLogger(__name__)


class AuthError(ValueError):
    """The token is missing, malformed, expired or not signed by a key of our issuer."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: `subject` acts with `role`, within `school_id` / `district_id` where set."""

    subject: str
    role: str
    school_id: str | None = None
    district_id: str | None = None

    def may_see_school(self, school_id: str, district_of_school: str | None = None) -> bool:
        """A school sees only itself; a district only its schools; the city and auditors all (R27)."""
        if self.role in ("city", "auditor"):
            return True
        if self.role == "district":
            return district_of_school is not None and district_of_school == self.district_id
        return self.school_id == school_id


class JwksSource:
    """Where the issuer's public keys come from: inline JSON, a file (a mounted ConfigMap) or an http(s)
    URL (the identity provider's jwks_uri). Files and URLs are read again when a token names a key not yet
    known (a new key), at most once per `refresh_seconds` so unknown kids cannot make us hammer the issuer,
    and every `max_age_seconds` in any case, so a retired key stops being trusted."""

    def __init__(self, spec: str, *, refresh_seconds: float = 60.0, max_age_seconds: float = 300.0) -> None:
        self.spec = spec.strip()
        if not self.spec:
            raise ValueError("AUTH_JWKS is empty: set the issuer's JWKS (inline JSON, a file or a URL)")
        self.refresh_seconds, self.max_age_seconds = refresh_seconds, max_age_seconds
        self._read_at = float("-inf")

    @property
    def static(self) -> bool:
        return self.spec.startswith("{")

    def read(self) -> dict[str, Any]:
        self._read_at = time.monotonic()
        if self.static:
            return json.loads(self.spec)
        if self.spec.startswith(("https://", "http://")):
            import httpx

            response = httpx.get(self.spec, timeout=5)
            response.raise_for_status()
            return response.json()
        try:
            return json.loads(Path(self.spec).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"AUTH_JWKS names {self.spec}, which does not exist (locally `make run` or "
                             "`python -m shared.issuer keys` writes it)") from None

    def may_refresh(self) -> bool:
        return not self.static and time.monotonic() - self._read_at >= self.refresh_seconds

    def stale(self) -> bool:
        return not self.static and time.monotonic() - self._read_at >= self.max_age_seconds


def _public_keys(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = {}
    for entry in jwks.get("keys", []):
        if "d" in entry:
            raise ValueError(f"the JWKS holds a private key (kid {entry.get('kid')!r}); services take public keys only")
        if entry.get("use", "sig") != "sig" or not entry.get("kid"):
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:  # a key type PyJWT cannot use (an IdP publishes more than one kind): not ours
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[entry["kid"]] = key
    if not keys:
        raise ValueError("the JWKS has no EdDSA signing key with a kid")
    return keys


class TokenVerifier:
    """Verifies tokens against the issuer's JWKS; holds no key that can sign."""

    def __init__(self, jwks: JwksSource | dict[str, Any] | str, *, issuer: str = ISSUER, audience: str = AUDIENCE,
                 leeway: float = LEEWAY_SECONDS) -> None:
        self._source = jwks if isinstance(jwks, JwksSource) else JwksSource(
            json.dumps(jwks) if isinstance(jwks, dict) else jwks)
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self._lock = threading.Lock()
        self._keys = _public_keys(self._source.read())
        # Tokens already verified, by their whole text (signature included): a school system sends the same
        # token with every record, and an Ed25519 check through PyJWT costs a few hundred microseconds.
        # Emptied whenever the keys are read again, so a retired key's tokens are checked afresh.
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> TokenVerifier:
        return cls(JwksSource(settings.auth_jwks), issuer=settings.auth_issuer, audience=settings.auth_audience)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        if now is None:
            known = self._verified.get(token)
            if known is not None and known[1] >= time.time() and not self._source.stale():
                return known[0]
        principal, expires = self._check(token, now)
        if now is None:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (principal, expires)
        return principal

    def _check(self, token: str, now: float | None) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("unsupported token algorithm")
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), issuer=self.issuer, audience=self.audience,
                leeway=self.leeway, options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iat": False,
                                             "verify_exp": now is None})
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(f"token not issued by {self.issuer}") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(f"token not meant for {self.audience}") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("bad token signature") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        if int(claims["exp"]) + self.leeway < (now if now is not None else time.time()):
            raise AuthError("token expired")  # on the clock the remembered tokens are judged by
        if claims.get("role") not in ROLES or not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AuthError("token has no valid subject and role")
        principal = Principal(claims["sub"], claims["role"], claims.get("school_id"), claims.get("district_id"))
        return principal, int(claims["exp"]) + self.leeway

    def _key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str):
            raise AuthError("token names no signing key (kid)")
        if self._source.stale() or (kid not in self._keys and self._source.may_refresh()):
            self._reload()
        key = self._keys.get(kid)
        if key is None:
            raise AuthError("token signed by an unknown key")
        return key

    def _reload(self) -> None:
        with self._lock:
            try:
                keys = _public_keys(self._source.read())
            except Exception:  # keep the keys we have: an issuer outage must not lock everyone out
                log.exception("could not reload the token issuer's keys")
                return
            if keys.keys() != self._keys.keys():
                log.info("the token issuer's keys changed", extra={"kids": list(keys)})
            self._keys = keys
            self._verified = {}


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401 with the reason. A coroutine, like every dependency
    here: FastAPI runs a plain function in its thread pool, a thread hop per request for microseconds of work."""
    return bearer(request.app.state.runtime.authority, request.headers.get("authorization", ""))


def bearer(authority: TokenVerifier, header: str) -> Principal:
    """The verified caller of an Authorization header's value, or 401 with the reason."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return authority.verify(token.strip())
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


def require(*roles: str):
    """Dependency factory: the caller must hold one of `roles`, else 403."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this; needs one of {', '.join(roles)}")
        return principal

    return check
