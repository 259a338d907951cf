"""The audit HTTP API over a real ledger (R26, R27, R29): public checkpoints and proofs of consistency;
entries, receipts, anomalies, reports and the export only for the readers entitled to them, each
entry proven against the checkpoint the answer cites; bad input gets a 4xx with its reason."""
from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from services.audit import api
from services.audit.ledger.bundles import verify_consistency_bundle, verify_receipt
from services.audit.ledger.checkpoint import open_checkpoint
from services.audit.ledger.commitments import open_entry
from services.audit.ledger.merkle import leaf_hash, verify_inclusion
from services.audit.settings import Context
from tests.tokens import mint, verifier
from tests.unit.audit.harness import ORIGIN, TestLedger
from tests.unit.audit.money import DAY, School


def _bearer(role: str, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('who', role, **scope)}"}


@pytest.fixture(scope="module")
async def setup(ledger: TestLedger) -> AsyncIterator[tuple[httpx.AsyncClient, School, School]]:
    app = FastAPI()
    for router in api.routers:
        app.include_router(router)
    app.state.runtime = SimpleNamespace(uow_factory=ledger.uow, authority=verifier(),
                                        context=Context(ledger.signer, ORIGIN))
    mine, theirs = School("api"), School("apx")
    for school in (mine, theirs):
        student = school.student()
        await ledger.feed(school.schedule(), school.subsidy(9000), school.enrollment(student), school.check_in(student))
        await ledger.feed(school.charge(student), school.payment(student, 1500),
                          school.expense(500, "extra_hours_operating", payee="区教育局", details="管理费"))
    await ledger.settle()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        yield client, mine, theirs


async def test_checkpoints_the_key_and_consistency_proofs_are_public(setup, ledger: TestLedger) -> None:
    client, _, _ = setup
    note = (await client.get("/v1/ledger/checkpoint")).text
    latest = open_checkpoint(note, [ledger.vkey], ORIGIN)
    assert (await client.get("/v1/ledger/key")).json() == {"origin": ORIGIN, "vkey": ledger.vkey}
    head = (await client.get("/v1/ledger/head")).json()
    assert head["size"] == latest.size and head["root_hash"] == latest.root_hash.hex()
    listed = (await client.get("/v1/ledger/checkpoints", params={"limit": 1000})).json()
    older = listed[0]["tree_size"]
    bundle = (await client.get("/v1/ledger/consistency", params={"old": older})).json()
    old, new = verify_consistency_bundle(bundle, [ledger.vkey])
    assert (old.size, new.size) == (older, latest.size)
    # From the empty tree (issue 17): an answer, not a 404, with no old checkpoint and an empty proof.
    reply = await client.get("/v1/ledger/consistency", params={"old": 0})
    assert reply.status_code == 200, reply.text
    assert reply.json()["old_checkpoint"] is None and reply.json()["proof"] == []
    old, new = verify_consistency_bundle(reply.json(), [ledger.vkey])
    assert (old.size, new.size) == (0, latest.size)


async def test_an_auditor_reads_entries_by_school_each_proven_against_the_cited_checkpoint(setup, ledger: TestLedger) -> None:
    client, mine, _ = setup
    reply = await client.get("/v1/audit/entries", params={"school_id": mine.school_id}, headers=_bearer("auditor"))
    assert reply.status_code == 200, reply.text
    page = reply.json()
    checkpoint = open_checkpoint(page["checkpoint"]["signed_note"], [ledger.vkey], ORIGIN)
    assert [e["category"] for e in page["entries"]] == ["fee_schedule", "subsidy", "charge", "payment", "expense"]
    for e in page["entries"]:
        body = base64.b64decode(e["entry_b64"])
        assert e["entry_format"] == 2 and "student_id" not in json.loads(body)["payload"]
        assert open_entry(body, e["opening"]) == e["entry"]  # the commitments open to the event as published
        verify_inclusion(leaf_hash(body), e["index"], checkpoint.size,
                         [base64.b64decode(h) for h in e["inclusion_proof"]], checkpoint.root_hash)
    by_category = await client.get("/v1/audit/entries", params={"school_id": mine.school_id, "category": "payment",
                                                                "period": DAY.strftime("%Y-%m")},
                                   headers=_bearer("auditor"))
    assert [e["event_type"] for e in by_category.json()["entries"]] == ["PaymentReceived"]


async def test_a_school_and_a_district_see_only_their_own_schools(setup) -> None:
    client, mine, theirs = setup
    own = await client.get("/v1/audit/entries", headers=_bearer("school", school_id=mine.school_id))
    assert {e["school_id"] for e in own.json()["entries"]} == {mine.school_id}
    other = await client.get("/v1/audit/entries", params={"school_id": theirs.school_id},
                             headers=_bearer("school", school_id=mine.school_id))
    assert other.status_code == 403 and "only its own" in other.json()["detail"]
    district = await client.get("/v1/audit/entries", headers=_bearer("district", district_id=theirs.district_id))
    assert {e["school_id"] for e in district.json()["entries"]} == {theirs.school_id}
    index = own.json()["entries"][0]["index"]
    assert (await client.get(f"/v1/audit/entries/{index}",
                             headers=_bearer("district", district_id=theirs.district_id))).status_code == 403
    assert (await client.get("/v1/audit/entries", headers=_bearer("guardian"))).status_code == 403
    assert (await client.get("/v1/audit/entries")).status_code == 401


