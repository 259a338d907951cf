"""The audit service on real Kafka and PostgreSQL (R24, R26): a month of billing's events becomes ledger
entries exactly once through a SIGKILL and redeliveries; a forged redelivery is refused and reported
once; the checkpoint after the restart is consistent with the one before, and receipts, consistency
proofs and the export verify with the offline verifier in a separate process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.infra import REPO
from local.platform import Platform
from shared.contracts.registry import encode
from shared.contracts.topics import AUDIT_EVENTS, BILLING_EVENTS
from tests.integration.kafkatools import eventually, produce, read_topic
from tests.tokens import mint
from tests.unit.audit.money import School, envelope

pytestmark = pytest.mark.integration

STUDENTS = 12


def _month(school: School) -> list:
    """Billing's events of one month for one school: standard, subsidy, charges, payments, settlements,
    payouts, expenses and a waiver."""
    events = [school.schedule(), school.subsidy()]
    for _ in range(STUDENTS):
        student = school.student()
        charge = school.charge(student, days=[], quantity=20, amount=30000)
        events += [charge, school.payment(student, 30000), school.settlement(student, 30000)]
    events += [school.waiver(student, charge.charge_id, 1500, reason="session_not_provided"),
               school.payout("stf-itg-1", 90000, 0, category="staff_subsidy"), school.expense(45000)]
    return [envelope(e) for e in events]


def _verifier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.audit.verifier", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


async def test_a_month_of_billing_events_is_recorded_exactly_once_through_a_sigkill_and_stays_consistent(
    platform: Platform, kafka_bootstrap: str, tmp_path: Path
) -> None:
    audit = platform["audit"]
    token = mint("aud-itg", "auditor")
    school = School("itg")
    month = _month(school)
    half = len(month) // 2
    client = httpx.AsyncClient(base_url=audit.url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    async def recorded() -> list[dict]:
        entries, after = [], -1
        while True:
            reply = await client.get("/v1/audit/entries", params={"school_id": school.school_id, "after": after,
                                                                  "limit": 500})
            if reply.status_code == 404:  # no checkpoint signed yet
                return []
            reply.raise_for_status()
            page = reply.json()
            entries += page["entries"]
            if page["next_after"] is None:
                return entries
            after = page["next_after"]

    async def when_recorded(n: int) -> list[dict] | None:
        found = await recorded()
        return found if len(found) >= n else None

    try:
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in month[:half]])
        await eventually(lambda: when_recorded(half), timeout=120, what="the first half in a signed checkpoint")
        before = (await client.get("/v1/ledger/checkpoint")).text
        vkey = (await client.get("/v1/ledger/key")).json()["vkey"]

        # The rest arrives, the audit process dies mid-stream, and the producer retries everything.
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in month[half:]])
        audit.kill()
        target = next(e for e in month[half:] if e.type == "PaymentReceived")
        forged = target.model_copy(update={"payload": {**target.payload, "amount_fen": 1}})
        again = month[:half] + month[half:][:5] + [forged]
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in again])
        audit.start()
        audit.wait_ready(timeout=120)

        entries = await eventually(lambda: when_recorded(len(month)), timeout=120, what="every event recorded")
        ids = [e["event_id"] for e in entries]
        assert sorted(ids) == sorted(str(e.event_id) for e in month), "each event exactly once"
        assert [e["index"] for e in entries] == sorted(e["index"] for e in entries)
        kept = next(e for e in entries if e["event_id"] == str(forged.event_id))
        assert kept["entry"]["payload"]["amount_fen"] == target.payload["amount_fen"] == 30000

        # The checkpoint after the restart extends the one before (verified offline, in another process).
        old = tmp_path / "before.checkpoint"
        old.write_text(before, encoding="utf-8")
        old_size = int(before.split("\n")[1])
        bundle = tmp_path / "consistency.json"
        bundle.write_text((await client.get("/v1/ledger/consistency", params={"old": old_size})).text, encoding="utf-8")
        result = _verifier("consistency", str(bundle), "--key", vkey, "--old", str(old))
        assert result.returncode == 0, result.stdout + result.stderr

        receipt = tmp_path / "entry.tlog-proof"
        receipt.write_text((await client.get(f"/v1/ledger/entries/{kept['index']}/receipt")).text, encoding="utf-8")
        result = _verifier("receipt", str(receipt), "--key", vkey, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["entry"]["event_id"] == str(forged.event_id)

        export = tmp_path / "ledger.jsonl"
        async with client.stream("GET", "/v1/ledger/export") as reply:
            reply.raise_for_status()
            with export.open("wb") as out:
                async for chunk in reply.aiter_bytes():
                    out.write(chunk)
        result = _verifier("audit", str(export), "--key", vkey, "--checkpoint", str(old), "--json")
        report = json.loads(result.stdout)
        assert report["verified"] and report["saved_checkpoints"] == [{"tree_size": old_size, "consistent": True}]
        assert report["schools"][school.school_id]["balanced"]

        # The forged redelivery was refused and reported exactly once.
        async def conflicts() -> list[dict] | None:
            found = [json.loads(r.value) for r in await read_topic(kafka_bootstrap, AUDIT_EVENTS)]
            hits = [e for e in found if e["type"] == "AnomalyDetected" and e["payload"]["check"] == "conflicting_duplicate"
                    and e["payload"]["subject_event_ids"] == [str(forged.event_id)]]
            return hits or None

        assert len(await eventually(conflicts, timeout=60, what="the conflicting delivery reported")) == 1
        anomalies = (await client.get("/v1/audit/anomalies", params={"school_id": school.school_id,
                                                                     "check": "conflicting_duplicate"})).json()
        assert len(anomalies) == 1 and anomalies[0]["ledger_indexes"] == [kept["index"]]
    finally:
        await client.aclose()
