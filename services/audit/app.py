"""Audit's composition root: migrates as the owner, then runs everything as the restricted ledger writer;
wires settings, signing key, handlers, routes and the checkpoint, check and cosigning workers into one
ASGI app. The kit stops the workers first on shutdown, so the last checkpoint's event still leaves the outbox."""
from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.audit import api
from services.audit.db import AuditUoW, prepare_writer, writer_url
from services.audit.handlers import DUPLICATE_HANDLERS, HANDLERS, CheckPolicy
from services.audit.settings import Context, Settings
from services.audit.signing import load_or_create_signer
from services.audit.witnesses import Witness
from services.audit.workers import LedgerWorkers
from shared.messaging import migrate
from shared.messaging.runtime import Runtime, build_runtime, create_app

NAME = "audit"


def build(settings: Settings | None = None) -> tuple[FastAPI, Runtime]:
    owner = settings or Settings()
    # R24: after migrating, the service holds only the writer role, which may insert into and read the
    # ledger tables but never update, delete or truncate them.
    rt = build_runtime(NAME, owner.model_copy(update={"database_url": writer_url(owner), "migrate_on_start": False}),
                       AuditUoW)
    signer = load_or_create_signer(owner)
    policy = CheckPolicy(grace_seconds=owner.check_grace_seconds, disclosure_months=owner.disclosure_period_months,
                         disclosure_grace_days=owner.disclosure_grace_days)
    workers = LedgerWorkers(rt, signer, owner.ledger_origin, policy, checkpoint_seconds=owner.checkpoint_interval_seconds,
                            check_seconds=owner.check_interval_seconds, registry=rt.registry,
                            witnesses=[Witness.of(url, vkey) for url, vkey in owner.witness_list()],
                            witness_quorum=owner.ledger_witness_quorum, witness_seconds=owner.witness_interval_seconds)
    rt.context = Context(signer=signer, origin=owner.ledger_origin, workers=workers)

    async def migrate_then_restrict() -> None:
        if owner.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, NAME, owner.database_url, rt.db.schema)
            await prepare_writer(owner)

    app = create_app(rt, handlers=HANDLERS, duplicate_handlers=DUPLICATE_HANDLERS, routers=api.routers,
                     workers=workers.kit_workers(), migrate_with=migrate_then_restrict,
                     title="Beilei audit",
                     description="The verifiable, append-only fee ledger, anti-misappropriation checks and the "
                                 "auditor's queries with proofs (R24-R26, R29).")
    return app, rt
