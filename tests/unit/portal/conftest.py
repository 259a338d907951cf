"""Fixtures for the portal's unit tests: its schema migrated into the session's PostgreSQL database, its
read-model handlers fed through the kit's batch consumer, and the app with audit and enrollment answered
by a stand-in transport (the proof, the keys, the participation report)."""
from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from services.portal.api.upstream import Upstream
from services.portal.app import build
from services.portal.db import PortalUoW
from services.portal.handlers import HANDLERS
from services.portal.settings import Settings
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.registry import encode
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.messaging.db import Database
from shared.observability import KitMetrics

SCHEMA = "portal_unit"
_offsets = itertools.count()


@asynccontextmanager
async def migrated(database_url: str, schema: str) -> AsyncIterator[Database]:
    """The portal's schema migrated into `schema` of the session's database, and a pool on it."""
    await asyncio.to_thread(migrate.upgrade, "portal", database_url, schema)
    db = Database(database_url, schema, pool_size=4)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
async def portal_db(database_url: str) -> AsyncIterator[Database]:
    async with migrated(database_url, SCHEMA) as db:
        yield db


@pytest.fixture
def feed(portal_db: Database) -> Callable[[list[Event]], Any]:
    """Hand events to the portal's handlers as its consumer would (inbox, one transaction per batch)."""
    consumer = BatchConsumer("portal", HANDLERS, lambda: PortalUoW(portal_db, producer="portal"),
                             KitMetrics(CollectorRegistry()), retry_base_seconds=0.01)

    async def run(events: list[Event]) -> None:
        records = []
        for event in events:
            envelope = new_envelope(event, producer="test")
            records.append(RawRecord(event.topic, 0, next(_offsets), envelope.key.encode(), encode(envelope)))
        await consumer.process(records)
    return run


