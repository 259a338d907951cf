"""Benchmark of billing's month-end settlement on actuals (R17): seeds a fresh database with N
students' fee accounts and a month of attendance (default 20,000; --students 557000 for the whole
city), runs the same settlement code the service runs (chunked, one transaction per chunk, multi-row
statements, events to the outbox) school by school, and prints statements/s, events/s and peak
memory. A second run of the same month shows the idempotent path (nothing new).

With --setup it measures the city's setup instead: billing's consumer applying the programmes,
guardians and filings PickupSurge puts on enrollment.events (fee accounts opened), in batches as
the kit consumes them, without Kafka; a second pass shows redelivery (all duplicates)."""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import time
import uuid
from datetime import UTC, date, datetime

CITY_STUDENTS = 557_000
CITY_SCHOOLS = 508
SESSION_FEN, CARE_FEN = 1500, 800


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_s() -> float:
    """CPU of this process and of the processes it waited for (--processes)."""
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.billing_settlement", description=__doc__)
    p.add_argument("--students", type=int, default=20_000, help="students to settle (the city: 557000)")
    p.add_argument("--schools", type=int, default=None,
                   help=f"schools they are spread over (default: in the city's proportion, {CITY_SCHOOLS} for 557000)")
    p.add_argument("--period", default="2025-09", help="month settled, YYYY-MM")
    p.add_argument("--chunk-size", type=int, default=2000, help="accounts per transaction")
    p.add_argument("--workers", type=int, default=2, help="schools settled concurrently (in each process)")
    p.add_argument("--processes", type=int, default=1,
                   help="processes running the month-end at once, as billing's replicas do (they share the "
                        "schools through per-school claims)")
    p.add_argument("--hardship-share", type=float, default=0.05, help="share of verified hardship students (R9)")
    p.add_argument("--prepaid-share", type=float, default=0.2, help="share of families who prepaid the month")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="PostgreSQL server (default: DATABASE_URL, else the local server infra/local/postgres.sh starts)")
    p.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--setup", action="store_true",
                   help="measure billing consuming the students' enrollments (the city's setup) instead of settlement")
    p.add_argument("--batch", type=int, default=500, help="records per consumed batch with --setup (CONSUMER_MAX_RECORDS)")
    return p.parse_args(argv)


