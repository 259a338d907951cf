"""Pushes N check-outs through the notification service (a real process on real Kafka and PostgreSQL)
to an imitation of Aliyun SMS, and prints messages/s and p50/p99 from event time to hand-over to the
channel, with the provider's per-second limit applied by the service and without it. Before the burst it
seeds the city as PickupSurge does (one GuardianRegistered and one EnrollmentFiled per student) and
prints how fast those are consumed; CPU seconds of the service per 1,000 are given for both phases.
Messages of one template go up to 100 to a SendBatchSms call (--sms-batch 1: one SendSms each); every
number is checked to have had the check-out's message exactly once.

    .venv/bin/python -m bench.notification_burst --n 2000 --rate 200
    .venv/bin/python -m bench.notification_burst --n 20000 --offered 1000 --mode on --rate 2000
    .venv/bin/python -m bench.notification_burst --setup 20000     # the city setup alone
    .venv/bin/python -m bench.notification_burst --broadcast 20000 --n 500   # a city-wide emergency notice
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from bench.procstats import usage
from local import infra
from local.platform import ServiceProcess
from services.notification.domain.templates import template
from services.notification.settings import Settings
from shared.contracts.attendance import StudentCheckedOut
from shared.contracts.enrollment import EnrollmentFiled, GuardianRegistered
from shared.contracts.envelope import new_envelope
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, ENROLLMENT_EVENTS
from shared.privacy import Sealer, mask_phone
from shared.settings import CommonSettings
from tests.fakes.aliyun_sms import AliyunBatchSmsFake
from tests.fakes.server import ThreadServer
from tests.integration.kafkatools import caught_up
from tests.tokens import bearer


def phone_of(i: int) -> str:
    return f"13{(i % 7) + 3}{i:08d}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def burst(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Produce as a school system's burst would arrive: pipelined, not one acknowledged send at a time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def check_outs(bootstrap: str, events: list[StudentCheckedOut], offered: float | None) -> dict[str, datetime]:
    """Produce the check-outs, all at once or `offered` a second in ticks of 20 ms, each stamped with its
    event time as it is produced. Returns the event time by guardian's number: a message is known at the
    provider by its number (one guardian and one number per check-out), since a batch call carries one
    OutId for all of its numbers."""
    stamped: dict[str, datetime] = {}

    def records(start: int, stop: int) -> list[tuple[bytes, bytes]]:
        out = []
        for i in range(start, stop):
            envelope = new_envelope(events[i], producer="attendance")
            stamped[phone_of(i)] = envelope.occurred_at
            out.append((envelope.key.encode(), encode(envelope)))
        return out

    if offered is None:
        await burst(bootstrap, ATTENDANCE_EVENTS, records(0, len(events)))
        return stamped
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures, sent, t0 = [], 0, time.monotonic()
        while sent < len(events):
            due = min(len(events), int((time.monotonic() - t0) * offered) + 1)
            futures += [await producer.send(ATTENDANCE_EVENTS, value=v, key=k) for k, v in records(sent, due)]
            sent = due
            await asyncio.sleep(0.02)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return stamped


async def _wait(probe, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def city(n: int, tag: str) -> list:
    """One GuardianRegistered and one EnrollmentFiled per student, interleaved as a term start publishes
    them (PickupSurge's seed_events does the same). The filing is keyed by student, so it may be read before
    the guardian's contact: its message then waits for it."""
    sealer = Sealer(CommonSettings().contact_sealing_key)
    seed = []
    for i in range(n):
        phone = phone_of(i)
        guardian, student = f"gdn-{tag}-{i}", f"stu-{tag}-{i}"
        seed.append(new_envelope(GuardianRegistered(
            guardian_id=guardian, school_id="sch-bench", student_ids=[student], name="家长",
            phone_masked=mask_phone(phone), phone_sealed=sealer.seal(phone), consent=True, registered_by="bench"),
            producer="enrollment"))
        seed.append(new_envelope(EnrollmentFiled(
            enrollment_id=f"enr-{tag}-{i}", application_id=f"app-{tag}-{i}", programme_id="prg-bench",
            school_id="sch-bench", district_id="dst-bench", student_id=student, student_name="小明",
            guardian_id=guardian, hardship=False, extended_care=False, filed_by="bench",
            filed_by_role="district_officer", filed_at=datetime.now(UTC)), producer="enrollment"))
    return seed


async def seed_city(n: int, tag: str, kafka: str, pid: int, fake: AliyunBatchSmsFake, timeout: float) -> dict:
    """Put the city's enrollments on enrollment.events and time the service consuming them, then sending
    their enrollment messages; CPU seconds are the service process's, per 1,000 events."""
    records = [(e.key.encode(), encode(e)) for e in city(n, tag)]
    before = len(fake.delivered())
    cpu0, t0 = usage(pid).cpu_s, time.monotonic()
    await burst(kafka, ENROLLMENT_EVENTS, records)
    await _wait(lambda: caught_up(kafka, "notification", ENROLLMENT_EVENTS), timeout, "the city to be read")
    setup_s, setup_cpu = time.monotonic() - t0, usage(pid).cpu_s - cpu0
    await _wait(lambda: len(fake.delivered()) - before >= n, timeout, f"{n} enrollment messages at the provider")
    seeded_s, seeded_cpu = time.monotonic() - t0, usage(pid).cpu_s - cpu0
    return {"setup_events_per_second": 2 * n / setup_s, "setup_cpu_per_1000": setup_cpu / (2 * n) * 1000,
            "setup_seconds": setup_s, "seeded_seconds": seeded_s, "seeded_cpu_per_1000": seeded_cpu / (2 * n) * 1000}


async def run_mode(label: str, n: int, run: str, kafka: str, svc: ServiceProcess, fake: AliyunBatchSmsFake,
                   env: dict[str, str], timeout: float, offered: float | None) -> dict:
    svc.env.update(env)
    svc.start()
    await asyncio.to_thread(svc.wait_ready, 180)
    try:
        pid = svc.proc.pid
        setup = await seed_city(n, f"{run}-{label}", kafka, pid, fake, timeout)

        before = len(fake.delivered())
        now = datetime.now(UTC)
        checkouts = []
        for i in range(n):
            event = StudentCheckedOut(student_id=f"stu-{run}-{label}-{i}", school_id="sch-bench", programme_id="prg-bench",
                                      session_date=date.today(), checked_out_at=now, handed_over_by="stf-1",
                                      handed_over_by_role="school_staff", collected_by_id=f"gdn-{run}-{label}-{i}",
                                      collected_by_name="家长", collected_by_relation="guardian", source="school_system")
            checkouts.append(event)
        before = len(fake.delivered())
        cpu0 = usage(pid).cpu_s
        stamped = await check_outs(kafka, checkouts, offered)
        consumed: list[float] = []

        async def read() -> None:  # when the consumer had recorded every check-out's message
            await _wait(lambda: caught_up(kafka, "notification", ATTENDANCE_EVENTS), timeout, "the check-outs read")
            consumed.append((datetime.now(UTC) - min(stamped.values())).total_seconds())

        reading = asyncio.create_task(read())
        await _wait(lambda: len(fake.delivered()) - before >= n, timeout, f"{n} messages at the provider")
        burst_cpu = usage(pid).cpu_s - cpu0
        await reading
        accepted = [a for a in fake.delivered()[before:] if a["template"] == "SMS_9001" and a["phone"] in stamped]
        latencies = [(a["at"] - stamped[a["phone"]]).total_seconds() for a in accepted]
        duplicates = len(accepted) - len({a["phone"] for a in accepted})
        first = min(stamped.values())
        last = max(a["at"] for a in accepted)
        span = (last - first).total_seconds()
        return {"mode": label, "messages": len(accepted), "duplicates": duplicates, "consumed": consumed[0],
                "seconds": span, "per_second": len(accepted) / span,
                "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99), "max": max(latencies),
                "mean": statistics.fmean(latencies), "cpu_per_1000": burst_cpu / len(accepted) * 1000,
                **setup}
    finally:
        await asyncio.to_thread(svc.stop)


async def setup_only(n: int, run: str, kafka: str, svc: ServiceProcess, fake: AliyunBatchSmsFake,
                     timeout: float) -> None:
    """City setup alone (issue 13's target: 557,000 enrollments consumed by every service in 10 minutes)."""
    svc.env.update({"RATE_LIMIT_ENABLED": "false"})
    svc.start()
    await asyncio.to_thread(svc.wait_ready, 180)
    try:
        r = await seed_city(n, f"{run}-setup", kafka, svc.proc.pid, fake, timeout)
    finally:
        await asyncio.to_thread(svc.stop)
    city_minutes = 2 * 557_000 / r["setup_events_per_second"] / 60
    print(f"\nnotification city setup: {n} students, {2 * n} enrollment events (GuardianRegistered + EnrollmentFiled"
          f" per student, interleaved), CONSUMER_MAX_RECORDS={Settings().consumer_max_records}")
    print(f"{'events':>8}{'read s':>9}{'events/s':>10}{'cpu s/1k':>10}{'+sent s':>9}{'cpu s/1k':>10}{'city min':>10}")
    print(f"{2 * n:>8}{r['setup_seconds']:>9.2f}{r['setup_events_per_second']:>10.1f}{r['setup_cpu_per_1000']:>10.2f}"
          f"{r['seeded_seconds']:>9.2f}{r['seeded_cpu_per_1000']:>10.2f}{city_minutes:>10.1f}")
    print("read: seconds from the first event produced until the consumer had committed them all (at most 0.2 s"
          " late), events/s and cpu (the service's CPU seconds per 1,000 events) over it; +sent: until their"
          " enrollment messages were also at the provider; city min: 1,114,000 events at the read rate")


async def broadcast_city(n: int, pickups: int, run: str, kafka: str, svc: ServiceProcess, fake: AliyunBatchSmsFake,
                         env: dict[str, str], timeout: float) -> None:
    """Issue 16: a city-wide emergency notice to N families (557,000 in the city), timed from the POST until
    every family's message is at the provider; `pickups` check-outs produced right after it show whether the
    notice's fan-out holds back the evening's pickup messages."""
    svc.env.update(env)
    svc.start()
    await asyncio.to_thread(svc.wait_ready, 180)
    try:
        tag = f"{run}-broadcast"
        await seed_city(n, tag, kafka, svc.proc.pid, fake, timeout)
        phones = {phone_of(i) for i in range(n)}
        before, cpu0 = len(fake.delivered()), usage(svc.proc.pid).cpu_s
        notice = {"scope": "city", "title": "暴雨停课", "body": "受暴雨影响，今日课后服务暂停，请家长尽快接孩子。",
                  "reason": "bench: city-wide emergency"}
        started = datetime.now(UTC)
        async with httpx.AsyncClient(base_url=svc.url, timeout=30) as client:
            reply = await client.post("/v1/broadcasts", json=notice, headers=bearer("city-bench", "city"))
            assert reply.status_code == 201, reply.text
        now = datetime.now(UTC)
        stamped = await check_outs(kafka, [
            StudentCheckedOut(student_id=f"stu-{tag}-{i}", school_id="sch-bench", programme_id="prg-bench",
                              session_date=date.today(), checked_out_at=now, handed_over_by="stf-1",
                              handed_over_by_role="school_staff", collected_by_id=f"gdn-{tag}-{i}",
                              collected_by_name="家长", collected_by_relation="guardian", source="school_system")
            for i in range(pickups)], None) if pickups else {}

        def notices() -> list[dict]:
            return [a for a in fake.delivered()[before:] if a["template"] == "SMS_9003" and a["phone"] in phones]

        await _wait(lambda: len(notices()) >= n, timeout, f"{n} emergency notices at the provider")
        if pickups:
            await _wait(lambda: sum(a["template"] == "SMS_9001" for a in fake.delivered()[before:]) >= pickups,
                        timeout, f"{pickups} pickup messages at the provider")
        cpu = usage(svc.proc.pid).cpu_s - cpu0
    finally:
        await asyncio.to_thread(svc.stop)
    got = notices()
    span = (max(a["at"] for a in got) - started).total_seconds()
    late = [(a["at"] - stamped[a["phone"]]).total_seconds() for a in fake.delivered()[before:]
            if a["template"] == "SMS_9001" and a["phone"] in stamped]
    print(f"\nemergency broadcast to the city: {n} families, SMS via an Aliyun imitation; batch {svc.env['SEND_BATCH_SIZE']}")
    print(f"{'families':>9}{'twice':>6}{'seconds':>9}{'msg/s':>9}{'cpu s/1k':>10}{'557k min':>10}"
          f"{'pickups':>9}{'p50 s':>8}{'p99 s':>8}")
    print(f"{len(got):>9}{len(got) - len({a['phone'] for a in got}):>6}{span:>9.2f}{len(got) / span:>9.1f}"
          f"{cpu / max(len(got), 1) * 1000:>10.2f}{557_000 / (len(got) / span) / 60:>10.1f}{len(late):>9}"
          f"{percentile(late, 0.5) if late else 0:>8.2f}{percentile(late, 0.99) if late else 0:>8.2f}")
    print("seconds: from the POST until the last family's notice was accepted by the provider; 557k min: the city at"
          " that rate; pickups: check-outs produced right after the POST, with their event-to-provider latency"
          " while the notice fans out (a chunk of notices is half a sender round, queued only when no urgent"
          " message is due, so pickups are not held behind 557,000 notices)")


async def main(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:6]
    state = Path(tempfile.mkdtemp(prefix="bench-notification-"))
    # The infra helpers are blocking (they run their own event loops): keep them off this one.
    kafka = await asyncio.to_thread(infra.kafka, state_dir=state / "kafka")
    results = []
    svc: ServiceProcess | None = None
    try:
        pg = await asyncio.to_thread(infra.postgres)
        database = await asyncio.to_thread(infra.create_database, pg.address, f"bench_notification_{run}")
        fields = list(template("pickup").fields)
        fake = AliyunBatchSmsFake(templates={"SMS_9001": fields, "SMS_9002": list(template("enrollment_filed").fields),
                                             "SMS_9003": list(template("emergency_broadcast").fields)},
                             latency=args.provider_latency_ms / 1000,
                             daily_limit_per_number=1000)
        print(f"[infra] {kafka.description}; {pg.description}")
        with ThreadServer(fake.app()) as url:
            base = {
                "KAFKA_BOOTSTRAP_SERVERS": kafka.address, "DATABASE_URL": database, "LOG_LEVEL": "WARNING",
                "SMS_PROVIDER": "aliyun", "ALIYUN_ENDPOINT": url, "ALIYUN_ACCESS_KEY_ID": fake.access_key_id,
                "ALIYUN_ACCESS_KEY_SECRET": fake.access_key_secret, "ALIYUN_SIGN_NAME": fake.sign_name,
                "SMS_TEMPLATE_CODES": json.dumps({"pickup": "SMS_9001", "enrollment_filed": "SMS_9002",
                                                  "emergency_broadcast": "SMS_9003"}), "PUSH_PROVIDER": "none",
                "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00", "SEND_CONCURRENCY": str(args.concurrency),
                "SEND_BATCH_SIZE": str(args.batch), "SMS_BATCH_SIZE": str(args.sms_batch),
            }
            svc = ServiceProcess("notification", dict(base), log_path=state / "notification.log")
            modes = {"on": {"RATE_LIMIT_ENABLED": "true", "SMS_RATE_PER_SECOND": str(args.rate)},
                     "off": {"RATE_LIMIT_ENABLED": "false"}}
            if args.broadcast:
                await broadcast_city(args.broadcast, args.n, run, kafka.address, svc, fake, modes["off"], args.timeout)
                return
            if args.setup:
                await setup_only(args.setup, run, kafka.address, svc, fake, args.timeout)
                return
            for label in (["on", "off"] if args.mode == "both" else [args.mode]):
                results.append(await run_mode(label, args.n, run, kafka.address, svc, fake,
                                              modes[label], args.timeout, args.offered))
    finally:
        if svc is not None:
            await asyncio.to_thread(svc.stop)
        await asyncio.to_thread(kafka.stop)
    how = f"offered {args.offered:g}/s" if args.offered else "in one burst"
    print(f"\nnotification burst: N={args.n} check-outs {how}, one guardian each, SMS via an Aliyun imitation answering in "
          f"{args.provider_latency_ms} ms; concurrency {args.concurrency}, batch {args.batch}, "
          f"up to {args.sms_batch} per provider call ({len(fake.batch_calls)} SendBatchSms calls,"
          f" {fake.requests.get('SendSms', 0)} SendSms)")
    print(f"{'rate limit':<22}{'messages':>9}{'twice':>6}{'read s':>8}{'seconds':>9}{'msg/s':>9}{'p50 s':>8}"
          f"{'p99 s':>8}{'max s':>8}{'cpu s/1k':>10}")
    for r in results:
        label = f"on ({args.rate:g}/s)" if r["mode"] == "on" else "off"
        print(f"{label:<22}{r['messages']:>9}{r['duplicates']:>6}{r['consumed']:>8.2f}{r['seconds']:>9.2f}{r['per_second']:>9.1f}{r['p50']:>8.2f}"
              f"{r['p99']:>8.2f}{r['max']:>8.2f}{r['cpu_per_1000']:>10.2f}")
    print("twice: numbers that got the check-out's message more than once (exactly once: 0 and messages = N);"
          " read: seconds from the first check-out until the consumer had committed them all (at most 0.2 s late);"
          " latency: event time (envelope occurred_at) to the provider accepting the SendSms/SendBatchSms call;"
          " cpu: the service process's CPU seconds per 1,000 messages during the burst")
    print(f"\nsetup: {2 * args.n} enrollment events (GuardianRegistered + EnrollmentFiled per student)")
    print(f"{'rate limit':<22}{'events/s':>9}{'cpu s/1k':>10}{'+sent s':>9}{'cpu s/1k':>10}")
    for r in results:
        label = f"on ({args.rate:g}/s)" if r["mode"] == "on" else "off"
        print(f"{label:<22}{r['setup_events_per_second']:>9.1f}{r['setup_cpu_per_1000']:>10.2f}"
              f"{r['seeded_seconds']:>9.2f}{r['seeded_cpu_per_1000']:>10.2f}")
    print("events/s and cpu: until the consumer has committed them all; +sent: until their enrollment messages"
          " are also at the provider (seconds, and CPU per 1,000 events)")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notification_burst", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="check-outs per run (default 2000)")
    parser.add_argument("--rate", type=float, default=200.0,
                        help="SMS calls per second when the limit is on (default 200; Aliyun documents 5000 per "
                             "account, which one process does not reach)")
    parser.add_argument("--mode", choices=["both", "on", "off"], default="both")
    parser.add_argument("--provider-latency-ms", type=int, default=20, help="imitated provider answer time")
    parser.add_argument("--concurrency", type=int, default=64, help="provider calls in flight (SEND_CONCURRENCY)")
    parser.add_argument("--batch", type=int, default=1000, help="messages per sender round (SEND_BATCH_SIZE)")
    parser.add_argument("--sms-batch", type=int, default=100,
                        help="messages of one template per Aliyun call (SMS_BATCH_SIZE; 1 = SendSms one at a time)")
    parser.add_argument("--offered", type=float, default=None,
                        help="check-outs per second, produced evenly (default: all N at once, as one burst)")
    parser.add_argument("--setup", type=int, default=0, metavar="N",
                        help="only the city setup: N students' GuardianRegistered + EnrollmentFiled, timed as read")
    parser.add_argument("--broadcast", type=int, default=0, metavar="N",
                        help="a city-wide emergency notice to N seeded families, with --n check-outs during it")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds per wait")
    # SIGTERM ends the run like Ctrl-C, so the broker and the service it started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
