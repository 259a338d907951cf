"""PickupSurge: a city-scale evening in which school systems check N students out through attendance's
batch endpoint (R15) and every guardian is told (R11, R22), measured end to end on the whole platform
and against a raw aiokafka + asyncpg baseline doing the same durable writes behind a bare ASGI front
(bench/pickup_baseline.py).

What it does, all in one run on one machine:
  1. starts (or reuses) Kafka and PostgreSQL (local.infra), a fresh database, and the five
     services as real processes (local.platform);
  2. seeds N filed students, one guardian each, by putting ProgrammePublished, GuardianRegistered
     (phones sealed) and EnrollmentFiled on enrollment.events exactly as enrollment publishes them —
     seeding through enrollment's HTTP workflow would take hours at city scale and is not what is
     measured — encoded before the clock starts (they exist before the setup), and times the setup from
     putting them on the topic until every service has consumed them (the city's setup target;
     --setup-only stops there); then checks everyone in through the batch endpoint (not measured);
  3. posts the check-outs open loop, one record per POST, at an offered rate (--rate, default 310/s:
     557,000 in 30 minutes) for --offered-seconds, then the rest in POSTs of 50 per school as fast as the
     school systems can send (saturation), through bench.loadgen's lean keep-alive client;
  4. measures check-outs/s with every effect committed (the attendance day closed, the guardian
     message handed to the channel: the sink row's delivered_at), latency from the POST to delivered_at
     (p50/p99/p99.9, host clock for the post, database clock for the handover: one machine), CPU seconds
     per 1,000 check-outs per phase of each service, Kafka's broker, PostgreSQL (this run's backends and
     the whole server) and the load generator itself, peak RSS per service process, and lost or
     duplicated effects against the generator's ground truth;
  5. runs the raw baseline in its own process on the same broker and database, warmed up, with the same
     load from the same client, and prints platform/baseline for both paths (single-record and batch);
  6. prints a pass/fail line per target of the city's evening (bench/targets.py). Results, targets
     included, also go to a JSON file.

Kafka and PostgreSQL serve the whole machine: on a machine shared with other work their figures
include it ("PG all"); "PG run" counts only this run's database's backends.

The evening measured is yesterday's, school-local (a programme that runs on yesterday's weekday only,
15:30-17:30; check-ins at 15:35, check-outs at 17:20, posted now as school systems do when they send a
day's records): today has no session, so no absence or extended-care timer fires whatever the hour the
benchmark runs at, and the platform's work is the records alone. The check-outs happen before the
session's end, so no extended-care fee accrues and no money moves at check-out (fees are settled at
month-end, R17): the effects counted are the attendance record and the guardian's message, on both sides.

    .venv/bin/python -m bench.pickup_surge --students 5000
    .venv/bin/python -m bench.pickup_surge --students 557000 --schools 508 --offered-seconds 300
    .venv/bin/python -m bench.pickup_surge --students 557000 --schools 508 --setup-only
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import pickup_baseline
from bench.loadgen import Client, HTTPError, cpu_seconds, open_loop
from bench.procstats import kafka_pid, parent_of, percentile, snapshot, spent, tree_cpu, usage
from bench.targets import evaluate, setup_verdict
from local import infra
from local.infra import free_port
from local.lag import ends as partition_ends
from local.lag import lag as behind
from local.platform import SERVICES, Platform
from services.attendance.domain.schedule import WEEKDAYS
from shared.contracts.enrollment import EnrollmentFiled, GuardianRegistered, ProgrammePublished
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, CONSUMES, ENROLLMENT_EVENTS
from shared.issuer import dev_issuer
from shared.privacy import Sealer, mask_phone
from shared.settings import CommonSettings
from shared.time import SCHOOL_TZ as LOCAL

BATCH = 50  # records per POST: a school system's gate flushing every few seconds


@dataclass
class Surge:
    run: str
    students: int
    schools: int

    def school(self, s: int) -> str:
        return f"sch-surge-{self.run}-{s:03d}"

    def school_of(self, i: int) -> int:
        return i % self.schools

    def student(self, i: int) -> str:
        return f"stu-surge-{self.run}-{i:06d}"

    def guardian(self, i: int) -> str:
        return f"gdn-surge-{self.run}-{i:06d}"


@dataclass
class Phase:
    name: str
    posted_at: dict[str, float] = field(default_factory=dict)  # student_id -> wall-clock time of the POST
    started: float = 0.0
    finished_posting: float = 0.0
    rejected: int = 0


def batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def the_day() -> date:
    """Yesterday, school-local: see the module docstring."""
    return datetime.now(LOCAL).date() - timedelta(days=1)


def seed_events(s: Surge, day: date) -> Iterator[tuple[bytes, bytes]]:
    """The programmes, then a GuardianRegistered and an EnrollmentFiled per student, encoded for Kafka
    (a city's 1.1 million events: about 1 GB in memory)."""
    sealer = Sealer(CommonSettings().contact_sealing_key)
    weekday = WEEKDAYS[day.weekday()]
    for k in range(s.schools):
        school = s.school(k)
        yield _encoded(ProgrammePublished(
            programme_id=f"prg-{school}", school_id=school, district_id="dst-surge", term="2026-autumn", name="课后服务",
            sessions=[{"weekdays": [weekday], "starts_at_local": "15:30", "ends_at_local": "17:30"}],
            normal_off_work_local="17:30", extended_care_until_local=None,
            activities=[{"activity_id": "act-1", "name": "跑步", "tier": "sports", "staff_ids": [f"stf-{school}"],
                         "capacity": 5000}],
            capacity=5000, fee_per_session_fen=1500, extended_care_fee_per_session_fen=800, safety_measures=["凭接送卡交接"],
            insurance={"liability_policy_no": "PL", "accident_policy_no": "GA", "insurer": "人保", "valid_from": "2026-01-01",
                       "valid_until": "2026-12-31"},
            applications_open_at="2026-01-01T00:00:00Z", applications_close_at="2026-01-10T00:00:00Z",
            published_by=f"pri-{school}", published_by_role="principal", published_at="2026-01-01T00:00:00Z",
        ))
    for i in range(s.students):
        school, student, guardian = s.school(s.school_of(i)), s.student(i), s.guardian(i)
        phone = f"13{(i % 7) + 3}{i:08d}"
        yield _encoded(GuardianRegistered(
            guardian_id=guardian, school_id=school, student_ids=[student], name="家长", phone_masked=mask_phone(phone),
            phone_sealed=sealer.seal(phone), consent=True, registered_by="bench"))
        yield _encoded(EnrollmentFiled(
            enrollment_id=f"enr-{student}", application_id=f"app-{student}", programme_id=f"prg-{school}", school_id=school,
            district_id="dst-surge", student_id=student, student_name=f"学生{i}", guardian_id=guardian, hardship=False,
            extended_care=False, authorised_pickup_ids=[], filed_by="off", filed_by_role="district_officer",
            filed_at="2026-01-02T00:00:00Z"))


def _encoded(event: Event) -> tuple[bytes, bytes]:
    envelope = new_envelope(event, producer="enrollment")
    return envelope.key.encode(), encode(envelope)


async def produce(kafka: str, topic: str, records: Iterable[tuple[bytes, bytes]], what: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    sent, shown = 0, time.monotonic()
    try:
        for chunk in batched(records, 20_000):
            await asyncio.gather(*[await producer.send(topic, value=v, key=k) for k, v in chunk])
            sent += len(chunk)
            if time.monotonic() - shown > 10:
                print(f"[seed] {sent:,} {what} on {topic}", flush=True)
                shown = time.monotonic()
    finally:
        await producer.stop()
    return sent


async def until(probe, timeout: float, what: str, every: float = 1.0, progress=None):
    """Wait for `probe()` to be truthy; on long waits print `progress()` every 15 s."""
    deadline = time.monotonic() + timeout
    shown = time.monotonic()
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what} (last: {value!r})")
        if progress is not None and time.monotonic() - shown > 15:
            print(f"[wait] {what}: {await progress()}", flush=True)
            shown = time.monotonic()
        await asyncio.sleep(every)


async def lag(kafka: str) -> dict[str, int]:
    """Records each service has still to consume, over the topics it reads."""
    return await behind(kafka, {service: reads for service, reads in CONSUMES.items() if reads})


def evening(day: date) -> datetime:
    """Check-ins at 15:35 school-local on the measured day; check-outs a little before the session ends."""
    return datetime(day.year, day.month, day.day, 15, 35, tzinfo=LOCAL)


class Poster:
    """School systems posting records; each POST is its own task (open loop: a slow platform does not
    slow the offered load down, it queues, and the time queued counts in latency). The client is the
    lean keep-alive one of bench.loadgen, at most 64 connections."""

    def __init__(self, client: Client, s: Surge, at: datetime, *, auth: bool = True) -> None:
        self.client, self.s, self.at = client, s, at
        tokens = dev_issuer()
        self.auth = {s.school(k): {"Authorization": f"Bearer {tokens.mint(f'sys-{s.school(k)}', 'school_system', school_id=s.school(k))}"}
                     for k in range(s.schools)} if auth else {}
        self.tasks: list[asyncio.Task] = []

    def record(self, kind: str, i: int) -> dict:
        r = {"record_id": f"{kind}-{self.s.student(i)}", "kind": kind, "student_id": self.s.student(i),
             "at": (self.at + timedelta(minutes=105 if kind == "check_out" else 0)).isoformat(),
             "staff_id": f"stf-{self.s.school(self.s.school_of(i))}"}
        if kind == "check_out":
            r["collected_by_id"] = self.s.guardian(i)
        return r

    async def post(self, school: str, records: list[dict], phase: Phase | None) -> None:
        posted = time.time()  # when the school system has the records to send: time queued here counts too
        body = json.dumps({"records": records}).encode()
        for attempt in range(5):
            try:
                status, reply = await self.client.post(f"/v1/schools/{school}/records", body, self.auth.get(school))
                if status == 200:
                    break
                error = f"HTTP {status}: {reply[:300]!r}"
            except (OSError, HTTPError) as e:
                error = repr(e)
            if attempt == 4:
                raise SystemExit(f"POST to {school} failed five times: {error}")
            await asyncio.sleep(1)  # a school system retries the same records: duplicates change nothing
        if phase is not None:
            for r in records:
                phase.posted_at[r["student_id"]] = posted
            phase.rejected += json.loads(reply)["rejected"]

    def send(self, kind: str, ids: list[int], phase: Phase | None) -> None:
        by_school: dict[str, list[dict]] = {}
        for i in ids:
            by_school.setdefault(self.s.school(self.s.school_of(i)), []).append(self.record(kind, i))
        for school, records in by_school.items():
            self.tasks.append(asyncio.create_task(self.post(school, records, phase)))

    async def drain(self) -> None:
        await asyncio.gather(*self.tasks)
        self.tasks.clear()


async def offered(poster: Poster, ids: list[int], rate: float, phase: Phase) -> None:
    """One record per POST, each sent when it is due (open loop), as a school gate sends a check-out."""
    phase.started = time.time()
    await open_loop(len(ids), rate, lambda k: poster.send("check_out", [ids[k]], phase))
    phase.finished_posting = time.time()
    await poster.drain()


async def saturation(poster: Poster, ids: list[int], phase: Phase) -> None:
    phase.started = time.time()
    for k in range(0, len(ids), BATCH * poster.s.schools):
        poster.send("check_out", ids[k:k + BATCH * poster.s.schools], phase)
        await asyncio.sleep(0)
    phase.finished_posting = time.time()
    await poster.drain()


@dataclass(frozen=True)
class Told:
    """A check-out message, by the database clock: when notification wrote it (the consumer's transaction
    began), when the sender claimed it and when it was handed to the channel."""

    created: float
    claimed: float
    delivered: float
    published: float | None = None  # the StudentCheckedOut record's Kafka timestamp (the relay's send)


async def effects(db: asyncpg.Pool, s: Surge) -> tuple[dict[str, int], dict[str, list[Told]]]:
    """Per student: check-outs recorded by attendance, and each check-out message's times."""
    async with db.acquire() as conn:
        days = await conn.fetch("select student_id, count(*) n from attendance.attendance_days where student_id like $1 "
                                "and checked_out_at is not null group by student_id", f"stu-surge-{s.run}-%")
        msgs = await conn.fetch("select student_id, extract(epoch from created_at) c, extract(epoch from claimed_at) k,"
                                " extract(epoch from delivered_at) t from notification.messages "
                                "where recipient_id like $1 and cause_event_type = 'StudentCheckedOut' "
                                "and delivered_at is not null", f"gdn-surge-{s.run}-%")
    delivered: dict[str, list[Told]] = {}
    for m in msgs:
        t = float(m["t"])
        delivered.setdefault(m["student_id"], []).append(
            Told(float(m["c"]) if m["c"] is not None else t, float(m["k"]) if m["k"] is not None else t, t))
    return {r["student_id"]: r["n"] for r in days}, delivered


async def published(kafka: str, s: Surge) -> dict[str, float]:
    """Per student of this run, when attendance's relay sent its StudentCheckedOut to Kafka (the record's
    timestamp, by this machine's clock like the POST's and the database's): it splits the way to
    notification into attendance (HTTP, judging, group commit, outbox relay) and Kafka plus notification's
    consumer."""
    end = await partition_ends(kafka, [ATTENDANCE_EVENTS])
    parts = list(end)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: dict[str, float] = {}
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        prefix = f'"student_id":"stu-surge-{s.run}-'.encode()
        while [p for p in parts if await consumer.position(p) < end[p]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for r in records:
                    if prefix not in (r.value or b"") or b'"StudentCheckedOut"' not in r.value:
                        continue
                    sid = json.loads(r.value)["payload"]["student_id"]
                    out.setdefault(sid, r.timestamp / 1000)
    finally:
        await consumer.stop()
    return out


# Where a check-out's time goes, from the POST to the handover (`Told`): through attendance (judging, group
# commit) and its outbox relay until the event is on Kafka; Kafka and notification's consumer until the
# message row exists; queued until the sender claims it; and the channel's answer.
STAGES = {"attendance to Kafka": lambda posted, t: (t.published or t.created) - posted,
          "Kafka to notification": lambda posted, t: t.created - (t.published or t.created),
          "queued for the sender": lambda posted, t: t.claimed - t.created,
          "handed to the channel": lambda posted, t: t.delivered - t.claimed}


def start_profiles(plat: Platform, names: list[str], seconds: float, out: Path) -> list[tuple[str, Path, subprocess.Popen]]:
    """py-spy sampling the given services during the saturation phase (the profile names the bottleneck)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("[profile] py-spy not installed; no profile", flush=True)
        return []
    started = []
    for n in names:
        path = out / f"profile-{n}.txt"
        started.append((n, path, subprocess.Popen(
            [spy, "record", "--pid", str(plat[n].proc.pid), "--duration", str(int(seconds)), "--rate", "50",
             "--format", "raw", "--nonblocking", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    return started


def read_profiles(started: list[tuple[str, Path, subprocess.Popen]]) -> dict[str, list[tuple[str, float]]]:
    """Per service, the frames holding most samples inclusively, outside the event loop itself."""
    out = {}
    for name, path, proc in started:
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not path.exists():
            continue
        inclusive: Counter = Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            frames = {f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                      for f in stack.split(";") if " (" in f}
            for f in frames:
                inclusive[f] += int(count)
        skip = ("_run_code", "run_forever", "_run_once", "_run (events.py)", "run (runners.py)", "<module>", "run_until_complete",
                "main (", "_run_module", "serve (", "run (", "__call__ (", "app (", "handle (")
        top = [(f, c / max(total, 1)) for f, c in inclusive.most_common(60) if not any(k in f for k in skip)]
        out[name] = top[:6]
    return out


class Meter:
    """CPU seconds spent between two readings by each measured process: the services (or the baseline's
    process), Kafka's broker (its pid file), PostgreSQL as a whole (the postmaster and every backend,
    including backends that ended: the postmaster reaps them) and this run's database backends alone (the
    server is shared with whatever else runs on the machine), and the load generator (this process)."""

    def __init__(self, db: asyncpg.Pool, datname: str, processes: dict[str, int], kafka_state: Path | None) -> None:
        self.db, self.datname, self.processes = db, datname, processes
        self.kafka = kafka_pid(kafka_state)
        self.postmaster: int | None = None

    async def read(self) -> dict:
        async with self.db.acquire() as conn:
            backend = await conn.fetchval("select pg_backend_pid()")
            pids = [r[0] for r in await conn.fetch("select pid from pg_stat_activity where datname = $1", self.datname)]
        if self.postmaster is None and Path(f"/proc/{backend}/comm").exists() \
                and Path(f"/proc/{backend}/comm").read_text().strip() == "postgres":
            self.postmaster = parent_of(backend)  # a local server: the backend's parent is the postmaster
        local = self.postmaster is not None
        return {"processes": {n: usage(pid).cpu_s for n, pid in self.processes.items()},
                "kafka": tree_cpu(self.kafka) if self.kafka else float("nan"),
                "postgres": tree_cpu(self.postmaster) if local else float("nan"),
                "backends": snapshot(pids) if local else {}, "local_pg": local,
                "loadgen": cpu_seconds()}

    @staticmethod
    def between(a: dict, b: dict) -> dict[str, float]:
        """CPU s per process between readings a and b; "services" sums the measured processes."""
        out = {n: b["processes"][n] - a["processes"][n] for n in a["processes"]}
        out["services"] = sum(out.values())
        out["kafka"] = b["kafka"] - a["kafka"]
        out["postgres_server"] = b["postgres"] - a["postgres"]
        out["postgres_run"] = spent(a["backends"], b["backends"]) if b["local_pg"] else float("nan")
        out["loadgen"] = b["loadgen"] - a["loadgen"]
        return out


def per_1k(cpu: dict[str, float], n: int) -> dict[str, float]:
    return {k: 1000 * v / max(n, 1) for k, v in cpu.items()}


def summarise(name: str, phase: Phase, delivered: dict[str, list[Told]]) -> dict:
    first = {sid: min(delivered[sid], key=lambda t: t.delivered) for sid in phase.posted_at if sid in delivered}
    lat = [(first[sid].delivered - t) * 1000 for sid, t in phase.posted_at.items() if sid in first]
    last = max((t.delivered for t in first.values()), default=phase.started)
    n = len(first)
    stages = {stage: [1000 * part(phase.posted_at[sid], t) for sid, t in first.items()] for stage, part in STAGES.items()}
    return {"phase": name, "check_outs": len(phase.posted_at), "completed": n, "seconds": last - phase.started,
            "per_second": n / max(last - phase.started, 1e-9),
            "offered_per_second": len(phase.posted_at) / max(phase.finished_posting - phase.started, 1e-9),
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "p999_ms": percentile(lat, 99.9),
            "stages_ms": {stage: {"p50": percentile(v, 50), "p99": percentile(v, 99)} for stage, v in stages.items()}}


async def platform_run(args: argparse.Namespace, kafka: str, database: str, datname: str, logs: Path) -> dict:
    s = Surge(uuid.uuid4().hex[:6], args.students, args.schools)
    env = {"LOG_LEVEL": "WARNING", "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00", "PUSH_PROVIDER": "none",
           "SETTLEMENT_AUTO": "false"}
    plat = Platform(kafka, database, logs, extra_env=env)
    print(f"[platform] starting the six services (logs in {logs})", flush=True)
    await asyncio.to_thread(plat.start, 240)
    db = await asyncpg.create_pool(database.replace("postgresql+asyncpg://", "postgresql://"), min_size=1, max_size=2)
    meter = Meter(db, datname, {n: plat[n].proc.pid for n in SERVICES}, args.kafka_state)
    try:
        day = the_day()
        # The enrollments exist before the setup starts (enrollment has filed them and sealed the guardians'
        # phones); the setup measured is the services consuming them, so they are encoded before the clock.
        g0 = time.monotonic()
        records = list(seed_events(s, day))
        print(f"[seed] {len(records):,} enrollment events encoded in {time.monotonic() - g0:.1f} s (before the "
              "setup's clock)", flush=True)
        s0 = await meter.read()
        t0 = time.monotonic()
        sent = await produce(kafka, ENROLLMENT_EVENTS, records, "enrollment events")
        del records
        print(f"[seed] {s.students:,} students, {s.schools} schools: {sent:,} events put on {ENROLLMENT_EVENTS} "
              f"({time.monotonic() - t0:.1f} s); the evening measured is {day} (school-local)", flush=True)
        like_student, like_guardian = f"stu-surge-{s.run}-%", f"gdn-surge-{s.run}-%"

        async def counts(directory: bool = False) -> dict[str, int]:
            """One pass over the run's messages (and, while seeding, the roster and the contacts)."""
            async with db.acquire() as conn:
                row = dict(await conn.fetchrow(
                    "select count(*) messages, count(*) filter (where delivered_at is null) undelivered,"
                    " count(*) filter (where cause_event_type = 'StudentCheckedIn' and delivered_at is not null) told_in,"
                    " count(*) filter (where cause_event_type = 'StudentCheckedOut' and delivered_at is not null) told_out"
                    " from notification.messages where recipient_id like $1", like_guardian))
                if directory:
                    row["roster"] = await conn.fetchval("select count(*) from attendance.roster where student_id like $1",
                                                        like_student)
                    row["contacts"] = await conn.fetchval(
                        "select count(*) from notification.contacts where recipient_id like $1", like_guardian)
            return row

        async def progress() -> str:
            return ", ".join(f"{k} {v:,}" for k, v in (await counts(directory=True)).items())

        async def quiet() -> bool:  # every consumer group has read all there is
            return not any((await lag(kafka)).values())

        async def still() -> str:
            return "records still to consume: " + ", ".join(f"{k} {v:,}" for k, v in (await lag(kafka)).items())

        async def both(*probes) -> str:
            return "; ".join([await p() for p in probes])

        async def ready() -> bool:
            c = await counts(directory=True)
            return c["roster"] >= s.students and c["contacts"] >= s.students
        await until(ready, args.timeout, "attendance's roster and notification's contacts", every=3,
                    progress=lambda: both(progress, still))
        print(f"[seed] roster and contacts complete ({time.monotonic() - t0:.1f} s since seeding)", flush=True)

        await until(quiet, args.timeout, "every service to consume the enrollments", every=3, progress=still)
        setup_seconds = time.monotonic() - t0  # the city's setup: its enrollments consumed by all six services
        setup_cpu = Meter.between(s0, await meter.read())
        print(f"[seed] every service has consumed the enrollments ({setup_seconds:.1f} s since seeding); CPU s: "
              + ", ".join(f"{k} {setup_cpu[k]:.1f}" for k in (*SERVICES, "kafka", "postgres_run", "loadgen")), flush=True)
        setup = {"students": s.students, "schools": s.schools, "setup_seconds": setup_seconds, "setup_cpu_s": setup_cpu}
        if args.setup_only:
            return setup
        at = evening(day)
        async with Client(plat["attendance"].url, connections=64) as client:
            poster = Poster(client, s, at)
            ids = list(range(s.students))
            shown = time.monotonic()
            for k, chunk in enumerate(batched(ids, BATCH * s.schools), 1):
                poster.send("check_in", chunk, None)
                await poster.drain()
                if time.monotonic() - shown > 15:
                    print(f"[seed] {min(k * BATCH * s.schools, s.students):,} check-ins posted", flush=True)
                    shown = time.monotonic()

            async def check_ins_told() -> bool:
                c = await counts()  # every message of the setup handed over: the evening starts quiet
                return c["told_in"] >= s.students and c["undelivered"] == 0
            await until(check_ins_told, args.timeout, "the setup's messages (enrollment filed, checked in) to be delivered",
                        every=3, progress=progress)
            print(f"[seed] everyone checked in and their guardians told ({time.monotonic() - t0:.1f} s since seeding)",
                  flush=True)

            # billing and audit too have read the check-ins: the CPU measured is the evening's
            await until(quiet, args.timeout, "every service to consume the setup's events", every=3, progress=still)
            print(f"[seed] every service has consumed the setup ({time.monotonic() - t0:.1f} s since seeding)", flush=True)

            n_offered = min(len(ids) // 2, int(args.rate * args.offered_seconds))
            m0 = await meter.read()
            first, second = Phase("offered"), Phase("saturation")
            print(f"[platform] offered: {n_offered:,} single-record POSTs at {args.rate:g}/s", flush=True)
            await offered(poster, ids[:n_offered], args.rate, first)

            async def told(n: int) -> bool:
                return (await counts())["told_out"] >= n
            await until(lambda: told(n_offered), args.timeout, "the offered phase's messages", every=1, progress=progress)
            m1 = await meter.read()
            profiles = start_profiles(plat, args.profile, args.profile_seconds, logs) if args.profile else []
            print(f"[platform] saturation: {s.students - n_offered:,} check-outs in POSTs of {BATCH}", flush=True)
            await saturation(poster, ids[n_offered:], second)
            await until(lambda: told(s.students), args.timeout, "the saturation phase's messages", every=1,
                        progress=progress)
            m2 = await meter.read()
            hot = read_profiles(profiles)
        days, delivered = await effects(db, s)
        sent = await published(kafka, s)
        delivered = {sid: [dataclasses.replace(t, published=sent.get(sid)) for t in told] for sid, told in delivered.items()}
        truth = {s.student(i) for i in range(s.students)}
        lost = len(truth - set(days)) + len(truth - set(delivered))
        duplicated = sum(n - 1 for n in days.values() if n > 1) + sum(len(v) - 1 for v in delivered.values() if len(v) > 1)
        phases = [summarise("offered", first, delivered), summarise("saturation", second, delivered)]
        for ph, (a, b) in zip(phases, ((m0, m1), (m1, m2))):
            ph["cpu_s"] = Meter.between(a, b)
            ph["cpu_s_per_1k"] = per_1k(ph["cpu_s"], ph["check_outs"])
        cpu = Meter.between(m0, m2)
        rss = {n: usage(plat[n].proc.pid).peak_rss_mb for n in SERVICES}
        return {"students": s.students, "schools": s.schools, "phases": phases,
                "cpu_s_per_1k": {n: 1000 * cpu[n] / s.students for n in SERVICES},
                "cpu_s_per_1k_total": 1000 * cpu["services"] / s.students,
                "cpu_s_per_1k_all": per_1k(cpu, s.students),
                "peak_rss_mb": rss, "lost": lost, "duplicated": duplicated,
                "rejected": first.rejected + second.rejected, "profile": hot, **setup}
    finally:
        await db.close()
        await asyncio.to_thread(plat.stop)


async def _listening(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the raw baseline did not start listening on {port} (exit code {proc.poll()})") from None
            await asyncio.sleep(0.2)


async def baseline_run(args: argparse.Namespace, kafka: str, database: str, datname: str, logs: Path) -> dict:
    """The raw baseline (bench/pickup_baseline.py) in its own process behind its HTTP front, offered the
    same load by the same load generator: single-record POSTs at the rate, then batches of 50."""
    pg = database.replace("postgresql+asyncpg://", "postgresql://")
    schema = f"bench_raw_{uuid.uuid4().hex[:6]}"
    s = Surge(uuid.uuid4().hex[:6], args.students, args.schools)
    await pickup_baseline.prepare(pg, kafka, schema)
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "baseline.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bench.pickup_baseline", "--database", pg, "--kafka", kafka,
                                 "--schema", schema, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                cwd=infra.REPO)
    db = await asyncpg.create_pool(pg, min_size=1, max_size=2)
    try:
        await _listening(port, proc, 60)

        async def handed() -> int:
            async with db.acquire() as conn:
                return await conn.fetchval(f'select count(*) from "{schema}".messages')

        async def shown() -> str:
            return f"messages handed over {await handed():,}"
        ids = list(range(s.students))
        n_offered = min(len(ids) // 2, int(args.rate * args.offered_seconds))
        meter = Meter(db, datname, {"baseline": proc.pid}, args.kafka_state)
        async with Client(f"http://127.0.0.1:{port}", connections=64) as client:
            # Warm up as the platform is warm after its setup (connections, the topics' metadata, the group);
            # the warm-up's students are not the run's and not measured.
            warm = Surge(f"warm{s.run}", min(s.students, 500), s.schools)
            await offered(Poster(client, warm, evening(the_day()), auth=False), list(range(warm.students)), args.rate,
                          Phase("warm-up"))
            await until(lambda: _at_least(handed, warm.students), args.timeout, "the baseline's warm-up", every=0.5)
            poster = Poster(client, s, evening(the_day()), auth=False)
            first, second = Phase("offered"), Phase("saturation")
            m0 = await meter.read()
            await offered(poster, ids[:n_offered], args.rate, first)
            await until(lambda: _at_least(handed, warm.students + n_offered), args.timeout,
                        "the baseline's offered messages", every=1, progress=shown)
            m1 = await meter.read()
            await saturation(poster, ids[n_offered:], second)
            await until(lambda: _at_least(handed, warm.students + s.students), args.timeout,
                        "the baseline's saturation messages", every=1, progress=shown)
            m2 = await meter.read()
        rss = usage(proc.pid).peak_rss_mb
    finally:
        await db.close()
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: the consumer and producer stop cleanly
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
    rows, handed = await pickup_baseline.effects(pg, schema)
    # The baseline writes its message and hands it over in one step: no stages to tell apart.
    delivered = {sid: [Told(t, t, t) for t in times] for sid, times in handed.items()}
    await pickup_baseline.drop(pg, kafka, schema)
    truth = {s.student(i) for i in range(s.students)}
    out: dict = {"lost": len(truth - set(rows)) + len(truth - set(delivered)),
                 "duplicated": sum(n - 1 for n in rows.values() if n > 1) + sum(len(v) - 1 for v in delivered.values() if len(v) > 1),
                 "peak_rss_mb": rss}
    for phase, (a, b) in zip((first, second), ((m0, m1), (m1, m2))):
        out[phase.name] = summarise(phase.name, phase, delivered)
        out[phase.name]["cpu_s"] = Meter.between(a, b)
        out[phase.name]["cpu_s_per_1k"] = per_1k(out[phase.name]["cpu_s"], out[phase.name]["check_outs"])
    return out


async def _at_least(count, n: int) -> bool:
    return await count() >= n


def _f(x: float, spec: str) -> str:
    return "n/a" if x != x else format(x, spec)  # NaN: not measurable here (Kafka or PostgreSQL not local)


def table(result: dict) -> str:
    p, b = result["platform"], result["baseline"]
    off, sat = p["phases"]
    lines = [f"\nPickupSurge: {p['students']:,} students at {p['schools']} schools; offered {result['rate']:g}/s as "
             f"single-record POSTs for {off['check_outs']:,} check-outs, then saturation in POSTs of {BATCH} for "
             f"{sat['check_outs']:,}; {result['cpus']} CPUs, load average before {result['loadavg_before']}, "
             f"after {result['loadavg_after']}",
             f"{'':<30}{'done/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}   CPU s per 1,000 check-outs:"
             f"{'services':>9}{'Kafka':>7}{'PG run':>8}{'PG all':>8}{'loadgen':>8}"]
    for ph in p["phases"]:
        for who, row in (("platform", ph), ("raw baseline", b[ph["phase"]])):
            c = row["cpu_s_per_1k"]
            lines.append(f"{who + ' ' + ph['phase']:<30}{row['per_second']:>9.1f}{row['p50_ms']:>9.0f}{row['p99_ms']:>9.0f}"
                         f"{row['p999_ms']:>10.0f}{'':>30}{c['services']:>9.2f}{_f(c['kafka'], '.2f'):>7}"
                         f"{_f(c['postgres_run'], '.2f'):>8}{_f(c['postgres_server'], '.2f'):>8}{c['loadgen']:>8.2f}")
    for ph in p["phases"]:
        lines.append(f"platform {ph['phase']}, where the time goes (p50 / p99 ms, the POST on the host clock, the rest"
                     " on the database's): " + "; ".join(f"{stage} {v['p50']:.0f} / {v['p99']:.0f}"
                                                         for stage, v in ph["stages_ms"].items()))
    for ph in p["phases"]:
        base = b[ph["phase"]]
        path = "single-record path" if ph["phase"] == "offered" else f"batch-of-{BATCH} path"
        lines.append(f"platform/baseline, {path}: throughput {ph['per_second'] / max(base['per_second'], 1e-9):.2f}x, "
                     f"services' CPU per check-out {ph['cpu_s_per_1k']['services'] / max(base['cpu_s_per_1k']['services'], 1e-9):.1f}x "
                     f"the baseline process's")
    lines.append("CPU s per 1,000 check-outs per service, both phases: "
                 + ", ".join(f"{n} {v:.2f}" for n, v in p["cpu_s_per_1k"].items())
                 + f"; total {p['cpu_s_per_1k_total']:.2f}. Kafka and PostgreSQL serve the whole machine (PG run: this "
                   "run's database's backends alive at the phase's end; PG all: the whole server); loadgen: this process")
    lines.append("peak RSS MB: " + ", ".join(f"{n} {v:.0f}" for n, v in p["peak_rss_mb"].items())
                 + f"; raw baseline {b['peak_rss_mb']:.0f}")
    lines.append(setup_line(p))
    lines.append(f"lost effects: platform {p['lost']}, baseline {b['lost']}; duplicated: platform {p['duplicated']}, "
                 f"baseline {b['duplicated']}; records rejected {p['rejected']}")
    for name, frames in result["platform"].get("profile", {}).items():
        lines.append(f"py-spy, {name} at saturation (share of samples inside): "
                     + "; ".join(f"{f} {share:.0%}" for f, share in frames))
    lines.append("targets (issue 13):")
    lines.extend("  " + v.line() for v in evaluate(result))
    return "\n".join(lines)


def setup_line(p: dict) -> str:
    cpu = p["setup_cpu_s"]
    return (f"setup: {p['students']:,} students' enrollments consumed by every service in {p['setup_seconds']:,.0f} s "
            f"(seeding included; check-ins not); CPU s " + ", ".join(f"{n} {cpu[n]:.1f}" for n in SERVICES)
            + f", Kafka {_f(cpu['kafka'], '.1f')}, PG run {_f(cpu['postgres_run'], '.1f')}, loadgen {cpu['loadgen']:.1f}")


async def main(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:6]
    logs = infra.REPO / ".local" / f"bench-surge-{run}"
    # A broker of its own: on a shared one, the services' consumer groups would first have to read what
    # earlier (perhaps abandoned) runs left on the topics, and the setup time would measure that backlog.
    kafka_state = logs / "kafka"
    kafka = await asyncio.to_thread(infra.kafka, kafka_state)
    pg = await asyncio.to_thread(infra.postgres)
    try:
        database = await asyncio.to_thread(infra.create_database, pg.address, f"bench_surge_{run}")
        print(f"[infra] {kafka.description}; {pg.description}; database bench_surge_{run}", flush=True)
        load_before = os.getloadavg()
        args.kafka_state = kafka_state
        platform = await platform_run(args, kafka.address, database, f"bench_surge_{run}", logs)
        if args.setup_only:
            verdict = setup_verdict(platform)
            print(f"\nPickupSurge setup: {platform['schools']} schools; {os.cpu_count()} CPUs, load average before "
                  f"{' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
                  f"{setup_line(platform)}\n  {verdict.line()}", flush=True)
            args.json.write_text(json.dumps({"platform": platform, "targets": [verdict.as_dict()]}, indent=2))
            return 0
        print("[baseline] the raw aiokafka + asyncpg process behind a bare ASGI front, same load", flush=True)
        baseline = await baseline_run(args, kafka.address, database, f"bench_surge_{run}", logs)
        result = {"rate": args.rate, "platform": platform, "baseline": baseline,
                  "loadavg_before": " ".join(f"{x:.2f}" for x in load_before),
                  "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                  "cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat()}
        result["targets"] = [v.as_dict() for v in evaluate(result)]
        print(table(result), flush=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"results written to {args.json}")
        return 0 if platform["lost"] == platform["duplicated"] == baseline["lost"] == baseline["duplicated"] == 0 else 1
    finally:
        await asyncio.to_thread(kafka.stop)
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(kafka_state, ignore_errors=True)  # a city's topics are gigabytes; the logs stay


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pickup_surge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=557_000, help="students checked out (default: the city, 557,000)")
    parser.add_argument("--schools", type=int, default=None, help="schools (default: N/1,100, at least 2)")
    parser.add_argument("--rate", type=float, default=310.0, help="offered check-outs per second (557,000 in 30 min)")
    parser.add_argument("--offered-seconds", type=float, default=30.0,
                        help="how long the offered load runs (at most half the students); the rest is saturation")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up waiting after this many seconds")
    parser.add_argument("--profile", nargs="*", default=["attendance", "notification"],
                        help="services to sample with py-spy during saturation (none: --profile)")
    parser.add_argument("--profile-seconds", type=float, default=20.0, help="how long py-spy samples")
    parser.add_argument("--setup-only", action="store_true",
                        help="stop after the setup (enrollments consumed by every service): the city's setup time alone")
    parser.add_argument("--json", type=Path, default=Path(".local/pickup_surge.json"), help="where the results go")
    args = parser.parse_args()
    args.schools = args.schools or max(2, round(args.students / 1100))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    # aiokafka warns while a new topic's leader is elected and retries by itself: not the benchmark's news.
    logging.basicConfig(level=logging.ERROR)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main(args)))
    sys.exit(uvloop.run(main(args)))


if __name__ == "__main__":
    cli()
