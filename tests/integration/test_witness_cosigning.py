"""The audit workers' cosigning round against real litewitnesses (issue 17; R24, R26): the newest checkpoint
is cosigned by the quorum and kept with the witnesses' lines; a witness that is down holds back the
cosigned checkpoint (its age grows, which the LedgerCosignatureStale alert reads), never the checkpoints."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.audit.api import witnessed
from services.audit.ledger.witness import load_policy
from services.audit.settings import Context
from services.audit.witnesses import Witness
from services.audit.workers import LedgerWorkers
from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import School

pytestmark = pytest.mark.integration


async def test_a_down_witness_delays_the_cosigned_checkpoint_and_the_quorum_cosigns_once_it_is_back(
        database_url: str, witnesses) -> None:
    lg = await TestLedger.create(database_url, "cosign")
    try:
        lg.use_origin(f"beilei.test/cosign-{uuid.uuid4().hex[:8]}")
        witnesses.add_log(lg.origin, lg.vkey)
        (url_a, vkey_a), (url_b, vkey_b) = witnesses.witnesses
        down = Witness.of("http://127.0.0.1:9", vkey_b)  # witness b is unreachable at first
        registry = CollectorRegistry()
        workers = LedgerWorkers(SimpleNamespace(uow_factory=lg.uow), lg.signer, lg.origin,  # type: ignore[arg-type]
                                lg.policy, checkpoint_seconds=1, check_seconds=1, registry=registry,
                                witnesses=[Witness.of(url_a, vkey_a), down], witness_quorum=2)
        value = registry.get_sample_value
        school = School("wit")
        student = school.student()
        start = datetime.now(UTC)

        await lg.feed(*[school.payment(student, 10 + i) for i in range(40)])
        async with lg.uow() as uow:
            await workers._checkpoint(uow, start)
        async with lg.uow() as uow:
            await workers._cosign(uow, start + timedelta(minutes=10))
        assert workers.cosigned_note is None and workers.cosigned_size == 0
        assert value("beilei_ledger_cosigned_checkpoint_age_seconds") >= 600
        assert value("beilei_ledger_witness_cosigned_size", {"witness": workers.witnesses[0].key.name}) == 40

        # The ledger goes on: more entries, a new checkpoint, while b is still down.
        await lg.feed(*[school.payment(student, 100 + i) for i in range(25)])
        async with lg.uow() as uow:
            await workers._checkpoint(uow, start + timedelta(minutes=11))
        assert value("beilei_ledger_checkpoint_age_seconds") is not None and value("beilei_audit_checkpoints_total") == 2

        down.url = url_b  # b is back: a fresh witness for this log, cosigning from size 0
        now = datetime.now(UTC)
        async with lg.uow() as uow:
            await workers._cosign(uow, now)
        assert workers.cosigned_size == 65
        policy = load_policy(f"witness {vkey_a}\nwitness {vkey_b}\n")
        assert len(policy.check(workers.cosigned_note, [lg.vkey], origin=lg.origin)) == 2
        assert value("beilei_ledger_cosigned_checkpoint_age_seconds") < 600
        # Published, publicly: the cosigned note and how far each witness has cosigned.
        app = FastAPI()
        app.include_router(witnessed.router)
        app.state.runtime = SimpleNamespace(context=Context(lg.signer, lg.origin, workers))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
            body = (await client.get("/v1/ledger/witnesses")).json()
        assert body["cosigned_note"] == workers.cosigned_note and body["quorum"] == 2
        assert [(w["vkey"], w["cosigned_size"]) for w in body["witnesses"]] == [(vkey_a, 65), (vkey_b, 65)]
        for w in workers.witnesses:
            await w.aclose()
    finally:
        await lg.close()
