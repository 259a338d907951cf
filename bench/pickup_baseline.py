"""Raw baseline for the PickupSurge benchmark: the same durable writes and messages per check-out as
the platform (attendance row + StudentCheckedOut event; message row + NotificationSent; extended-care
accrual where due), hand-written on aiokafka and asyncpg with full batching and no framework. It gives
the platform a same-machine reference (research/performance.md, B5)."""
from __future__ import annotations

import asyncio
import json
import resource
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

CHECKOUTS = "bench.raw.{run}.checkouts"  # topics per run: a reused broker must not replay an old run's records
RECEIPTS = "bench.raw.{run}.receipts"

SCHEMA = """
create table attendance (record_id text primary key, student_id text not null, school_id text not null,
  collected_by text not null, handed_over_by text not null, at timestamptz not null);
create table inbox (event_id uuid primary key);
create table messages (event_id uuid not null, recipient_id text not null, body text not null,
  handed_at timestamptz not null default clock_timestamp(), unique (event_id, recipient_id));
create table accruals (event_id uuid primary key, student_id text not null, amount_fen bigint not null);
"""


@dataclass
class Checkout:
    record_id: str
    student_id: str
    school_id: str
    guardian_id: str
    scheduled: float  # monotonic time the check-out is due (open loop: latency counts from here)
    extended_care: bool


@dataclass
class Results:
    done: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def _prepare(pg_url: str, bootstrap: str, schema: str, topics: tuple[str, str]) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'drop schema if exists "{schema}" cascade; create schema "{schema}"; set search_path to "{schema}";' + SCHEMA)
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t, 12, 1) for t in topics if t not in existing]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


async def _ingest(pool: asyncpg.Pool, producer: AIOKafkaProducer, queue: asyncio.Queue, batch: int, topic: str) -> None:
    """Stage 1, as attendance: durable rows, then the events, per batch."""
    while True:
        first = await queue.get()
        if first is None:
            return
        items = [first]
        while len(items) < batch and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                queue.put_nowait(None)
                break
            items.append(nxt)
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "insert into attendance values ($1,$2,$3,$4,$5, now()) on conflict do nothing",
                [(c.record_id, c.student_id, c.school_id, c.guardian_id, "stf-1") for c in items],
            )
        futures = [
            await producer.send(topic, key=c.student_id.encode(), value=json.dumps({
                "event_id": str(uuid.uuid4()), "student_id": c.student_id, "guardian_id": c.guardian_id,
                "scheduled": c.scheduled, "extended_care": c.extended_care}).encode())
            for c in items
        ]
        await asyncio.gather(*futures)


async def _notify(pool: asyncpg.Pool, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, results: Results,
                  total: int, topic: str) -> None:
    """Stage 2, as notification (and billing's accrual): inbox + message + accrual in one
    transaction per batch, hand over to the channel, receipt events, offsets after the effect."""
    while results.done < total:
        batches = await consumer.getmany(timeout_ms=10, max_records=1000)
        records = [json.loads(r.value) for rs in batches.values() for r in rs]
        if not records:
            continue
        async with pool.acquire() as conn, conn.transaction():
            fresh = {r[0] for r in await conn.fetch(
                "insert into inbox select unnest($1::uuid[]) on conflict do nothing returning event_id",
                [uuid.UUID(r["event_id"]) for r in records])}
            todo = [r for r in records if uuid.UUID(r["event_id"]) in fresh]
            await conn.executemany(
                "insert into messages (event_id, recipient_id, body) values ($1,$2,$3) on conflict do nothing",
                [(uuid.UUID(r["event_id"]), r["guardian_id"], f"您的孩子{r['student_id']}已被接走") for r in todo])
            await conn.executemany(
                "insert into accruals values ($1,$2,$3) on conflict do nothing",
                [(uuid.UUID(r["event_id"]), r["student_id"], 500) for r in todo if r["extended_care"]])
        now = time.monotonic()
        results.latencies_ms.extend((now - r["scheduled"]) * 1000 for r in todo)
        results.done += len(todo)
        futures = [await producer.send(topic, key=r["guardian_id"].encode(),
                                       value=json.dumps({"event_id": r["event_id"]}).encode()) for r in todo]
        await asyncio.gather(*futures)
        await consumer.commit()


async def run_baseline(pg_url: str, bootstrap: str, checkouts: list[Checkout], *, batch: int = 500) -> dict:
    schema = f"bench_raw_{uuid.uuid4().hex[:6]}"
    checkouts_topic, receipts_topic = CHECKOUTS.format(run=schema), RECEIPTS.format(run=schema)
    await _prepare(pg_url, bootstrap, schema, (checkouts_topic, receipts_topic))
    pool = await asyncpg.create_pool(pg_url, min_size=2, max_size=4, server_settings={"search_path": schema})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(checkouts_topic, bootstrap_servers=bootstrap, group_id=schema, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    results = Results()
    queue: asyncio.Queue = asyncio.Queue()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    try:
        notify = asyncio.create_task(_notify(pool, producer, consumer, results, len(checkouts), receipts_topic))
        ingest = asyncio.create_task(_ingest(pool, producer, queue, batch, checkouts_topic))
        base = checkouts[0].scheduled if checkouts else 0.0
        for c in checkouts:  # open loop: offer each check-out at its scheduled time
            c.scheduled = start + (c.scheduled - base)
            delay = c.scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(c)
        queue.put_nowait(None)
        await ingest
        await notify
    finally:
        elapsed = time.monotonic() - start
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        await consumer.stop()
        await producer.stop()
        async with pool.acquire() as conn:
            counts = await conn.fetchrow("select (select count(*) from attendance) a, (select count(*) from messages) m,"
                                         " (select count(*) from accruals) x, (select count(distinct event_id) from messages) d")
            await conn.execute(f'drop schema "{schema}" cascade')
        await pool.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([checkouts_topic, receipts_topic])
        finally:
            await admin.close()
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return {"elapsed_s": elapsed, "completed": results.done, "latencies_ms": results.latencies_ms,
            "cpu_s_per_1k": 1000 * cpu / max(results.done, 1), "attendance_rows": counts["a"],
            "messages": counts["m"], "distinct_messages": counts["d"], "accruals": counts["x"]}
