"""Billing's composition root: wires settings, runtime, handlers, routes, error replies and the
month-end schedule into one ASGI app."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import Counter

from services.billing import api
from services.billing.db import BillingUoW
from services.billing.db.claims import month_end_claims
from services.billing.handlers import HANDLERS
from services.billing.handlers.settlement import settle_due_month
from services.billing.settings import Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app

NAME = "billing"
log = logging.getLogger(__name__)


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, BillingUoW)
    rt.extras["refusals"] = Counter("beilei_billing_refusals", "Money requests refused (R19, R25), by kind.", ["kind"],
                                    registry=rt.registry)
    app = create_app(rt, handlers=HANDLERS, routers=[api.router], title="Beilei billing",
                     description="Fee schedules, cost sharing, waivers, settlement on actuals, payouts (R16-R21).")

    for error, reply in api.ERROR_HANDLERS.items():
        app.add_exception_handler(error, reply)

    if settings.settlement_auto:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: FastAPI) -> AsyncIterator[None]:
            async with inner(a):
                task = asyncio.create_task(_month_end_schedule(rt, settings), name="billing-month-end")
                try:
                    yield
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

        app.router.lifespan_context = lifespan
    return app, rt


async def _month_end_schedule(rt: Runtime, settings: Settings, every_seconds: float = 300.0) -> None:
    """Every few minutes, settle last month where it is due (R17). Each school is claimed with a session
    advisory lock, so replicas share the schools and one that dies mid-school leaves it to the next round."""
    claim = month_end_claims(rt.db.engine)
    while True:
        try:
            await settle_due_month(rt.uow_factory, now=datetime.now(UTC), claim=claim,
                                   day_of_month=settings.settlement_day_of_month,
                                   hour_local=settings.settlement_hour_local, workers=settings.settlement_workers,
                                   chunk_size=settings.settlement_chunk_size, due_days=settings.payment_due_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled month-end settlement failed; trying again next round")
        await asyncio.sleep(every_seconds)