async def test_a_receipt_downloads_and_verifies_offline(setup, ledger: TestLedger) -> None:
    client, mine, _ = setup
    index = (await client.get("/v1/audit/entries", params={"school_id": mine.school_id, "category": "charge"},
                              headers=_bearer("auditor"))).json()["entries"][0]["index"]
    reply = await client.get(f"/v1/ledger/entries/{index}/receipt", headers=_bearer("school", school_id=mine.school_id))
    assert reply.status_code == 200 and "attachment" in reply.headers["content-disposition"]
    verified = verify_receipt(reply.text, [ledger.vkey], origin=ORIGIN)
    assert verified.index == index and json.loads(verified.entry)["type"] == "FeeCharged"


async def test_a_family_reads_the_receipt_of_its_own_event_by_event_id(setup, ledger: TestLedger) -> None:
    client, mine, _ = setup
    (charge,) = (await client.get("/v1/audit/entries", params={"school_id": mine.school_id, "category": "charge"},
                                  headers=_bearer("auditor"))).json()["entries"][:1]
    guardian = charge["entry"]["payload"]["guardian_id"]
    url = f"/v1/ledger/events/{charge['event_id']}/receipt"
    family = {"Authorization": f"Bearer {mint(guardian, 'guardian')}"}
    reply = await client.get(url, headers=family)
    assert reply.status_code == 200, reply.text
    verified = verify_receipt(reply.text, [ledger.vkey], origin=ORIGIN)
    assert verified.index == charge["index"] and verified.opened["payload"]["guardian_id"] == guardian
    assert (await client.get(url, headers={"Authorization": f"Bearer {mint('gdn-other', 'guardian')}"})).status_code == 403
    unknown = await client.get("/v1/ledger/events/00000000-0000-4000-8000-000000000000/receipt", headers=family)
    assert unknown.status_code == 404 and "no ledger entry" in unknown.json()["detail"]


async def test_anomalies_and_reports_cite_evidence_and_their_checkpoint(setup, ledger: TestLedger) -> None:
    client, mine, theirs = setup
    anomalies = (await client.get("/v1/audit/anomalies", params={"school_id": mine.school_id},
                                  headers=_bearer("auditor"))).json()
    assert [a["check"] for a in anomalies] == ["management_fee"] and anomalies[0]["ledger_indexes"]
    report = (await client.get("/v1/audit/reports/monthly", params={"period": DAY.strftime("%Y-%m"),
                                                                    "school_id": mine.school_id},
                               headers=_bearer("school", school_id=mine.school_id))).json()
    open_checkpoint(report["checkpoint"]["signed_note"], [ledger.vkey], ORIGIN)
    (row,) = report["schools"]
    assert (row["charged_fen"], row["fee_income_fen"], row["subsidy_income_fen"], row["extra_hours_operating_fen"],
            row["balance_fen"], row["students_charged"]) == (1500, 1500, 9000, 500, 10000, 1)
    assert row["anomalies"] == {"management_fee": 1} and row["district_id"] == mine.district_id
    annual = (await client.get("/v1/audit/reports/annual", params={"year": str(DAY.year)},
                               headers=_bearer("auditor"))).json()
    assert {mine.school_id, theirs.school_id} <= {s["school_id"] for s in annual["schools"]}


async def test_the_export_is_for_auditors_and_starts_with_its_signed_checkpoint(setup, ledger: TestLedger) -> None:
    client, mine, _ = setup
    assert (await client.get("/v1/ledger/export", headers=_bearer("school", school_id=mine.school_id))).status_code == 403
    reply = await client.get("/v1/ledger/export", headers=_bearer("auditor"))
    lines = reply.text.splitlines()
    header = json.loads(lines[0])
    assert len(lines) == header["tree_size"] + 1
    assert open_checkpoint(header["checkpoint"], [ledger.vkey], ORIGIN).size == header["tree_size"]


@pytest.mark.parametrize("path, params, status, reason", [
    ("/v1/audit/reports/monthly", {"period": "2025-13"}, 422, "String should match pattern"),
    ("/v1/audit/entries", {"size": 3}, 404, "no signed checkpoint of size 3"),
    ("/v1/audit/entries/999999999", {}, 404, "is not in the checkpoint"),
    ("/v1/ledger/consistency", {"old": 10**9}, 422, "is larger than the new checkpoint"),
    ("/v1/ledger/entries/-1/receipt", {}, 422, "greater than or equal to 0"),
    # Past PostgreSQL's bigint: refused by the route, never an overflow in the driver (a 500).
    ("/v1/audit/entries", {"size": 2**63}, 422, "less than or equal to 9223372036854775807"),
    ("/v1/audit/entries", {"after": 10**30}, 422, "less than or equal to 9223372036854775807"),
    (f"/v1/audit/entries/{2**64}", {}, 422, "less than or equal to 9223372036854775807"),
    (f"/v1/ledger/entries/{2**63}/proof", {}, 422, "less than or equal to 9223372036854775807"),
    ("/v1/ledger/checkpoints", {"after": 2**63}, 422, "less than or equal to 9223372036854775807"),
    ("/v1/ledger/consistency", {"old": 0, "new": 2**63}, 422, "less than or equal to 9223372036854775807"),
    ("/v1/audit/reports/annual", {"year": "2025", "size": 2**70}, 422, "less than or equal to 9223372036854775807"),
])
async def test_bad_requests_get_a_4xx_with_the_reason(setup, path: str, params: dict, status: int, reason: str) -> None:
    client, _, _ = setup
    reply = await client.get(path, params=params, headers=_bearer("auditor"))
    assert reply.status_code == status and reason in reply.text
