"""Posts a full evening's check-outs for N students through attendance's HTTP batch API (R15) and prints
accepted records/s, p50/p99 request latency and peak memory.

By default it starts what it needs (a local Kafka broker, a fresh PostgreSQL database and the attendance
service as a real process); with --url and --kafka it uses a running service instead. Setup puts the
programmes and the filed students on enrollment.events (as enrollment would) and checks everyone in;
only the check-outs are measured.

    .venv/bin/python -m bench.attendance_checkouts --students 20000
    .venv/bin/python -m bench.attendance_checkouts --students 557000 --schools 508
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.procstats import percentile, usage
from shared.contracts.enrollment import EnrollmentFiled, ProgrammePublished
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.issuer import Issuer, dev_issuer
from shared.time import SCHOOL_TZ as LOCAL

CITY_STUDENTS = 557_000
CITY_SCHOOLS = 508


@dataclass
class City:
    """N students spread over schools, one programme and one admitted staff member per school."""

    run: str
    students: int
    schools: int

    def school_id(self, s: int) -> str:
        return f"sch-bench-{self.run}-{s:03d}"

    def members(self, s: int) -> range:
        per, extra = divmod(self.students, self.schools)
        start = s * per + min(s, extra)
        return range(start, start + per + (1 if s < extra else 0))

    def student_id(self, i: int) -> str:
        return f"stu-bench-{self.run}-{i:06d}"


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "duplicate": 0, "rejected": 0})
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    requests: int = 0
    retries: int = 0


def base_time() -> datetime:
    """Half an hour ago, but not before 00:03 school-local: records must be about today."""
    now = datetime.now(LOCAL)
    return max(now - timedelta(minutes=30), now.replace(hour=0, minute=3, second=0, microsecond=0))


def enrollment_events(city: City) -> Iterator[bytes]:
    for s in range(city.schools):
        school = city.school_id(s)
        # The session runs 23:58-23:59 local, so no absence or extended-care timer fires during the run
        # and the service's work is the records alone.
        yield encode(new_envelope(ProgrammePublished(
            programme_id=f"prg-{school}", school_id=school, district_id="dst-bench", term="2026-autumn", name="课后服务",
            sessions=[{"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "starts_at_local": "23:58",
                       "ends_at_local": "23:59"}],
            normal_off_work_local="17:30", extended_care_until_local=None,
            activities=[{"activity_id": "act-1", "name": "跑步", "tier": "sports", "staff_ids": [f"stf-{school}"], "capacity": 2000}],
            capacity=2000, fee_per_session_fen=1500, extended_care_fee_per_session_fen=800, safety_measures=["凭接送卡交接"],
            insurance={"liability_policy_no": "PL", "accident_policy_no": "GA", "insurer": "人保", "valid_from": "2026-01-01",
                       "valid_until": "2026-12-31"},
            applications_open_at="2026-01-01T00:00:00Z", applications_close_at="2026-01-10T00:00:00Z",
            published_by=f"pri-{school}", published_by_role="principal", published_at="2026-01-01T00:00:00Z",
        ), producer="enrollment"))
        for i in city.members(s):
            student = city.student_id(i)
            yield encode(new_envelope(EnrollmentFiled(
                enrollment_id=f"enr-{student}", application_id=f"app-{student}", programme_id=f"prg-{school}", school_id=school,
                district_id="dst-bench", student_id=student, student_name="学生", guardian_id=f"gdn-{student}", hardship=False,
                extended_care=False, authorised_pickup_ids=[], filed_by="off", filed_by_role="district_officer",
                filed_at="2026-01-02T00:00:00Z",
            ), producer="enrollment"))


async def load_roster(kafka: str, city: City) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for value in enrollment_events(city):
            key = json.loads(value)["key"].encode()
            pending.append(await producer.send(ENROLLMENT_EVENTS, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def wait_for_roster(client: httpx.AsyncClient, city: City, tokens: Issuer, timeout: float) -> None:
    """Until every school's roster is complete (a school's events may sit on any partition)."""
    waiting = set(range(city.schools))
    deadline = time.monotonic() + timeout
    while waiting:
        for s in sorted(waiting):
            reply = await client.get(f"/v1/schools/{city.school_id(s)}/roster", headers=headers(tokens, city.school_id(s)))
            if reply.status_code == 200 and len(reply.json()) == len(city.members(s)):
                waiting.discard(s)
            else:
                break  # schools fill in roughly produced order; poll the first incomplete one again later
        if waiting:
            if time.monotonic() > deadline:
                raise SystemExit(f"roster incomplete after {timeout:.0f}s ({len(waiting)} schools waiting)")
            await asyncio.sleep(1.0)


def headers(tokens: Issuer, school_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(f'sys-{school_id}', 'school_system', school_id=school_id)}"}


def batches(city: City, kind: str, size: int, at: datetime) -> Iterator[tuple[str, list[dict]]]:
    """Round robin over the schools, as a city's gates post at the same time (school by school would
    serialise every request on one school's ingest lock)."""
    per_school = []
    for s in range(city.schools):
        members = list(city.members(s))
        per_school.append([(city.school_id(s), members[start:start + size]) for start in range(0, len(members), size)])
    for round_ in range(max(map(len, per_school), default=0)):
        for chunks in per_school:
            if round_ >= len(chunks):
                continue
            school, chunk = chunks[round_]
            records = []
            for i in chunk:
                student = city.student_id(i)
                record = {"record_id": f"{kind}-{student}", "kind": kind, "student_id": student, "at": at.isoformat(),
                          "staff_id": f"stf-{school}"}
                if kind == "check_out":
                    record["collected_by_id"] = f"gdn-{student}"
                records.append(record)
            yield school, records


