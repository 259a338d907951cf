"""HTTP routes: a recipient's preferences (R22), auditors' contacts for alerts (R25), the sink; bad
input gets a 4xx with its reason, and a number is only ever shown masked."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from services.notification.api import recipients as api
from services.notification.db import NotificationUoW
from services.notification.handlers import Delivery
from services.notification.settings import Context
from shared.privacy import Sealer
from shared.settings import CommonSettings
from tests.tokens import mint, verifier

SETTINGS = CommonSettings()


@pytest.fixture
async def client(db):
    app = FastAPI()
    app.include_router(api.router)
    app.include_router(api.sink_router)
    app.state.runtime = SimpleNamespace(
        uow_factory=lambda: NotificationUoW(db, producer="notification"), authority=verifier(),
        context=Context(sealer=Sealer(SETTINGS.contact_sealing_key), delivery=Delivery(),
                        fan_out=None))  # type: ignore[arg-type]  # these routes record no broadcast
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notification") as c:
        yield c


def bearer(subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role)}"}


async def test_a_guardian_sets_and_reads_their_own_preferences(client) -> None:
    gid = f"gdn-api-{uuid.uuid4().hex[:6]}"
    default = await client.get(f"/v1/recipients/{gid}/preferences", headers=bearer(gid, "guardian"))
    assert default.status_code == 200 and default.json()["quiet_hours"] == {"start": "21:30", "end": "07:00"}
    body = {"channels": "sms_only", "quiet_hours": {"start": "22:00", "end": "06:30"}, "locale": "en"}
    put = await client.put(f"/v1/recipients/{gid}/preferences", json=body, headers=bearer(gid, "guardian"))
    assert put.status_code == 200
    got = (await client.get(f"/v1/recipients/{gid}/preferences", headers=bearer(gid, "guardian"))).json()
    assert got == {"recipient_id": gid, **body}


async def test_nobody_else_may_change_a_guardians_preferences(client) -> None:
    reply = await client.put("/v1/recipients/gdn-api-a/preferences", json={"channels": "sms_only"},
                             headers=bearer("gdn-api-b", "guardian"))
    assert reply.status_code == 403 and "only the recipient" in reply.json()["detail"]
    assert (await client.get("/v1/recipients/gdn-api-a/preferences")).status_code == 401


async def test_malformed_preferences_are_refused_with_the_reason(client) -> None:
    reply = await client.put("/v1/recipients/gdn-api-c/preferences",
                             json={"channels": "fax", "quiet_hours": {"start": "25:00", "end": "07:00"}},
                             headers=bearer("gdn-api-c", "guardian"))
    assert reply.status_code == 422
    where = {tuple(e["loc"]) for e in reply.json()["detail"]}
    assert where == {("body", "channels"), ("body", "quiet_hours", "start")}


async def test_an_auditor_registers_a_contact_that_is_kept_sealed_and_shown_masked(client, db) -> None:
    aid = f"aud-api-{uuid.uuid4().hex[:6]}"
    reply = await client.put(f"/v1/auditors/{aid}/contact", json={"phone": "138 0013 8000", "district_id": "dst-07"},
                             headers=bearer(aid, "auditor"))
    assert reply.status_code == 200 and reply.json()["phone_masked"] == "138****8000"
    async with NotificationUoW(db, producer="notification") as uow:
        row = await uow.contact(aid)
    assert row.role == "auditor" and "13800138000" not in row.phone_sealed
    assert Sealer(SETTINGS.contact_sealing_key).unseal(row.phone_sealed) == "13800138000"


async def test_an_auditor_contact_needs_a_mainland_mobile_and_the_right_role(client) -> None:
    bad = await client.put("/v1/auditors/aud-api-x/contact", json={"phone": "12345"}, headers=bearer("aud-api-x", "auditor"))
    assert bad.status_code == 422 and "mainland mobile" in bad.text
    other = await client.put("/v1/auditors/aud-api-x/contact", json={"phone": "13800138000"},
                             headers=bearer("gdn-1", "guardian"))
    assert other.status_code == 403


async def test_the_sink_lists_messages_as_json_and_as_a_page_to_the_city_alone(client) -> None:
    city = bearer("city-api", "city")
    listed = await client.get("/v1/sink", params={"limit": 5}, headers=city)
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    page = await client.get("/sink", headers=city)
    assert page.status_code == 200 and "Beilei local delivery sink" in page.text
    assert (await client.get("/v1/sink", params={"limit": 0}, headers=city)).status_code == 422
    assert (await client.get("/v1/sink")).status_code == 401 and (await client.get("/sink")).status_code == 401
    assert (await client.get("/v1/sink", headers=bearer("gdn-api-a", "guardian"))).status_code == 403


async def test_the_sink_page_opens_from_the_link_make_run_prints_and_for_the_city_alone(client) -> None:
    # A browser cannot send a header from a link: the page (only) takes the city token in the query.
    page = await client.get("/sink", params={"access_token": mint("off-local-sink", "city")})
    assert page.status_code == 200 and "Beilei local delivery sink" in page.text
    assert (await client.get("/sink", params={"access_token": mint("gdn-1", "guardian")})).status_code == 403
    assert (await client.get("/sink", params={"access_token": "not-a-token"})).status_code == 401
    listed = await client.get("/v1/sink", params={"access_token": mint("off-local-sink", "city")})
    assert listed.status_code == 401  # the JSON log keeps to the header


async def test_a_guardian_reads_the_words_of_their_own_messages_and_no_one_elses(client, db) -> None:
    from datetime import UTC, datetime

    from services.notification.db.tables import MessageRow

    gid, other = f"gdn-msg-{uuid.uuid4().hex[:6]}", f"gdn-msg-{uuid.uuid4().hex[:6]}"
    at = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)
    async with NotificationUoW(db, producer="notification") as uow:
        for n, (who, status, body) in enumerate(((gid, "sent", "小明已由外婆接走"), (gid, "waiting", None),
                                                 (other, "sent", "someone else's"))):
            uow.session.add(MessageRow(event_id=uuid.uuid4(), out_id=f"{who}-{n}", recipient_id=who, kind="pickup",
                                       template="pickup", params={}, cause_event_type="StudentCheckedOut",
                                       event_at=at, status=status, body=body, student_id="stu-1",
                                       delivered_at=at if body else None))
        await uow.commit()

    mine = await client.get(f"/v1/recipients/{gid}/messages", headers=bearer(gid, "guardian"))
    assert mine.status_code == 200
    assert [(m["notification_id"], m["status"], m["text"]) for m in mine.json()] == [
        (f"ntf-{gid}-1", "waiting", None), (f"ntf-{gid}-0", "sent", "小明已由外婆接走")]
    refused = await client.get(f"/v1/recipients/{other}/messages", headers=bearer(gid, "guardian"))
    assert refused.status_code == 403 and "see these messages" in refused.json()["detail"]
    assert (await client.get(f"/v1/recipients/{gid}/messages")).status_code == 401
