"""Audit's composition root: wires settings, runtime, handlers and routes into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI

from shared.messaging.runtime import Runtime, build_runtime, create_app
from services.audit import api
from services.audit.db import AuditUoW
from services.audit.handlers import HANDLERS
from services.audit.settings import Settings

NAME = "audit"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    rt = build_runtime(NAME, settings or Settings(), AuditUoW)
    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei audit",
                     description="The verifiable, append-only fee ledger and anti-misappropriation checks (R24-R26).")
    return app, rt
