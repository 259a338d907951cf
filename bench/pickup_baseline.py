"""Raw baseline for the PickupSurge benchmark: the same durable writes and messages per check-out as the
platform, hand-written with no framework, behind the same kind of HTTP front, so both the single-record
path and the batch path have a like-for-like reference (research/performance.md, B5).

One process, served by uvicorn (httptools, uvloop) with a bare ASGI callable (no FastAPI, no auth):
  - POST /v1/schools/{school}/records {"records": [...]} (one record or a batch): the attendance rows in
    one transaction on asyncpg, then a StudentCheckedOut-like event per record on Kafka (idempotent
    producer, acks=all) before the reply, as attendance's row + outbox + relay do;
  - a consumer, as notification (and billing's accrual) do: inbox + message row + accrual where due in
    one transaction per consumed batch, the message handed over (its handed_at), a receipt event per
    message, offsets committed after the effects.

PickupSurge starts it with `python -m bench.pickup_baseline --database URL --kafka ADDRESS --schema S
--port P` after `prepare` has made the schema and the topics, posts to it with the same load generator,
and reads the effects (`effects`) to measure latency and check nothing was lost or duplicated.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

CHECKOUTS = "bench.raw.{run}.checkouts"  # topics per run: a reused broker must not replay an old run's records
RECEIPTS = "bench.raw.{run}.receipts"

SCHEMA = """
create table attendance (record_id text primary key, student_id text not null, school_id text not null,
  collected_by text not null, handed_over_by text not null, at timestamptz not null);
create table inbox (event_id uuid primary key);
create table messages (event_id uuid not null, recipient_id text not null, student_id text not null, body text not null,
  handed_at timestamptz not null default clock_timestamp(), unique (event_id, recipient_id));
create table accruals (event_id uuid primary key, student_id text not null, amount_fen bigint not null);
"""


def topics(schema: str) -> tuple[str, str]:
    return CHECKOUTS.format(run=schema), RECEIPTS.format(run=schema)


async def prepare(pg_url: str, bootstrap: str, schema: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'drop schema if exists "{schema}" cascade; create schema "{schema}"; set search_path to "{schema}";'
                           + SCHEMA)
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t, 12, 1) for t in topics(schema) if t not in existing]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


async def effects(pg_url: str, schema: str) -> tuple[dict[str, int], dict[str, list[float]]]:
    """Per student: attendance rows, and the handed_at (epoch s) of each message about them."""
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch("select student_id, count(*) n from attendance group by student_id")
        msgs = await conn.fetch("select student_id, extract(epoch from handed_at) t from messages")
    finally:
        await conn.close()
    handed: dict[str, list[float]] = {}
    for m in msgs:
        handed.setdefault(m["student_id"], []).append(float(m["t"]))
    return {r["student_id"]: r["n"] for r in rows}, handed


async def drop(pg_url: str, bootstrap: str, schema: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'drop schema if exists "{schema}" cascade')
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(topics(schema)))
    finally:
        await admin.close()


class Baseline:
    """The ASGI application: the ingest endpoint and, started with the server, the notifying consumer."""

    def __init__(self, pg_url: str, bootstrap: str, schema: str) -> None:
        self.pg_url, self.bootstrap, self.schema = pg_url, bootstrap, schema
        self.checkouts, self.receipts = topics(schema)
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.pg_url, min_size=2, max_size=8, server_settings={"search_path": self.schema})
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
        self.consumer = AIOKafkaConsumer(self.checkouts, bootstrap_servers=self.bootstrap, group_id=self.schema,
                                         enable_auto_commit=False, auto_offset_reset="earliest")
        await self.producer.start()
        await self.consumer.start()
        deadline = asyncio.get_running_loop().time() + 60
        while not self.consumer.assignment():  # joined the group before serving: the first records wait for no
            if asyncio.get_running_loop().time() > deadline:  # rebalance (the broker delays a new group's first)
                raise RuntimeError("the baseline's consumer got no partitions in 60 s")
            await asyncio.sleep(0.05)
        self.task = asyncio.create_task(self._notify())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for part in (self.consumer, self.producer):
            if part is not None:
                await part.stop()
        if self.pool is not None:
            await self.pool.close()

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        parts = scope["path"].split("/")  # /v1/schools/{school}/records
        if scope["method"] != "POST" or len(parts) != 5 or parts[4] != "records":
            await _reply(send, 404, b'{"detail":"not found"}')
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        accepted = await self.ingest(parts[3], json.loads(body)["records"])
        await _reply(send, 200, json.dumps({"accepted": accepted, "rejected": 0}).encode())

    async def ingest(self, school: str, records: list[dict]) -> int:
        """As attendance: the durable rows, then the events (acknowledged by Kafka before the reply)."""
        assert self.pool is not None and self.producer is not None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "insert into attendance values ($1,$2,$3,$4,$5, now()) on conflict do nothing",
                [(r["record_id"], r["student_id"], school, r["collected_by_id"], r["staff_id"]) for r in records])
        futures = [
            await self.producer.send(self.checkouts, key=r["student_id"].encode(), value=json.dumps({
                "event_id": str(uuid.uuid4()), "student_id": r["student_id"], "guardian_id": r["collected_by_id"],
                "extended_care": False}).encode())
            for r in records
        ]
        await asyncio.gather(*futures)
        return len(records)

    async def _notify(self) -> None:
        """As notification (and billing's accrual): inbox + message + accrual in one transaction per batch,
        hand over to the channel (handed_at), receipt events, offsets after the effects."""
        assert self.pool is not None and self.producer is not None and self.consumer is not None
        while True:
            batches = await self.consumer.getmany(timeout_ms=10, max_records=1000)
            records = [json.loads(r.value) for rs in batches.values() for r in rs]
            if not records:
                continue
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = {r[0] for r in await conn.fetch(
                    "insert into inbox select unnest($1::uuid[]) on conflict do nothing returning event_id",
                    [uuid.UUID(r["event_id"]) for r in records])}
                todo = [r for r in records if uuid.UUID(r["event_id"]) in fresh]
                await conn.executemany(
                    "insert into messages (event_id, recipient_id, student_id, body) values ($1,$2,$3,$4) on conflict do nothing",
                    [(uuid.UUID(r["event_id"]), r["guardian_id"], r["student_id"], f"您的孩子{r['student_id']}已被接走")
                     for r in todo])
                await conn.executemany(
                    "insert into accruals values ($1,$2,$3) on conflict do nothing",
                    [(uuid.UUID(r["event_id"]), r["student_id"], 500) for r in todo if r["extended_care"]])
            futures = [await self.producer.send(self.receipts, key=r["guardian_id"].encode(),
                                                value=json.dumps({"event_id": r["event_id"]}).encode()) for r in todo]
            await asyncio.gather(*futures)
            await self.consumer.commit()


async def _reply(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.pickup_baseline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="postgresql:// URL")
    parser.add_argument("--kafka", required=True, help="bootstrap address")
    parser.add_argument("--schema", required=True, help="schema and topic suffix made by prepare()")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(Baseline(args.database, args.kafka, args.schema), host="127.0.0.1", port=args.port, loop="uvloop",
                http="httptools", lifespan="on", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
