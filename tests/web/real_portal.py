"""The real portal app for the browser tests and the screenshots (issue 18): its read models seeded in a
PostgreSQL schema of its own with what the events would have brought (a school's programme, the ledger
fixture's disclosure and statement, a child collected today by a pickup person and the message that said
so, an anomaly), and audit, enrollment and notification answered from the ledger fixture (the disclosure's
proof, the family's receipt of its statement and the ledger's keys, built by audit's own code), a
participation report, the guardian's message settings and pickup persons. Served without its lifespan: no
broker, nothing consumed."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.portal.api.upstream import Upstream
from services.portal.app import build
from services.portal.db import PortalUoW
from services.portal.settings import Settings
from shared.contracts.enrollment import ProgrammePublished
from shared.contracts.schema import example_payload
from shared.messaging import migrate
from shared.messaging.db import Database
from shared.time import local_day, utc_now

SCHEMA = "portal_web"
# The family of the ledger fixture's statement (FeeSettled), whose receipt the parent's page verifies.
GUARDIAN, STUDENT, CHILD_NAME, PICKUP = "gdn-000456", "stu-000123", "王小明", "李奶奶"
MESSAGE_WORDS = f"{CHILD_NAME}已由{PICKUP}接走，交接老师张老师。"  # what notification sent, as its messages route gives it
ANOMALY = "anm-web-0001"
PARTICIPATION = {
    "schools": [{"school_id": "sch-0042", "district_id": "dst-07", "eligible": 600, "enrolled": 471, "rate": 0.785},
                {"school_id": "sch-0043", "district_id": "dst-07", "eligible": 400, "enrolled": 300, "rate": 0.75}],
    "districts": [{"district_id": "dst-07", "eligible": 1000, "enrolled": 771, "rate": 0.771}],
    "total": {"eligible": 1000, "enrolled": 771, "rate": 0.771},
}


async def _seed(database_url: str, fixture: dict[str, Any]) -> None:
    await asyncio.to_thread(migrate.upgrade, "portal", database_url, SCHEMA)
    db = Database(database_url, SCHEMA)
    disclosure = fixture["disclosure"]
    programme = ProgrammePublished.model_validate({**example_payload(ProgrammePublished),
                                                   "school_id": disclosure["school_id"],
                                                   "district_id": disclosure["district_id"]})
    now = datetime.now(UTC)
    try:
        async with PortalUoW(db, producer="portal") as uow:
            await uow.save_programme(programme.model_dump(mode="json"))
            await uow.save_disclosure(disclosure)
            await uow.save_staff("stf-web-0001", "王丽")
            await uow.save_enrollments([("enr-web-0001", programme.programme_id, programme.school_id,
                                         programme.district_id, STUDENT, CHILD_NAME, GUARDIAN, True,
                                         now - timedelta(days=30))])
            today = local_day(utc_now())
            await uow.save_check_ins([(STUDENT, today, programme.school_id, now - timedelta(hours=3))])
            await uow.save_check_outs([(STUDENT, today, programme.school_id, now - timedelta(minutes=5), PICKUP,
                                        "authorised_pickup", "stf-web-0001", 20)])
            family = fixture["family"]
            st = family["statement"]
            await uow.save_statements([(st["settlement_id"], family["event_id"], GUARDIAN, STUDENT, st["school_id"],
                                        date.fromisoformat(st["period_start"]), st,
                                        datetime.fromisoformat(st["settled_at"]))])
            await uow.save_pickup_persons([("pku-web-0001", STUDENT, GUARDIAN, PICKUP, "外婆", "137****4321",
                                             today + timedelta(days=120))])
            await uow.save_messages([("ntf-web-0001", GUARDIAN, "pickup", "sms", STUDENT, programme.school_id,
                                      now - timedelta(minutes=4))])
            await uow.save_anomaly({
                "anomaly_id": ANOMALY, "check": "charge_to_unenrolled", "severity": "critical",
                "school_id": programme.school_id, "district_id": programme.district_id, "amount_fen": 1500,
                "detail": "向未备案学生收费 15.00 元", "evidence": {"charge_id": "chg-0042-0099", "enrolled": False},
                "ledger_indexes": [3], "ledger_tree_size": 7, "detected_at": now.isoformat()})
            await uow.commit()
    finally:
        await db.dispose()


def _answers(fixture: dict[str, Any]):
    preferences: dict[str, dict[str, Any]] = {}  # notification's, as the guardian saves them

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(f"/v1/students/{STUDENT}/pickup-persons"):
            if request.method == "DELETE":
                return httpx.Response(200, json={"pickup_person_id": path.rsplit("/", 1)[1], "revoked": True})
            body = json.loads(request.content)
            return httpx.Response(201, json={
                "pickup_person_id": f"pku-web-{len(body['name'])}{body['phone'][-4:]}", "student_id": STUDENT,
                "name": body["name"], "relation": body["relation"], "valid_until": body["valid_until"],
                "phone_masked": body["phone"][:3] + "****" + body["phone"][-4:], "revoked": False})
        if path == f"/v1/recipients/{GUARDIAN}/messages":
            return httpx.Response(200, json=[{"notification_id": "ntf-web-0001", "text": MESSAGE_WORDS}])
        if path == f"/v1/recipients/{GUARDIAN}/preferences":
            if request.method == "PUT":
                preferences[GUARDIAN] = {"recipient_id": GUARDIAN, **json.loads(request.content)}
            return httpx.Response(200, json=preferences.get(GUARDIAN, {
                "recipient_id": GUARDIAN, "channels": "push_then_sms", "quiet_hours": None, "locale": None}))
        if path == f"/v1/ledger/disclosures/{fixture['disclosure_id']}":
            return httpx.Response(200, json=fixture["proof"])
        if path == f"/v1/ledger/events/{fixture['family']['event_id']}/receipt":
            return httpx.Response(200, text=fixture["family"]["receipt"])
        if path == "/v1/ledger/consistency":
            c = fixture["consistency"]
            if request.url.params.get("old") != str(c["old_size"]):
                return httpx.Response(404, json={"detail": "no checkpoint of that size"})
            return httpx.Response(200, json={"format": "beilei-ledger-consistency/1", "old_checkpoint": None,
                                             "new_checkpoint": fixture["proof"]["checkpoint"], "proof": c["proof"]})
        if path == "/v1/ledger/key":
            return httpx.Response(200, json={"origin": "beilei.test/ledger", "vkey": fixture["keys"]["log_vkey"]})
        if path == "/v1/ledger/witnesses":
            return httpx.Response(200, json={"quorum": fixture["keys"]["quorum"], "cosigned_size": 0,
                                             "cosigned_note": None,
                                             "witnesses": [{"name": v.split("+")[0], "vkey": v, "cosigned_size": 0}
                                                           for v in fixture["keys"]["witness_vkeys"]]})
        if path == "/v1/reports/participation":
            return httpx.Response(200, json=PARTICIPATION)
        if path == "/v1/reports/filing-times":
            return httpx.Response(200, json=[{"district_id": "dst-07", "filed": 771, "median_hours": 26.5,
                                              "p90_hours": 70.0, "max_hours": 96.0}])
        if path == "/v1/reports/waitlists":
            return httpx.Response(200, json=[{"programme_id": "prg-0042-2025a", "school_id": "sch-0042",
                                              "district_id": "dst-07", "capacity": 600, "taken": 600, "waiting": 14}])
        if path == "/v1/audit/entries":
            return httpx.Response(200, json={
                "checkpoint": {"tree_size": 7, "root_hash": "ae" * 32, "signed_note": ""}, "next_after": None,
                "entries": [{"index": 3, "event_type": "PaymentReceived", "school_id": "sch-0042", "period": "2025-09",
                             "amount_fen": 30000}]})
        if path == "/v1/audit/reports/monthly":
            fields = ("charged_fen", "waived_fen", "fee_income_fen", "subsidy_income_fen", "refunded_fen",
                      "payouts_fen", "balance_fen")
            return httpx.Response(200, json={
                "period": "2025-09", "checkpoint": {"tree_size": 7, "root_hash": "ae" * 32, "signed_note": ""},
                "totals": dict.fromkeys(fields, 30000), "schools": [{"school_id": "sch-0042", **dict.fromkeys(fields, 30000)}]})
        if path == "/v1/applications":
            return httpx.Response(200, json=[{"application_id": "app-web-0001", "programme_id": "prg-0042-2025a",
                                              "student_name": CHILD_NAME, "status": "filed"}])
        return httpx.Response(404, json={"detail": "not here"})
    return handle


def portal_app(database_url: str, fixture: dict[str, Any]) -> Any:
    """The seeded portal's ASGI app."""
    with ThreadPoolExecutor(1) as thread:  # a thread of its own: the caller may be inside an event loop
        thread.submit(asyncio.run, _seed(database_url, fixture)).result()
    app, rt = build(Settings(database_url=database_url, database_schema=SCHEMA, http_rate_per_second=0))
    rt.context.upstream = Upstream("http://audit", "http://enrollment",
                                     client=httpx.AsyncClient(transport=httpx.MockTransport(_answers(fixture))))
    return app