async def seed(url: str, schema: str, args: argparse.Namespace, schools: list[str]) -> int:
    """Accounts, attendance, staff sessions, approved schedules and plans, written with COPY."""
    import asyncpg

    from services.billing.domain import days_in, period_mask

    rnd = random.Random(args.seed)
    weekdays = [d for d in days_in(period_mask(args.period), args.period) if d.weekday() < 5]
    first = weekdays[0].replace(day=1)
    filed = datetime(first.year, first.month, 1, tzinfo=UTC) - (datetime(2000, 1, 2) - datetime(2000, 1, 1))
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        await conn.copy_records_to_table("schools", records=[(s, f"dst-{i % 12:02d}") for i, s in enumerate(schools)])
        await conn.copy_records_to_table("fee_schedules", columns=[
            "fee_schedule_id", "school_id", "district_id", "programme_id", "items", "parents_committee_agreed_on",
            "parents_committee_ref", "effective_from", "status", "submitted_by", "submitted_by_role"], records=[
            (f"fsc-{s}", s, f"dst-{i % 12:02d}", f"prg-{s}",
             f'[{{"category":"session","amount_fen":{SESSION_FEN},"unit":"per_session"}},'
             f'{{"category":"extended_care","amount_fen":{CARE_FEN},"unit":"per_session"}}]',
             date(2025, 8, 15), "pc-1", first, "approved", "stf-0", "principal") for i, s in enumerate(schools)])
        await conn.copy_records_to_table("distribution_plans", columns=[
            "plan_id", "school_id", "per_session_fen", "extended_care_per_session_fen", "approval_ref", "approved_on",
            "effective_from", "paid_from_account", "recorded_by", "recorded_by_role", "review_status"], records=[
            (f"dpl-{s}", s, 6000, 3000, "jdh-1", date(2025, 8, 30), first, f"acct-{s}", "stf-0", "school_staff",
             "approved")  # approved by the district (R10), as payouts need
            for s in schools])
        total = 0
        for i, school in enumerate(schools):
            count = args.students // len(schools) + (1 if i < args.students % len(schools) else 0)
            accounts, months, payments, staff = [], [], [], {}
            for n in range(count):
                student = f"stu-{school}-{n:05d}"
                hardship = rnd.random() < args.hardship_share
                care = rnd.random() < 0.3
                attended = ec = 0
                teacher = f"stf-{school}-{n // 40:03d}"
                for day in weekdays:
                    if rnd.random() < 0.92:
                        bit = 1 << (day.day - 1)
                        attended |= bit
                        if care and rnd.random() < 0.25:
                            ec |= bit
                staff[teacher] = (staff.get(teacher, (0, 0))[0] | attended, staff.get(teacher, (0, 0))[1] | ec)
                prepaid = not hardship and rnd.random() < args.prepaid_share
                payment_id = f"pay-{student}" if prepaid else None
                accounts.append((student, f"prg-{school}", school, f"dst-{i % 12:02d}", f"gdn-{student}",
                                 f"app-{student}", hardship, not hardship, care,
                                 len(weekdays) * SESSION_FEN if prepaid else 0, payment_id,
                                 args.period if prepaid else None, True, filed))
                months.append((f"prg-{school}", args.period, student, school, attended, ec))
                if prepaid:
                    payments.append((payment_id, f"ext-{student}", school, student, f"prg-{school}", f"gdn-{student}",
                                     len(weekdays) * SESSION_FEN, 0, len(weekdays) * SESSION_FEN, 0, "wechat_pay",
                                     args.period, f"acct-{school}", "[]", filed, "gateway", "school_system"))
            await conn.copy_records_to_table("fee_accounts", columns=[
                "student_id", "programme_id", "school_id", "district_id", "guardian_id", "application_id", "hardship",
                "chargeable", "extended_care", "credit_fen", "credit_payment_id", "prepaid_period", "active",
                "opened_at"], records=accounts)
            await conn.copy_records_to_table("attendance_months", records=months)
            await conn.copy_records_to_table("payments", columns=[
                "payment_id", "external_ref", "school_id", "student_id", "programme_id", "guardian_id", "amount_fen",
                "applied_fen", "credit_fen", "refunded_fen", "method", "prepaid_period", "deposited_to_account",
                "applied", "received_at", "recorded_by", "recorded_by_role"], records=payments)
            await conn.copy_records_to_table("staff_months", records=[
                (school, args.period, t, f"prg-{school}", m, e) for t, (m, e) in staff.items()])
            total += count
        await conn.execute("analyze")
        return total
    finally:
        await conn.close()


async def settle_all(db, schools: list[str], args: argparse.Namespace, trigger: str = "schedule") -> tuple[int, int, int]:
    """The service's month-end over `schools`: `--workers` at a time, each school under its claim, so
    processes running this at once share the schools as billing's replicas do."""
    from services.billing.db import BillingUoW
    from services.billing.db.claims import month_end_claims
    from services.billing.handlers.common import Actor
    from services.billing.handlers.settlement import settle_schools

    summaries = await settle_schools(lambda: BillingUoW(db, producer="billing"), schools=schools, period=args.period,
                                     actor=Actor("bench", "platform"), now=datetime.now(UTC),
                                     claim=month_end_claims(db.engine), trigger=trigger, workers=args.workers,
                                     chunk_size=args.chunk_size)
    return (sum(x.statements for x in summaries), sum(x.events for x in summaries),
            sum(x.refunded_fen for x in summaries))


