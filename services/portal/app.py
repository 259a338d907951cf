"""The portal's composition root: settings, runtime, read-model handlers, pages and static files."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from services.portal import api
from services.portal.api.deps import PublicPages
from services.portal.api.oidc import OidcClient
from services.portal.api.upstream import Upstream
from services.portal.db import PortalUoW
from services.portal.handlers import HANDLERS
from services.portal.settings import Context, Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app

NAME = "portal"
STATIC = Path(__file__).resolve().parent / "static"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, PortalUoW)
    upstream = Upstream(settings.audit_url, settings.enrollment_url, proof_seconds=settings.proof_cache_seconds,
                        notification_url=settings.notification_url)
    oidc = OidcClient(settings.oidc_issuer_url, settings.oidc_client_id, client_secret=settings.oidc_client_secret) \
        if settings.oidc_issuer_url and settings.oidc_client_id else None
    rt.context = Context(upstream=upstream, pages=PublicPages(settings.public_max_age_seconds), oidc=oidc)
    app = create_app(rt, handlers=HANDLERS, routers=api.routers, title="Beilei portal",
                     on_stop=[upstream.close, *([oidc.close] if oidc else [])],
                     description="Beilei on the web (issue 18): public school and disclosure pages with "
                                 "verification in the browser, the parent's view, the bureau's dashboard and "
                                 "the auditor's console.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def static_cache(request: Request, call_next):
        reply = await call_next(request)
        if request.url.path.startswith("/static/") and reply.status_code == 200:
            # Vendored libraries are pinned by the lock file; our own JS and CSS change with a release.
            vendored = request.url.path.startswith("/static/vendor/")
            reply.headers["Cache-Control"] = f"public, max-age={86400 if vendored else 300}"
        return reply

    return app, rt