class Upstreams:
    """What audit and enrollment answer the portal, and what the portal asked them."""

    def __init__(self) -> None:
        self.proofs: dict[str, dict[str, Any]] = {}
        self.participation: dict[str, Any] = {"schools": [], "districts": [], "total": {"eligible": 0, "enrolled": 0,
                                                                                        "rate": None}}
        self.filing_times: list[dict[str, Any]] = []
        self.waitlists: list[dict[str, Any]] = []
        self.applications: list[dict[str, Any]] = []
        self.entries: dict[str, Any] = {}
        self.review: dict[str, Any] = {}
        self.export = b""
        self.preferences: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.pickups: list[httpx.Request] = []
        self.asked: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        path = request.url.path
        if path.startswith("/v1/recipients/") and path.endswith("/preferences"):
            return self._preferences(request, path.split("/")[3])
        if path.startswith("/v1/recipients/") and path.endswith("/messages"):
            return self._messages(request, path.split("/")[3])
        if path.startswith("/v1/students/") and "/pickup-persons" in path:
            return self._pickup(request, path.split("/")[3])
        if request.method == "POST":
            if path.endswith("/withdraw"):
                return httpx.Response(200, json={"application_id": path.split("/")[-2], "status": "withdrawn"})
            if path == "/v1/coercion-reports":
                body = json.loads(request.content)
                if not body["what_happened"]:
                    return httpx.Response(422, json={"detail": "what_happened is empty"})
                return httpx.Response(201, json={"report_id": "cr-1"})
            return httpx.Response(404)
        if path == "/v1/ledger/key":
            return httpx.Response(200, json={"origin": "beilei.test/portal", "vkey": "beilei.test/portal+1234+AQ=="})
        if path == "/v1/ledger/witnesses":
            return httpx.Response(200, json={"quorum": 1, "witnesses": [{"name": "w1", "vkey": "w1+5678+BA==",
                                                                         "cosigned_size": 1}],
                                             "cosigned_size": 1, "cosigned_note": None})
        if path.startswith("/v1/ledger/entries/") and path.endswith("/proof"):
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return httpx.Response(401, json={"detail": "token needed", "reason": "unauthenticated"})
            return httpx.Response(200, json={"index": int(path.split("/")[4]), "inclusion_proof": []})
        if path.startswith("/v1/ledger/events/") and path.endswith("/receipt"):
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return httpx.Response(401, json={"detail": "token needed", "reason": "unauthenticated"})
            return httpx.Response(200, text=f"receipt of {path.split('/')[4]}")
        if path.startswith("/v1/ledger/disclosures/"):
            found = self.proofs.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=found) if found else httpx.Response(404, json={"detail": "no such"})
        if path == "/v1/ledger/export":
            if request.headers.get("authorization", "").startswith("Bearer "):
                return httpx.Response(200, content=self.export, headers={
                    "Content-Disposition": 'attachment; filename="ledger-export-3.jsonl"'})
            return httpx.Response(401)
        answers = {"/v1/reports/participation": self.participation, "/v1/reports/filing-times": self.filing_times,
                   "/v1/reports/waitlists": self.waitlists, "/v1/applications": self.applications,
                   "/v1/audit/entries": self.entries, "/v1/audit/reports/monthly": self.review}
        if path in answers:
            if "Bearer " not in request.headers.get("authorization", ""):
                return httpx.Response(401)
            return httpx.Response(200, json=answers[path])
        return httpx.Response(404)


    def _pickup(self, request: httpx.Request, student: str) -> httpx.Response:
        """Enrollment's pickup persons: a guardian of the student only (here: students named stu-<their tag>)."""
        from tests.tokens import verifier

        principal = verifier().verify(request.headers.get("authorization", "").removeprefix("Bearer "))
        if student != "stu-" + principal.subject.removeprefix("gdn-"):
            return httpx.Response(403, json={"detail": "only a guardian of the student"})
        self.pickups.append(request)
        if request.method == "DELETE":
            return httpx.Response(200, json={"pickup_person_id": request.url.path.rsplit("/", 1)[1], "revoked": True})
        body = json.loads(request.content)
        if not body["phone"].isdigit() or len(body["phone"]) != 11:
            return httpx.Response(422, json={"detail": "phone must be a mainland mobile number"})
        return httpx.Response(201, json={"pickup_person_id": f"pku-{len(self.pickups)}-{student}", "student_id": student,
                                         "name": body["name"], "relation": body["relation"],
                                         "phone_masked": body["phone"][:3] + "****" + body["phone"][-4:],
                                         "valid_until": body["valid_until"], "revoked": False})

    def _messages(self, request: httpx.Request, recipient: str) -> httpx.Response:
        """Notification's messages of a recipient, with their words: the recipient's own token only."""
        from tests.tokens import verifier

        principal = verifier().verify(request.headers.get("authorization", "").removeprefix("Bearer "))
        if principal.subject != recipient:
            return httpx.Response(403, json={"detail": "only the recipient"})
        return httpx.Response(200, json=self.messages.get(recipient, []))

    def _preferences(self, request: httpx.Request, recipient: str) -> httpx.Response:
        """Notification's preferences: a recipient's own token only; quiet hours HH:MM."""
        from tests.tokens import verifier

        principal = verifier().verify(request.headers.get("authorization", "").removeprefix("Bearer "))
        if principal.subject != recipient:
            return httpx.Response(403, json={"detail": "only the recipient"})
        if request.method == "PUT":
            body = json.loads(request.content)
            quiet = body.get("quiet_hours") or {}
            if any(len(v) != 5 for v in quiet.values()):
                return httpx.Response(422, json={"detail": "quiet_hours must be HH:MM"})
            self.preferences[recipient] = {"recipient_id": recipient, **body}
        return httpx.Response(200, json=self.preferences.get(recipient, {
            "recipient_id": recipient, "channels": "push_then_sms", "quiet_hours": None, "locale": None}))


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams()


@pytest.fixture
async def client(portal_db: Database, database_url: str, upstreams: Upstreams) -> AsyncIterator[httpx.AsyncClient]:
    app, rt = build(Settings(database_url=database_url, database_schema=SCHEMA, http_rate_per_second=0))
    rt.context.upstream = Upstream("http://audit", "http://enrollment", proof_seconds=5.0,
                                     client=httpx.AsyncClient(transport=httpx.MockTransport(upstreams.handle)),
                                     notification_url="http://notification")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as c:
        yield c
    await rt.db.dispose()


def session(role: str, subject: str, **scope: str) -> dict[str, str]:
    """The request header carrying the session cookie a development sign-in sets."""
    from tests.tokens import mint

    return {"Cookie": f"beilei_session={mint(subject, role, **scope)}"}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