async def backend_cpu(url: str, name: str) -> dict[int, float]:
    """CPU so far of the PostgreSQL backends serving the benchmark's database (not the whole server,
    which other work on the machine shares)."""
    import asyncpg

    from bench.procstats import snapshot

    conn = await asyncpg.connect(url)
    try:
        pids = [r[0] for r in await conn.fetch("select pid from pg_stat_activity where datname = $1 "
                                                "and pid <> pg_backend_pid()", name)]
    finally:
        await conn.close()
    return snapshot(pids)


def settle_in_process(url: str, schools: list[str], args: argparse.Namespace) -> tuple[int, int, int]:
    """One replica's month-end, on its own connections."""
    from shared.messaging.db import Database

    async def run() -> tuple[int, int, int]:
        db = Database(url, "billing", pool_size=pool_size(args))
        try:
            return await settle_all(db, schools, args)
        finally:
            await db.dispose()

    return asyncio.run(run())


def pool_size(args: argparse.Namespace) -> int:
    return 2 * max(1, args.workers) + 1  # per worker: its school's claim and its unit of work


async def settle_everywhere(db, schools: list[str], args: argparse.Namespace, url: str) -> tuple[int, int, int]:
    if args.processes <= 1:
        return await settle_all(db, schools, args)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    loop = asyncio.get_running_loop()
    n = args.processes
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        # Every process is given every school, as every replica lists them: the claims share them out.
        parts = await asyncio.gather(*(loop.run_in_executor(pool, settle_in_process, url, schools, args)
                                       for _ in range(n)))
    return sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts)


async def main_async(args: argparse.Namespace, url: str, name: str) -> None:
    import asyncpg

    from bench.procstats import spent
    from shared.messaging import migrate
    from shared.messaging.db import Database

    schema = "billing"
    schools_n = args.schools or max(1, round(args.students * CITY_SCHOOLS / CITY_STUDENTS))
    schools = [f"sch-{i:04d}" for i in range(schools_n)]
    print(f"billing settlement benchmark: {args.students:,} students in {schools_n} schools, month {args.period}, "
          f"chunks of {args.chunk_size}, {args.workers} worker(s) in each of {args.processes} process(es); "
          f"database {name}")
    await asyncio.to_thread(migrate.upgrade, "billing", url, schema)
    started = time.perf_counter()
    seeded = await seed(url, schema, args, schools)
    print(f"  seeded {seeded:,} accounts and their month of attendance in {time.perf_counter() - started:.1f} s "
          f"(COPY; not part of the figures below)")
    db = Database(url, schema, pool_size=pool_size(args))
    pg0, cpu0, started = await backend_cpu(url, name), cpu_s(), time.perf_counter()
    statements, events, refunded = await settle_everywhere(db, schools, args, url)
    elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu0
    pg_cpu = spent(pg0, await backend_cpu(url, name))
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    outbox = await conn.fetchval("select count(*) from outbox")
    size = await conn.fetchval("select pg_size_pretty(pg_database_size(current_database()))")
    await conn.close()
    print(f"  first run:  {statements:,} statements, {events:,} events to the outbox ({outbox:,} rows), "
          f"{refunded / 100:,.2f} yuan refunded")
    print(f"              {elapsed:.1f} s wall, {cpu:.1f} s CPU in this process "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"              {statements / elapsed:,.0f} statements/s, {events / elapsed:,.0f} events/s "
          f"(wall); {statements / max(cpu, 1e-9):,.0f} statements per CPU-second of this process")
    backends = (f"{pg_cpu / statements * 1000:.2f} s in its PostgreSQL backends ({pg_cpu:.1f} s in all)"
                if args.processes <= 1 else "its PostgreSQL backends not counted (they closed with their processes)")
    print(f"              CPU per 1,000 statements: {cpu / statements * 1000:.2f} s in this process"
          f"{' and its children' if args.processes > 1 else ''}, {backends}")
    city = CITY_STUDENTS / max(statements / elapsed, 1e-9)
    print(f"              at this rate the city's {CITY_STUDENTS:,} statements take {city:,.0f} s "
          f"({city / 60:.1f} min; target <= 3 min: {'PASS' if city <= 180 else 'MISS'}"
          f"{'' if args.students == CITY_STUDENTS else ', extrapolated from ' + format(args.students, ',')})")
    started = time.perf_counter()
    again, again_events, _ = await settle_all(db, schools, args, trigger="bench")
    print(f"  second run: {again:,} statements, {again_events:,} events in {time.perf_counter() - started:.1f} s "
          f"(idempotent: nothing new)")
    print(f"  peak memory (max RSS of this process): {peak_mib():,.0f} MiB; database size {size}")
    await db.dispose()


