"""The portal on the running platform (issue 18): a programme and a disclosure published on Kafka reach the
portal's pages through its own consumer, and the disclosure's Verify button finds audit's proof of the
entry the ledger appended for it, under a signed checkpoint (R4, R21, R26)."""
from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from local.platform import Platform
from services.audit.ledger.merkle import leaf_hash, verify_inclusion
from shared.contracts.registry import event_type
from shared.contracts.schema import example_payload
from shared.contracts.topics import BILLING_EVENTS, ENROLLMENT_EVENTS
from tests.integration.kafkatools import eventually
from tests.integration.test_attendance_ingest import _produce

pytestmark = pytest.mark.integration


def _event(name: str, /, **fields):
    cls = event_type(name, 1)
    return cls.model_validate({**example_payload(cls), **fields})


async def test_published_programmes_and_disclosures_become_pages_and_the_disclosure_is_provable(
        platform: Platform, kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    school, district = f"sch-web{tag}", f"dst-web{tag}"
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, [_event(
        "ProgrammePublished", programme_id=f"prg-web{tag}", school_id=school, district_id=district,
        school_name=f"网页小学{tag}")], "enrollment")
    await _produce(kafka_bootstrap, BILLING_EVENTS, [_event(
        "DisclosurePublished", disclosure_id=f"dsc-web{tag}", school_id=school, district_id=district,
        fee_income_fen=0, subsidy_income_fen=0, waived_fen=0, refunded_fen=0, payouts_fen=0,
        staff_remuneration_fen=0, extra_hours_operating_fen=0, group_accident_insurance_fen=0, balance_fen=0,
        ledger_tree_size=None)], "billing")
    async with httpx.AsyncClient(base_url=platform["portal"].url, timeout=30) as portal:
        async def page_of(path: str) -> httpx.Response | None:
            reply = await portal.get(path)
            return reply if reply.status_code == 200 else None

        # The programme and the disclosure come on two topics, and a public page is kept five seconds: wait for
        # the page that lists both.
        school_page = await eventually(lambda: _with(portal, f"/s/{school}", f'href="/d/dsc-web{tag}"'), timeout=60,
                                       what="the school's page with its disclosure")
        assert f"网页小学{tag}" in school_page
        disclosure = await eventually(lambda: page_of(f"/d/dsc-web{tag}"), timeout=60, what="the disclosure page")
        keys = json.loads(disclosure.text.split('id="ledger-keys">')[1].split("</script>")[0])
        assert keys["log_vkey"] and 'data-figure="balance_fen" data-fen="0"' in disclosure.text
        proof = (await eventually(lambda: page_of(f"/api/disclosures/dsc-web{tag}/proof"), timeout=90,
                                  what="audit's proof of the disclosure")).json()
    entry = base64.b64decode(proof["entry"])
    verify_inclusion(leaf_hash(entry), proof["index"], proof["tree_size"],
                     [base64.b64decode(h) for h in proof["inclusion_proof"]],
                     base64.b64decode(proof["checkpoint"].split("\n")[2]))
    assert proof["disclosure_id"] == f"dsc-web{tag}" and keys["log_vkey"].split("+")[0] in proof["checkpoint"]


async def test_a_parents_statement_becomes_their_page_and_its_receipt_from_audit_verifies(
        platform: Platform, kafka_bootstrap: str) -> None:
    """Billing's statement reaches the parent's page through the portal's consumer and audit's ledger; the
    receipt the Verify button fetches (audit's answer to the guardian's token) opens the family's entry under
    the published checkpoint (issue 18; R17, R26)."""
    from services.audit.ledger.bundles import verify_receipt
    from tests.tokens import mint

    tag = uuid.uuid4().hex[:8]
    guardian, settlement = f"gdn-web{tag}", f"stl-web{tag}"
    await _produce(kafka_bootstrap, BILLING_EVENTS, [_event(
        "FeeSettled", settlement_id=settlement, school_id=f"sch-web{tag}", student_id=f"stu-web{tag}",
        guardian_id=guardian, charged_fen=28500, waived_fen=1500, paid_fen=28500, refund_due_fen=0,
        outstanding_fen=0)], "billing")
    cookies = {"beilei_session": mint(guardian, "guardian")}
    async with httpx.AsyncClient(base_url=platform["portal"].url, timeout=30, cookies=cookies) as portal:
        async def receipt() -> httpx.Response | None:
            reply = await portal.get(f"/me/statements/{settlement}/receipt")
            return reply if reply.status_code == 200 else None

        page = await eventually(lambda: _with(portal, "/me", settlement), timeout=60, what="the statement")
        keys = json.loads(page.split('id="ledger-keys">')[1].split("</script>")[0])
        text = (await eventually(receipt, timeout=90, what="audit's receipt of the statement")).text
    verified = verify_receipt(text, [keys["log_vkey"]])
    assert verified.opened["payload"]["settlement_id"] == settlement
    assert verified.opened["payload"]["guardian_id"] == guardian and verified.opened["payload"]["charged_fen"] == 28500


async def _with(client: httpx.AsyncClient, path: str, shown: str) -> str | None:
    reply = await client.get(path)
    return reply.text if reply.status_code == 200 and shown in reply.text else None
