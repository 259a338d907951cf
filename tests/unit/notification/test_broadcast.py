"""Emergency broadcasts (issue 16): who may send to which school, district or the city (R27); a retried
request broadcasts once; the fan-out queues every guardian and staff contact of the scope exactly once as
an urgent message, in chunks that resume from their cursor, and never reaches another school; the report
counts what was handed over; the sender receipts the notice as NotificationSent v2 (R22)."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.notification.api import broadcasts as broadcast_api
from services.notification.db import ContactRow, PreferenceRow
from services.notification.fan_out import FanOut
from services.notification.handlers import broadcasts as broadcast
from services.notification.handlers.broadcasts import NotAllowed, Notice, authorise
from services.notification.settings import Context
from shared.auth import Principal
from shared.contracts.notification import NotificationFailedV2, NotificationSentV2
from tests.tokens import bearer, verifier
from tests.unit.notification.test_sender import SEALER, Rig, checkout, guardian, unique

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OFFICIAL = Principal("usr-p", "school", school_id="sch-a")
OFFICER = Principal("usr-d", "district", district_id="dst-1")


# -- who may send what --------------------------------------------------------------------------------

@pytest.mark.parametrize(("principal", "scope", "scope_id", "district"), [
    (OFFICIAL, "school", "sch-a", None),
    (OFFICER, "district", "dst-1", None),
    (OFFICER, "school", "sch-b", "dst-1"),
    (Principal("usr-c", "city"), "city", None, None),
    (Principal("usr-c", "city"), "school", "sch-z", None),
])
def test_officials_may_broadcast_within_their_reach(principal, scope, scope_id, district) -> None:
    authorise(principal, scope, scope_id, district)


@pytest.mark.parametrize(("principal", "scope", "scope_id", "district"), [
    (OFFICIAL, "school", "sch-b", None),
    (OFFICIAL, "district", "dst-1", None),
    (OFFICIAL, "city", None, None),
    (OFFICER, "district", "dst-2", None),
    (OFFICER, "school", "sch-c", "dst-2"),
    (OFFICER, "school", "sch-unknown", None),
    (OFFICER, "city", None, None),
    (Principal("gdn-1", "guardian", school_id="sch-a"), "school", "sch-a", None),
    (Principal("aud-1", "auditor"), "city", None, None),
    (Principal("sys-1", "school_system", school_id="sch-a"), "school", "sch-a", None),
])
def test_nobody_broadcasts_beyond_their_reach(principal, scope, scope_id, district) -> None:
    with pytest.raises(NotAllowed):
        authorise(principal, scope, scope_id, district)


# -- the routes ---------------------------------------------------------------------------------------

@pytest.fixture
async def client(db):
    rig = Rig(db)
    app = FastAPI()
    app.include_router(broadcast_api.router)
    woken: list[bool] = []
    app.state.runtime = SimpleNamespace(uow_factory=rig.uow, authority=verifier(),
                                        context=Context(sealer=SEALER, delivery=rig.delivery,
                                                        fan_out=SimpleNamespace(wake=lambda: woken.append(True))))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notification") as c:
        c.woken = woken  # type: ignore[attr-defined]
        yield c


def notice(school: str, **extra) -> dict:
    return {"scope": "school", "scope_id": school, "title": "暴雨停课", "body": "今日课后服务暂停，请16:00前接孩子。",
            "reason": "暴雨红色预警", **extra}


async def _count(db, sql: str, **params) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_a_retried_broadcast_is_recorded_and_announced_once(client, db) -> None:
    school, key = unique("sch"), unique("key")
    headers = {**bearer("usr-p", "school", school_id=school), "Idempotency-Key": key}
    first = await client.post("/v1/broadcasts", json=notice(school), headers=headers)
    again = await client.post("/v1/broadcasts", json=notice(school), headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    bid = first.json()["broadcast_id"]
    assert again.json()["broadcast_id"] == bid and first.json()["issued_by_role"] == "school_staff"
    assert await _count(db, "select count(*) from broadcasts where scope_id = :s", s=school) == 1
    assert await _count(db, "select count(*) from outbox where key = :b", b=bid) == 1  # EmergencyBroadcastIssued
    assert client.woken == [True]


async def test_a_client_broadcast_id_makes_a_retry_harmless_and_a_reused_key_for_another_notice_is_refused(
        client, db) -> None:
    school, bid = unique("sch"), str(uuid.uuid4())
    headers = bearer("usr-p", "school", school_id=school)
    first = await client.post("/v1/broadcasts", json=notice(school, broadcast_id=bid), headers=headers)
    again = await client.post("/v1/broadcasts", json=notice(school, broadcast_id=bid), headers=headers)
    other = await client.post("/v1/broadcasts", json=notice(school, broadcast_id=bid, body="另一条通知"), headers=headers)

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert first.json()["broadcast_id"] == again.json()["broadcast_id"] == bid
    assert await _count(db, "select count(*) from broadcasts where scope_id = :s", s=school) == 1


async def test_a_school_official_may_not_broadcast_to_another_school_nor_a_guardian_to_their_own(client) -> None:
    other = await client.post("/v1/broadcasts", json=notice("sch-b"), headers=bearer("usr-p", "school", school_id="sch-a"))
    guardian = await client.post("/v1/broadcasts", json=notice("sch-a"),
                                 headers=bearer("gdn-1", "guardian", school_id="sch-a"))
    assert (other.status_code, guardian.status_code) == (403, 403)
    assert (await client.post("/v1/broadcasts", json=notice("sch-a"))).status_code == 401


@pytest.mark.parametrize("body", [
    notice("sch-a", issued_by="usr-someone-else"),  # an undeclared field: the server says who sent it
    notice("sch-a", body="x" * 301),
    notice("sch-a", title=""),
    {**notice("sch-a"), "scope": "city"},  # the city has no scope_id
    {**notice("sch-a"), "scope_id": None},
])
async def test_a_malformed_broadcast_is_refused(client, body) -> None:
    reply = await client.post("/v1/broadcasts", json=body, headers=bearer("usr-c", "city"))
    assert reply.status_code == 422


async def test_the_list_shows_a_caller_only_the_broadcasts_within_their_reach(client, db) -> None:
    mine, theirs = unique("sch"), unique("sch")
    for school in (mine, theirs):
        assert (await client.post("/v1/broadcasts", json=notice(school),
                                  headers=bearer(f"usr-{school}", "school", school_id=school))).status_code == 201
    seen = await client.get("/v1/broadcasts", headers=bearer("usr-x", "school", school_id=mine))
    city = await client.get("/v1/broadcasts", headers=bearer("usr-c", "city"))
    assert {b["scope_id"] for b in seen.json()} == {mine}
    assert {mine, theirs} <= {b["scope_id"] for b in city.json()}
    other = next(b for b in city.json() if b["scope_id"] == theirs)
    assert (await client.get(f"/v1/broadcasts/{other['broadcast_id']}",
                             headers=bearer("usr-x", "school", school_id=mine))).status_code == 404


# -- fan-out and report -------------------------------------------------------------------------------

async def _contact(rig: Rig, rid: str, school: str, *, role: str = "guardian", consent: bool = True,
                   quiet_all_day: bool = False) -> None:
    async with rig.uow() as uow:
        await uow.upsert_contact(ContactRow(recipient_id=rid, role=role, school_id=school, consent=consent,
                                            phone_sealed=SEALER.seal("13900000009"), phone_masked="139****0009"))
        if quiet_all_day:  # a broadcast is urgent: quiet hours never hold it
            await uow.save_preferences(PreferenceRow(recipient_id=rid, channels="sms_only",
                                                     quiet_start="00:00", quiet_end="23:59"))
        await uow.commit()


async def _issue(rig: Rig, principal: Principal, scope: str, scope_id: str | None) -> uuid.UUID:
    async with rig.uow() as uow:
        row, _ = await broadcast.issue(uow, principal, Notice(scope, scope_id, "停课", "今日暂停", "预警"),  # type: ignore[arg-type]
                                       unique("key"), None, None, rig.delivery.clock())
        await uow.commit()
    return row.broadcast_id


async def test_a_school_broadcast_reaches_each_of_its_contacts_once_in_resumable_chunks_and_no_one_else(db) -> None:
    rig = Rig(db)
    school, elsewhere = unique("sch"), unique("sch")
    ours = sorted(f"{school}-g{i}" for i in range(5))
    for rid in ours:
        await _contact(rig, rid, school, quiet_all_day=rid == ours[0])
    staff, refuser, removed = f"{school}-staff", f"{school}-no", f"{school}-removed"
    await _contact(rig, staff, school, role="staff")
    await _contact(rig, removed, school, role="staff")
    async with rig.uow() as uow:  # the district removed this one (R28): a broadcast does not reach them
        await uow.session.execute(text("insert into staff (staff_id, school_id, admission) values (:s, :sc, 'removed')"),
                                  {"s": removed, "sc": school})
        await uow.commit()
    await _contact(rig, refuser, school, consent=False)
    await _contact(rig, f"{elsewhere}-g0", elsewhere)
    bid = await _issue(rig, Principal("usr-p", "school", school_id=school), "school", school)

    async with rig.uow() as uow:  # a process killed before its first chunk committed: none of it stays
        assert await broadcast.fan_out_chunk(uow, bid, 3, rig.delivery) == 3
    sizes = []
    while True:
        async with rig.uow() as uow:
            n = await broadcast.fan_out_chunk(uow, bid, 3, rig.delivery)
            await uow.commit()
        if n is None:
            break
        sizes.append(n)
    await rig.drain()

    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("select recipient_id, status, urgent, not_before from messages"
                                        " where event_id = :b order by recipient_id"), {"b": bid})).all()
        cursor = (await conn.execute(text("select fanned_out, fanned_out_at is not null from broadcasts"
                                          " where broadcast_id = :b"), {"b": bid})).one()
    assert sizes == [3, 3, 1]
    assert [r[0] for r in rows] == sorted([*ours, staff, refuser])
    assert all(r[2] and r[3] is None for r in rows)
    assert {r[0]: r[1] for r in rows} == {**{rid: "sent" for rid in [*ours, staff]}, refuser: "suppressed_no_consent"}
    assert tuple(cursor) == (7, True)
    sent = await rig.receipts(ours[0])
    assert [type(e) for e in sent] == [NotificationSentV2] and sent[0].kind == "emergency_broadcast"
    assert [type(e) for e in await rig.receipts(refuser)] == [NotificationFailedV2]

    async with rig.uow() as uow:
        counts = await broadcast.tally(uow, bid)
    assert counts == {"sms": {"queued": 0, "handed_over": 6, "failed": 1}}


async def test_a_district_broadcast_reaches_the_schools_enrollment_placed_in_the_district(db) -> None:
    rig = Rig(db)
    district, inside, outside = unique("dst"), unique("sch"), unique("sch")
    items = [SimpleNamespace(event=SimpleNamespace(school_id=inside, district_id=district)),
             SimpleNamespace(event=SimpleNamespace(school_id=outside, district_id=unique("dst")))]
    async with rig.uow() as uow:
        await broadcast.remember_districts(uow, items)  # type: ignore[arg-type]
        await uow.commit()
    await _contact(rig, f"{inside}-g", inside)
    await _contact(rig, f"{outside}-g", outside)
    bid = await _issue(rig, Principal("usr-d", "district", district_id=district), "district", district)
    async with rig.uow() as uow:
        assert await uow.district_of(inside) == district
        assert await broadcast.fan_out_chunk(uow, bid, 100, rig.delivery) == 1
        await uow.commit()
    assert await _count(db, "select count(*) from messages where event_id = :b", b=bid) == 1
    assert await _count(db, "select count(*) from messages where event_id = :b and recipient_id = :r",
                        b=bid, r=f"{inside}-g") == 1
    await rig.drain()  # nothing urgent left due for the next test's fan-out to wait on


async def test_the_fan_out_waits_while_urgent_messages_fill_the_queue_so_pickups_are_not_starved(db) -> None:
    rig = Rig(db)
    school = unique("sch")
    for i in range(4):
        await _contact(rig, f"{school}-g{i}", school)
    bid = await _issue(rig, Principal("usr-c", "city"), "school", school)
    fan_out = FanOut(rig.uow, chunk=2, delivery=rig.delivery)

    assert await fan_out.run_once() == "queued"  # two: the queue now holds a chunk of urgent due messages
    assert await fan_out.run_once() == "full"
    assert await _count(db, "select count(*) from messages where event_id = :b", b=bid) == 2
    await rig.drain()
    while await fan_out.run_once() == "queued":
        await rig.drain()
    assert await _count(db, "select count(*) from messages where event_id = :b and status = 'sent'", b=bid) == 4


async def test_a_pickup_message_goes_out_in_the_first_round_while_a_large_broadcast_is_still_fanning_out(db) -> None:
    rig = Rig(db)  # sender rounds of 100: the fan-out's chunks are half a round
    school, student, parent = unique("sch"), unique("stu"), unique("gdn")
    for i in range(300):
        await _contact(rig, f"{school}-g{i:03d}", school)
    await rig.consume(guardian(parent, [student], phone="13900000123", school=unique("sch")))
    bid = await _issue(rig, Principal("usr-c", "city"), "school", school)
    fan_out = FanOut(rig.uow, chunk=50, delivery=rig.delivery)
    assert await fan_out.run_once() == "queued"
    await rig.consume(checkout(student))  # the evening's pickup, behind 50 urgent notices

    claimed = await rig.sender.run_once()

    assert claimed == 51 and [m["status"] for m in await rig.messages(parent)] == ["sent"]
    assert await _count(db, "select count(*) from messages where event_id = :b", b=bid) == 50  # 250 still to queue
