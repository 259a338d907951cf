"""The portal's settings: the common ones plus where the services it reads live and how people sign in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from shared.settings import CommonSettings

if TYPE_CHECKING:
    from services.portal.api.deps import PublicPages
    from services.portal.api.oidc import OidcClient
    from services.portal.api.upstream import Upstream


class Settings(CommonSettings):
    http_port: int = 8006
    # A parent's page may lag the gate by a second; the portal takes the evening's check-outs in full fetches,
    # as billing and audit do, not one per record (PickupSurge, issue 13; CommonSettings.consumer_fetch_max_wait_ms).
    consumer_fetch_min_bytes: int = 512 * 1024
    consumer_fetch_max_wait_ms: int = 500
    audit_url: str = Field("http://127.0.0.1:8005", description="The audit service: the ledger's public proofs, "
                           "its verifier key and witnesses (the disclosure page's Verify button).")
    enrollment_url: str = Field("http://127.0.0.1:8001", description="The enrollment service: participation, "
                                "filing times and waitlists for the bureau's dashboard (called with the user's token).")
    notification_url: str = Field("http://127.0.0.1:8004", description="The notification service: a guardian's "
                                  "message preferences (called with the guardian's token).")
    public_max_age_seconds: int = Field(60, ge=0, description="How long browsers and caches may keep a public "
                                        "page (Cache-Control max-age); pages also carry an ETag.")
    proof_cache_seconds: float = Field(5.0, ge=0, description="How long the portal keeps a disclosure's proof "
                                       "from audit before asking again (a burst of parents asks audit once).")
    dev_signin: bool = Field(True, description="Offer the development sign-in (/signin), which mints a token per "
                             "role with the local issuer. Off in deployments: people sign in with the city's "
                             "identity provider (OIDC, docs/portal.md).")
    oidc_issuer_url: str | None = Field(None, description="The city's OpenID Connect issuer; set, /signin "
                                        "redirects there (docs/portal.md).")
    oidc_client_id: str | None = Field(None, description="The portal's client id at the identity provider.")
    oidc_client_secret: str | None = Field(None, description="The client secret, for a provider that wants one "
                                           "beside PKCE (client_secret_post); none for a public client.")
    oidc_redirect_url: str | None = Field(None, description="The callback URL registered at the provider "
                                          "(`https://<host>/signin/oidc/callback`); default: this request's own.")
    cookie_secure: bool = Field(False, description="Mark the session cookie Secure (HTTPS deployments).")


@dataclass
class Context:
    """What the portal's routes use besides a unit of work (Runtime.context)."""

    upstream: Upstream  # audit's proofs and keys, enrollment's reports, asked over HTTP
    pages: PublicPages  # public pages rendered once and kept a few seconds
    oidc: OidcClient | None = None  # the city's identity provider, when people sign in there
