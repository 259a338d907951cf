"""Bearer tokens with roles and scopes (R27), verified by every service; no service-specific rules here.

Tokens are compact JWS (HS256), so any standard JWT library can read them. Claims: `sub` (who),
`role`, optional `school_id` / `district_id` scope, `iat`, `exp`, `iss` = "beilei".
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal, get_args

from fastapi import Depends, HTTPException, Request

Role = Literal["guardian", "school", "district", "city", "auditor", "school_system"]
ROLES: tuple[str, ...] = get_args(Role)
ISSUER = "beilei"


class AuthError(ValueError):
    """The token is missing, malformed, expired or not signed by us."""


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Mints and verifies tokens with one shared secret (from the AUTH_SECRET setting)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 characters")
        self._key = secret.encode()

    def mint(self, subject: str, role: str, *, school_id: str | None = None, district_id: str | None = None,
             ttl_seconds: int = 12 * 3600, now: float | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        issued = int(now if now is not None else time.time())
        claims = {"iss": ISSUER, "sub": subject, "role": role, "iat": issued, "exp": issued + ttl_seconds}
        if school_id:
            claims["school_id"] = school_id
        if district_id:
            claims["district_id"] = district_id
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthError("malformed token")
        head, body, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{head}.{body}")):
            raise AuthError("bad token signature")
        try:
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(body))
        except ValueError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") != "HS256":
            raise AuthError("unsupported token algorithm")
        if claims.get("iss") != ISSUER:
            raise AuthError("token not issued by beilei")
        if int(claims.get("exp", 0)) < (now if now is not None else time.time()):
            raise AuthError("token expired")
        if claims.get("role") not in ROLES or not claims.get("sub"):
            raise AuthError("token has no valid subject and role")
        return Principal(claims["sub"], claims["role"], claims.get("school_id"), claims.get("district_id"))

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401 with the reason. A coroutine, like every dependency
    here: FastAPI runs a plain function in its thread pool, a thread hop per request for microseconds of work."""
    return bearer(request.app.state.runtime.authority, request.headers.get("authorization", ""))


def bearer(authority: TokenAuthority, header: str) -> Principal:
    """The verified caller of an Authorization header's value, or 401 with the reason."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return authority.verify(token.strip())
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


def require(*roles: str):  # noqa: ANN201 - returns a FastAPI dependency
    """Dependency factory: the caller must hold one of `roles`, else 403."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this; needs one of {', '.join(roles)}")
        return principal

    return check


def main(argv: list[str] | None = None) -> None:
    """`python -m shared.auth ROLE SUBJECT [--school S] [--district D] [--ttl SECONDS]` prints a token."""
    import argparse

    from shared.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Mint a bearer token (uses AUTH_SECRET).")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("subject")
    parser.add_argument("--school")
    parser.add_argument("--district")
    parser.add_argument("--ttl", type=int, default=12 * 3600)
    args = parser.parse_args(argv)
    authority = TokenAuthority(CommonSettings().auth_secret)
    print(authority.mint(args.subject, args.role, school_id=args.school, district_id=args.district, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