async def post_all(client: httpx.AsyncClient, city: City, tokens: Issuer, phase: Phase, kind: str, size: int,
                   concurrency: int, at: datetime) -> None:
    queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 2)
    auth = {city.school_id(s): headers(tokens, city.school_id(s)) for s in range(city.schools)}

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            school, records = item
            body = json.dumps({"records": records}).encode()
            started = time.perf_counter()
            for attempt in range(4):
                try:
                    reply = await client.post(f"/v1/schools/{school}/records", content=body,
                                              headers={**auth[school], "content-type": "application/json"})
                    break
                except httpx.TransportError:
                    # A connection the server was closing as we sent; a resend is harmless (R15).
                    if attempt == 3:
                        raise
                    phase.retries += 1
            phase.latencies.append(time.perf_counter() - started)
            reply.raise_for_status()
            result = reply.json()
            for status in phase.statuses:
                phase.statuses[status] += result[status]
            for r in result["results"]:
                if r.get("reason_code"):
                    phase.reasons[r["reason_code"]] = phase.reasons.get(r["reason_code"], 0) + 1
            phase.requests += 1

    started = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    for item in batches(city, kind, size, at):
        await queue.put(item)
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    phase.seconds = time.perf_counter() - started


async def grouping(client: httpx.AsyncClient) -> dict[str, float]:
    """The service's group-commit counters, if it has them (requests and ingest transactions)."""
    found = {}
    for line in (await client.get("/metrics")).text.splitlines():
        for name in ("beilei_attendance_ingest_groups", "beilei_attendance_ingest_grouped_requests"):
            if line.startswith(name + " "):
                found[name] = float(line.rsplit(" ", 1)[1])
    return found


async def published(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('beilei_events_published_total{topic="attendance.events"}'))


def report(phase: Phase, pid: int | None, cpu_before: float | None) -> None:
    accepted = phase.statuses["accepted"]
    print(f"\n{phase.name}: {phase.requests} requests, {accepted} accepted, {phase.statuses['duplicate']} duplicate, "
          f"{phase.statuses['rejected']} rejected in {phase.seconds:.1f} s")
    if phase.reasons:
        print(f"  reasons: {phase.reasons}")
    if phase.retries:
        print(f"  resent after a connection error: {phase.retries}")
    print(f"  accepted records/s : {accepted / phase.seconds:,.0f}")
    print(f"  request latency    : p50 {percentile(phase.latencies, 50) * 1000:.0f} ms, "
          f"p99 {percentile(phase.latencies, 99) * 1000:.0f} ms, max {max(phase.latencies) * 1000:.0f} ms")
    if pid is not None and cpu_before is not None:
        cpu = usage(pid).cpu_s - cpu_before
        print(f"  service CPU        : {cpu:.1f} s ({cpu / max(accepted, 1) * 1000 * 1000:.0f} ms per 1,000 records)")


