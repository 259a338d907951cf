"""Bearer tokens for tests: one place that mints them, with the local development issuer's key
(shared.issuer; the services started by the tests verify with its JWKS, the default AUTH_JWKS)."""
from __future__ import annotations

from shared.auth import TokenVerifier
from shared.issuer import Issuer, dev_issuer

ISSUER: Issuer = dev_issuer()


def mint(subject: str, role: str, *, school_id: str | None = None, district_id: str | None = None,
         ttl_seconds: int = 3600) -> str:
    """A token the services started by the tests accept (R27 roles and scopes)."""
    return ISSUER.mint(subject, role, school_id=school_id, district_id=district_id, ttl_seconds=ttl_seconds)


def verifier() -> TokenVerifier:
    """What a service verifies these tokens with: the issuer's public keys only."""
    return TokenVerifier(ISSUER.jwks())


def bearer(subject: str, role: str, **scope: str | None) -> dict[str, str]:
    """The Authorization header for `mint(subject, role, **scope)`."""
    return {"Authorization": f"Bearer {mint(subject, role, **scope)}"}