async def setup_async(args: argparse.Namespace, url: str, name: str) -> None:
    """Billing's consumer over the enrollment events PickupSurge seeds a city with, batch by batch."""
    from prometheus_client import CollectorRegistry

    from bench.pickup_surge import Surge, seed_events
    from bench.procstats import spent
    from services.billing.db import BillingUoW
    from services.billing.handlers import HANDLERS
    from shared.contracts.topics import ENROLLMENT_EVENTS
    from shared.messaging import migrate
    from shared.messaging.consumer import BatchConsumer, RawRecord
    from shared.messaging.db import Database
    from shared.observability import KitMetrics

    schools_n = args.schools or max(1, round(args.students * CITY_SCHOOLS / CITY_STUDENTS))
    surge = Surge(uuid.uuid4().hex[:6], args.students, schools_n)
    print(f"billing setup benchmark: {args.students:,} students' enrollments in {schools_n} schools consumed in "
          f"batches of {args.batch}; database {name}")
    await asyncio.to_thread(migrate.upgrade, "billing", url, "billing")
    records = [RawRecord(ENROLLMENT_EVENTS, 0, n, key, value)
               for n, (key, value) in enumerate(seed_events(surge, date(2026, 3, 2)))]
    batches = [records[i:i + args.batch] for i in range(0, len(records), args.batch)]
    db = Database(url, "billing", pool_size=2)
    consumer = BatchConsumer("billing", HANDLERS, lambda: BillingUoW(db, producer="billing"),
                             KitMetrics(CollectorRegistry()))
    pg0, cpu0, started = await backend_cpu(url, name), cpu_s(), time.perf_counter()
    for batch in batches:
        await consumer.process(batch)
    elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu0
    pg_cpu = spent(pg0, await backend_cpu(url, name))
    accounts = await _count(url, "select count(*) from fee_accounts")
    print(f"  consumed {len(records):,} events ({args.students:,} filings) in {elapsed:.1f} s wall, {cpu:.1f} s CPU in "
          f"this process (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); {accounts:,} fee accounts")
    print(f"              {len(records) / elapsed:,.0f} events/s, {args.students / elapsed:,.0f} filings/s (wall); "
          f"CPU per 1,000 filings: {cpu / args.students * 1000:.2f} s in this process, "
          f"{pg_cpu / args.students * 1000:.2f} s in its PostgreSQL backends")
    city = CITY_STUDENTS / (args.students / elapsed)
    print(f"              at this rate billing reads the city's {CITY_STUDENTS:,} filings in {city:,.0f} s "
          f"({city / 60:.1f} min)")
    started = time.perf_counter()
    for batch in batches:
        await consumer.process(batch)
    print(f"  redelivered: {len(records):,} events in {time.perf_counter() - started:.1f} s (all duplicates; "
          f"{await _count(url, 'select count(*) from fee_accounts'):,} fee accounts)")
    print(f"  peak memory (max RSS of this process): {peak_mib():,.0f} MiB")
    await db.dispose()


async def _count(url: str, sql: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url, server_settings={"search_path": "billing"})
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def drop(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.students < 1:
        print("--students must be at least 1", file=sys.stderr)
        return 2
    from local import infra

    server = args.database_url or infra.postgres().address
    name = f"beilei_bench_{uuid.uuid4().hex[:8]}"
    url = infra.create_database(server, name)
    try:
        asyncio.run((setup_async if args.setup else main_async)(args, url, name))
    finally:
        if not args.keep:
            asyncio.run(drop(server, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
