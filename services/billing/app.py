"""Billing's composition root: wires settings, runtime, handlers, routes, error replies and the
month-end worker into one ASGI app."""
from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter

from services.billing import api
from services.billing.db import BillingUoW
from services.billing.db.claims import month_end_claims
from services.billing.handlers import HANDLERS
from services.billing.handlers.settlement import settle_due_month
from services.billing.settings import Context, Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app
from shared.messaging.workers import Worker
from shared.time import utc_now

NAME = "billing"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, BillingUoW)
    rt.context = Context(refusals=Counter("beilei_billing_refusals", "Money requests refused (R19, R25), by kind.",
                                          ["kind"], registry=rt.registry))
    claim = month_end_claims(rt.db.engine)  # replicas share the schools, one at a time each

    async def month_end() -> None:
        """Settle last month where it is due (R17)."""
        await settle_due_month(rt.uow_factory, now=utc_now(), claim=claim,
                               day_of_month=settings.settlement_day_of_month,
                               hour_local=settings.settlement_hour_local, workers=settings.settlement_workers,
                               chunk_size=settings.settlement_chunk_size, due_days=settings.payment_due_days)

    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei billing",
                     description="Fee schedules, cost sharing, waivers, settlement on actuals, payouts (R16-R21).",
                     workers=[Worker("month-end", step=month_end, interval=300.0)] if settings.settlement_auto else [])
    for error, reply in api.ERROR_HANDLERS.items():
        app.add_exception_handler(error, reply)
    return app, rt
