"""The parent's page beyond the day (issue 18; R17, R26): the family's monthly statements from the portal's
read model of FeeSettled, each with a Verify button and the ledger's keys, and the receipt of each asked of
audit with the guardian's own token, never another family's."""
from __future__ import annotations

import uuid

import httpx

from tests.unit.portal.conftest import Upstreams, session
from tests.unit.portal.test_pages import ev


async def test_a_parent_sees_their_statements_and_fetches_each_receipt_with_their_own_token(
        client: httpx.AsyncClient, feed, upstreams: Upstreams) -> None:
    tag = uuid.uuid4().hex[:6]
    mine, theirs = f"stl-{tag}", f"stl-{tag}x"
    await feed([
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", student_id=f"stu-{tag}", student_name="小明",
           guardian_id=f"gdn-{tag}"),
        ev("FeeSettled", settlement_id=mine, student_id=f"stu-{tag}", guardian_id=f"gdn-{tag}", period="2025-09",
           charged_fen=28_500, waived_fen=1_500, sessions_provided=19),
        ev("FeeSettled", settlement_id=theirs, student_id=f"stu-{tag}x", guardian_id=f"gdn-{tag}x"),
    ])
    page = (await client.get("/me", headers=session("guardian", f"gdn-{tag}"))).text
    assert f'data-statement="{mine}" data-receipt-url="/me/statements/{mine}/receipt"' in page
    assert 'data-figure="charged_fen" data-value="28500">285.00 元<' in page
    assert 'data-figure="sessions_provided" data-value="19">19 次<' in page and "2025-09 · 小明" in page
    assert theirs not in page and '"quorum": 1' in page and 'src="/static/js/receipt-page.js"' in page

    receipt = await client.get(f"/me/statements/{mine}/receipt", headers=session("guardian", f"gdn-{tag}"))
    assert receipt.status_code == 200 and receipt.text.startswith("receipt of ")
    assert receipt.headers["cache-control"] == "private, no-store"
    (asked,) = [r for r in upstreams.asked if r.url.path.endswith("/receipt")]
    assert asked.headers["authorization"].startswith("Bearer ")
    other = await client.get(f"/me/statements/{theirs}/receipt", headers=session("guardian", f"gdn-{tag}"))
    assert other.status_code == 404
    assert (await client.get(f"/me/statements/{mine}/receipt")).status_code == 403
    english = (await client.get("/me?lang=en", headers=session("guardian", f"gdn-{tag}"))).text
    assert "Verify receipt" in english and "Parent&#39;s share charged" in english
