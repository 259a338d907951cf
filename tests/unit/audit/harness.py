"""A ledger on real PostgreSQL for tests: its own schema, migrated as the owner, used as the restricted
writer role, with the kit's batch consumer applying records exactly as in the service (no Kafka)."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from services.audit.db import AuditUoW, prepare_writer, writer_url
from services.audit.handlers import DUPLICATE_HANDLERS, HANDLERS, CheckPolicy, publish_checkpoint, run_checks
from services.audit.handlers.proofs import export_lines
from services.audit.ledger.checkpoint import generate_signer, load_signer
from services.audit.settings import Settings
from shared.contracts.envelope import Envelope, Event
from shared.messaging import migrate
from shared.messaging.consumer import BatchConsumer, RawRecord
from shared.messaging.db import Database
from shared.observability import KitMetrics
from tests.unit.audit.money import record

ORIGIN = "beilei.test/audit-ledger"


class TestLedger:
    """One migrated audit schema. Feed records, sign checkpoints, run checks, read what was published."""

    __test__ = False  # a helper, not a test class

    def __init__(self, database_url: str, schema: str) -> None:
        self.database_url = database_url
        self.schema = schema
        self.settings = Settings(database_url=database_url)
        self.db = Database(writer_url(self.settings), schema)
        self.use_origin(ORIGIN)
        self.policy = CheckPolicy(grace_seconds=0.0)
        self._offset = 0
        self.consumer = BatchConsumer("audit", HANDLERS, self.uow, KitMetrics(CollectorRegistry()),
                                      retry_base_seconds=0.01, duplicate_handlers=DUPLICATE_HANDLERS)

    def use_origin(self, origin: str) -> None:
        """Sign this ledger's checkpoints as `origin`, with a fresh key of that name."""
        skey, self.vkey = generate_signer(origin)
        self.origin, self.skey, self.signer = origin, skey, load_signer(skey)

    @classmethod
    async def create(cls, database_url: str, tag: str = "t") -> TestLedger:
        schema = f"audit_{tag}_{uuid.uuid4().hex[:8]}"
        await asyncio.to_thread(migrate.upgrade, "audit", database_url, schema)
        await prepare_writer(Settings(database_url=database_url))
        return cls(database_url, schema)

    def uow(self) -> AuditUoW:
        return AuditUoW(self.db, producer="audit")

    async def feed(self, *items: Event | Envelope | RawRecord) -> None:
        """Apply the records as one consumed batch."""
        records = []
        for item in items:
            raw = item if isinstance(item, RawRecord) else record(item, self._offset)
            self._offset += 1
            records.append(raw)
        await self.consumer.process(records)

    async def checkpoint(self, now: datetime | None = None):
        async with self.uow() as uow:
            cp = await publish_checkpoint(uow, self.signer, self.origin, now or datetime.now(UTC))
            await uow.commit()
        return cp

    async def check(self, now: datetime | None = None) -> int:
        total = 0
        while True:
            async with self.uow() as uow:
                n = await run_checks(uow, self.policy, now or datetime.now(UTC))
                await uow.commit()
            total += n
            if n < self.policy.batch:
                return total

    async def settle(self) -> None:
        """Sign everything appended, then check it."""
        await self.checkpoint()
        await self.check()

    async def published(self, type_name: str, school_id: str | None = None) -> list[dict]:
        """Envelopes of `type_name` this ledger put in its outbox (nothing relays them in tests)."""
        async with self.uow() as uow:
            rows = (await uow.session.execute(text("select value from outbox order by id"))).all()
        found = [json.loads(bytes(r.value)) for r in rows]
        return [e for e in found if e["type"] == type_name
                and (school_id is None or e["payload"].get("school_id") == school_id)]

    async def anomalies(self, school_id: str) -> list[dict]:
        return [e["payload"] for e in await self.published("AnomalyDetected", school_id)]

    async def export_to(self, path: Path, size: int | None = None) -> Path:
        with path.open("w", encoding="utf-8") as out:
            async for chunk in export_lines(self.uow, size):
                out.write(chunk)
        return path

    async def superuser(self, statements: Iterable[str]) -> None:
        """Run SQL as the server's superuser with triggers off, as a DBA bypassing every guard would."""
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            async with conn.transaction():
                await conn.execute(f'set local search_path to "{self.schema}"')
                await conn.execute("set local session_replication_role = replica")
                for statement in statements:
                    await conn.execute(statement)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.db.dispose()
