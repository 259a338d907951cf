"""Billing's composition root: wires settings, runtime, handlers and routes into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI

from shared.messaging.runtime import Runtime, build_runtime, create_app
from services.billing import api
from services.billing.db import BillingUoW
from services.billing.handlers import HANDLERS
from services.billing.settings import Settings

NAME = "billing"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    rt = build_runtime(NAME, settings or Settings(), BillingUoW)
    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei billing",
                     description="Fee schedules, cost sharing, waivers, settlement on actuals, payouts (R16-R21).")
    return app, rt