async def run(args: argparse.Namespace, url: str, kafka: str, pid: int | None) -> None:
    city = City(uuid.uuid4().hex[:6], args.students, args.schools or max(1, min(CITY_SCHOOLS, round(args.students / 1100))))
    tokens = dev_issuer()
    print(f"city: {city.students:,} students at {city.schools} schools; batches of {args.batch}, {args.concurrency} in flight"
          f" (check-ins set up in batches of {args.setup_batch or args.batch})")
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await load_roster(kafka, city)
        await wait_for_roster(client, city, tokens, timeout=max(300.0, city.students / 200))
        print(f"setup: roster of {city.students:,} loaded through enrollment.events in {time.perf_counter() - started:.0f} s")
        at = base_time()
        check_ins = Phase("check-ins (setup)")
        await post_all(client, city, tokens, check_ins, "check_in", args.setup_batch or args.batch, args.concurrency, at)
        report(check_ins, None, None)

        before = await published(client)
        groups_before = await grouping(client)
        cpu_before = usage(pid).cpu_s if pid else None
        check_outs = Phase("check-outs (measured)")
        await post_all(client, city, tokens, check_outs, "check_out", args.batch, args.concurrency, at + timedelta(minutes=1))
        report(check_outs, pid, cpu_before)
        groups_after = await grouping(client)
        if groups_after:
            groups = groups_after["beilei_attendance_ingest_groups"] - groups_before["beilei_attendance_ingest_groups"]
            grouped = (groups_after["beilei_attendance_ingest_grouped_requests"]
                       - groups_before["beilei_attendance_ingest_grouped_requests"])
            print(f"  group commit       : {grouped:,.0f} requests in {groups:,.0f} transactions "
                  f"({grouped / max(groups, 1):.1f} per transaction)")
        drained_at = time.perf_counter()
        target = before + check_outs.statuses["accepted"]
        while await published(client) < target and time.perf_counter() - drained_at < 600:
            await asyncio.sleep(0.2)
        print(f"  events on Kafka    : all {check_outs.statuses['accepted']:,} StudentCheckedOut published "
              f"{time.perf_counter() - drained_at:.1f} s after the last response")
    if pid is not None:
        print(f"  peak memory        : attendance service {usage(pid).peak_rss_mb:.0f} MB (VmHWM)")
    print(f"  peak memory        : this client {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attendance_checkouts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=20_000, help=f"students checked out (at most {CITY_STUDENTS:,})")
    parser.add_argument("--schools", type=int, default=0, help="schools (default: about 1,100 students each, at most 508)")
    parser.add_argument("--batch", type=int, default=1000, help="records per HTTP request")
    parser.add_argument("--setup-batch", type=int, default=500,
                        help="records per request for the unmeasured check-ins (0: the same as --batch)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--url", help="a running attendance service (default: start one)")
    parser.add_argument("--kafka", help="its Kafka bootstrap address (needed with --url)")
    parser.add_argument("--service-pid", type=int, help="its process id, to report its CPU and peak memory (with --url)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also when redirected
    if not 1 <= args.students <= CITY_STUDENTS:
        parser.error(f"--students must be between 1 and {CITY_STUDENTS:,}")
    if args.url:
        if not args.kafka:
            parser.error("--kafka is needed with --url (the roster is loaded through enrollment.events)")
        asyncio.run(run(args, args.url, args.kafka, args.service_pid))
        return

    from local import infra
    from local.platform import ServiceProcess

    # SIGTERM ends the run like Ctrl-C, so the broker and the service it started are stopped too (they were
    # left running, a broker and a service per killed run).
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    state = Path(tempfile.mkdtemp(prefix="bench-attendance-"))
    kafka = infra.kafka(state_dir=state / "kafka")
    database = infra.create_database(infra.postgres().address, f"beilei_bench_{uuid.uuid4().hex[:8]}")
    service = ServiceProcess("attendance", {"KAFKA_BOOTSTRAP_SERVERS": kafka.address, "DATABASE_URL": database,
                                            "LOG_LEVEL": "WARNING",
                                            "CONSUMER_MAX_RECORDS": "2000"}, log_path=state / "attendance.log")
    print(f"started {kafka.description}; service log {service.log_path}")
    service.start()
    try:
        service.wait_ready(180)
        asyncio.run(run(args, service.url, kafka.address, service.proc.pid))
    finally:
        service.stop()
        kafka.stop()


if __name__ == "__main__":
    main()
