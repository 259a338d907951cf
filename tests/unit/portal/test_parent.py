"""The parent's pages beyond the day (issue 18; R17, R22, R26): the family's monthly statements from the
portal's read model of FeeSettled, each with a Verify button and the ledger's keys, and the receipt of each
asked of audit with the guardian's own token, never another family's; the messages sent to the guardian
(NotificationSent) and their notification settings, read and saved at notification with their own token; the
pickup persons of their own children, named and revoked at enrollment with their own token (R11)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from shared.time import local_day, utc_now
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


async def test_a_parent_reads_the_messages_sent_to_them_and_no_one_elses(client: httpx.AsyncClient, feed,
                                                                          upstreams: Upstreams) -> None:
    tag = uuid.uuid4().hex[:6]
    upstreams.messages[f"gdn-{tag}"] = [{"notification_id": f"ntf-{tag}", "text": "小明已由外婆接走 17:42"},
                                       {"notification_id": f"ntf-{tag}c", "text": "older than the page keeps"}]
    await feed([
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", student_id=f"stu-{tag}", student_name="小明",
           guardian_id=f"gdn-{tag}"),
        ev("NotificationSent", notification_id=f"ntf-{tag}", recipient_id=f"gdn-{tag}", student_id=f"stu-{tag}",
           kind="pickup", channel="sms", sent_at=utc_now()),
        ev("NotificationSent", notification_id=f"ntf-{tag}b", recipient_id=f"gdn-{tag}x", kind="fee_due",
           sent_at=utc_now()),
        ev("NotificationSent", notification_id=f"ntf-{tag}c", recipient_id=f"gdn-{tag}", kind="check_in",
           sent_at=utc_now() - timedelta(days=40)),  # older than the page keeps
        ev("NotificationSent", notification_id=f"ntf-{tag}d", recipient_id=f"aud-{tag}", recipient_role="auditor",
           kind="anomaly_alert", sent_at=utc_now()),
    ])
    page = (await client.get("/me/messages", headers=session("guardian", f"gdn-{tag}"))).text
    row = page[page.index(f'data-message="ntf-{tag}"'):]
    assert "已接走" in row[:200] and "小明" in row[:200] and "短信" in row[:200]
    assert '<td class="words">小明已由外婆接走 17:42</td>' in row[:400]
    (asked,) = [r for r in upstreams.asked if r.url.path.endswith("/messages")]
    assert asked.url.path == f"/v1/recipients/gdn-{tag}/messages"
    for absent in (f"ntf-{tag}b", f"ntf-{tag}c", f"ntf-{tag}d"):
        assert absent not in page
    english = (await client.get("/me/messages?lang=en", headers=session("guardian", f"gdn-{tag}"))).text
    assert "collected" in english and "SMS" in english
    assert (await client.get("/me/messages", headers=session("city", "off-1"))).status_code == 403


async def test_a_parent_saves_their_preferences_at_notification_with_their_own_token(
        client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    me = session("guardian", "gdn-prefs")
    page = (await client.get("/me/messages", headers=me)).text
    assert '<option value="push_then_sms" selected>' in page
    saved = await client.post("/me/preferences?lang=en", headers={**me, "Origin": "http://portal"},
                               content="channels=sms_only&locale=en&quiet_start=21%3A30&quiet_end=07%3A00")
    assert saved.status_code == 303 and saved.headers["location"] == "/me/messages?done=saved&lang=en"
    assert upstreams.preferences["gdn-prefs"] == {"recipient_id": "gdn-prefs", "channels": "sms_only", "locale": "en",
                                                  "quiet_hours": {"start": "21:30", "end": "07:00"}}
    page = (await client.get("/me/messages?done=saved", headers=me)).text
    assert '<option value="sms_only" selected>' in page and 'value="21:30"' in page and "设置已保存" in page
    half = await client.post("/me/preferences", headers=me, content="channels=sms_only&quiet_start=21%3A30")
    assert half.status_code == 422 and "设置没有被接受" in half.text
    elsewhere = await client.post("/me/preferences", headers={**me, "Origin": "https://evil.example"},
                                  content="channels=push_only")
    assert elsewhere.status_code == 403 and upstreams.preferences["gdn-prefs"]["channels"] == "sms_only"


async def test_a_parent_sees_names_and_revokes_the_pickup_persons_of_their_own_child(
        client: httpx.AsyncClient, feed, upstreams: Upstreams) -> None:
    tag = uuid.uuid4().hex[:6]
    me = {**session("guardian", f"gdn-{tag}"), "Origin": "http://portal"}
    until = (local_day(utc_now()) + timedelta(days=60)).isoformat()
    await feed([
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", student_id=f"stu-{tag}", student_name="小明",
           guardian_id=f"gdn-{tag}"),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}", student_id=f"stu-{tag}", guardian_id=f"gdn-{tag}",
           name="李建国", relation="祖父", valid_until=until),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}old", student_id=f"stu-{tag}",
           guardian_id=f"gdn-{tag}", name="过期的人", valid_until="2020-01-31"),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}x", student_id=f"stu-{tag}x",
           guardian_id=f"gdn-{tag}x", name="别人家的"),
    ])
    page = (await client.get("/me/pickups", headers=me)).text
    assert f'data-pickup="pku-{tag}"' in page and "李建国" in page and "137****4321" in page
    assert "过期的人" not in page and "别人家的" not in page

    added = await client.post("/me/pickups", headers=me, content=(
        f"student_id=stu-{tag}&name=%E7%8E%8B%E8%8A%B3&relation=%E9%82%BB%E5%B1%85&phone=13912345678&valid_until={until}"))
    assert added.status_code == 303 and added.headers["location"] == "/me/pickups?done=added"
    asked = upstreams.pickups[-1]
    assert asked.url.path == f"/v1/students/stu-{tag}/pickup-persons" and asked.headers["authorization"].startswith("Bearer ")
    page = (await client.get("/me/pickups?done=added", headers=me)).text
    assert "王芳" in page and "139****5678" in page and "已授权" in page  # at once, before enrollment's event

    refused = await client.post("/me/pickups", headers=me, content=f"student_id=stu-{tag}&name=x&relation=y&phone=12"
                                                                   f"&valid_until={until}")
    assert refused.status_code == 422 and "授权没有被接受" in refused.text
    other = await client.post("/me/pickups", headers=me, content=f"student_id=stu-{tag}x&name=x&relation=y"
                                                                 f"&phone=13912345678&valid_until={until}")
    assert other.status_code == 403

    revoked = await client.post(f"/me/pickups/stu-{tag}/pku-{tag}/revoke?lang=en", headers=me)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/me/pickups?done=revoked&lang=en"
    assert upstreams.pickups[-1].method == "DELETE"
    assert f'data-pickup="pku-{tag}"' not in (await client.get("/me/pickups", headers=me)).text
    assert (await client.post(f"/me/pickups/stu-{tag}/pku-{tag}/revoke",
                              headers={**me, "Origin": "https://evil.example"})).status_code == 403
