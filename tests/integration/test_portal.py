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

        school_page = await eventually(lambda: page_of(f"/s/{school}"), timeout=60, what="the school's page")
        assert f"网页小学{tag}" in school_page.text and f'href="/d/dsc-web{tag}"' in school_page.text
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
