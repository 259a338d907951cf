"""The fault drill: the five services on a Kafka broker and a PostgreSQL cluster of the drill's own, a school
day streamed through them while services, broker and database are killed on a schedule, then every effect
counted against the stream's ground truth (R11, R15, R22, R24). It touches no broker, cluster or process
but those it started.

    .venv/bin/python -m tests.faults.drill                       # the full drill (`make faults`)
    .venv/bin/python -m tests.faults.drill --students 28000 --rate 60
    .venv/bin/python -m tests.faults.drill --students 600 --faults sigkill:attendance,kafka-kill

Faults (--faults, comma-separated, run in order while the day streams):
  migrate:S       S killed while its start-up migrations run (before the day; S restarted)
  sigkill:S       S's first replica SIGKILLed and started again, as a crash and a pod restart
  sigterm:S       S's first replica stopped with SIGTERM (drains) and started again, as a rollout
  kafka-kill      the broker kill -9'd and started again on its kept storage
  pg-restart      PostgreSQL stopped immediately (crash recovery) and started again
  pg-outage:N     PostgreSQL stopped immediately and left down N seconds
  mid-send        notification SIGKILLed while a provider has accepted SMS it has not answered yet;
                  recovered once the restarted sender has looked those messages up (the in-doubt path)
  replica:S       the replica of S holding the outbox relay's lock SIGKILLed: the group rebalances to the
                  other replica and its standby relay takes over (recovered then); the killed one restarts

Seconds run from the end of the fault (the process started again, the server back) until every process
answers ready and the fault's own condition holds. Lost and duplicated count the effects of the records
and payments first posted from that fault's start until the next fault's: each valid record one attendance
event, each guardian one SMS per message kind (enrollment, check-in, pickup, payment) at the imitated
provider, each payment one ledger entry."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.pickup_surge import Surge, evening, produce, seed_events, the_day
from local.infra import REPO, SCRIPTS
from local.lag import lag
from local.platform import SERVICES, Platform, ServiceProcess
from services.notification.domain.templates import TEMPLATES
from shared.contracts.topics import ATTENDANCE_EVENTS, CONSUMES, ENROLLMENT_EVENTS
from tests.fakes.aliyun_sms import AliyunBatchSmsFake
from tests.fakes.server import ThreadServer
from tests.integration.kafkatools import read_topic
from tests.tokens import mint

FULL = ("migrate:billing,migrate:audit,sigkill:attendance,sigkill:notification,mid-send,sigkill:billing,"
        "sigkill:audit,kafka-kill,sigkill:attendance,replica:billing,sigkill:notification,pg-restart,"
        "sigterm:enrollment,sigterm:attendance,sigterm:billing,sigterm:notification,sigterm:audit,"
        "pg-outage:20,sigkill:attendance,sigkill:billing,sigkill:audit,kafka-kill,sigkill:notification,"
        "replica:attendance,mid-send,pg-restart,pg-outage:90")
# Every guardian is told once of each of these, whatever was killed meanwhile (R22).
KINDS = ("enrollment_filed", "check_in", "pickup", "payment_received")
FEE_FEN = 1500
TICK_S = 0.5


@dataclass
class Config:
    students: int = 10_000
    schools: int = 16
    rate: float = 60.0  # attendance records per second offered while the platform answers
    faults: tuple[str, ...] = tuple(FULL.split(","))
    replicas: dict[str, int] = field(default_factory=lambda: {"attendance": 2, "billing": 2})
    state: Path = REPO / ".local" / "faults"
    gap: float = 3.0  # seconds of ordinary running between one fault's recovery and the next fault
    recover_timeout: float = 240.0
    settle_timeout: float = 600.0
    say: object = print


@dataclass
class Fault:
    name: str
    injected_at: float = 0.0  # drill clock (seconds since the drill began)
    recovered: bool = False
    seconds: float | None = None
    note: str = ""
    lost: int = 0
    duplicated: int = 0


@dataclass
class Outcome:
    faults: list[Fault]
    lost: int
    duplicated: int
    checked: Counter
    stream_seconds: float
    posts: int
    retries: int
    refused: dict[str, int] = field(default_factory=dict)  # reasons the platform gave for refusing a record
    missed: Counter = field(default_factory=Counter)  # (effect, "lost" | "duplicated") -> how many

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and all(f.recovered for f in self.faults)


class DrillFailed(RuntimeError):
    pass


class Infra:
    """The drill's own broker and cluster, through the project's scripts with their own state folder."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {**os.environ, "BEILEI_STATE": str(state)}

    def script(self, name: str, *args: str) -> str:
        done = subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True, env=self.env, timeout=600)
        if done.returncode != 0:
            raise DrillFailed(f"{name} {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
        return done.stdout.strip()

    def start(self) -> tuple[str, str]:
        self.script("postgres.sh", "start")
        self.script("kafka.sh", "start")
        return self.script("kafka.sh", "address"), self.script("postgres.sh", "url")

    def kill_kafka(self) -> None:
        """kill -9, then wait until it is gone: started again while still exiting, kafka.sh would find the
        broker running and leave it to die."""
        pid = int((self.state / "kafka" / "pid").read_text())
        os.kill(pid, signal.SIGKILL)
        stat = Path(f"/proc/{pid}/stat")
        deadline = time.monotonic() + 30
        while stat.exists() and time.monotonic() < deadline:
            try:
                if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    return
            except (OSError, IndexError):
                return
            time.sleep(0.05)

    def discard(self) -> None:
        for name, verb in (("kafka.sh", "reset"), ("postgres.sh", "destroy")):
            subprocess.run([str(SCRIPTS / name), verb], capture_output=True, env=self.env, timeout=120)


class Provider(AliyunBatchSmsFake):
    """Aliyun with SendBatchSms whose answers come `answer_delay` after a call was accepted, counting the
    calls accepted and not yet answered: a sender killed while `answering` is positive leaves SMS in doubt."""

    answer_delay: float = 0.3
    _indexed: int = 0
    _by_number: dict | None = None

    async def _send(self, p: dict[str, str]):
        return await self._answer_late(await super()._send(p))

    async def _send_batch(self, p: dict[str, str]):
        return await self._answer_late(await super()._send_batch(p))

    def _query(self, p: dict[str, str]):
        """QuerySendDetails as the imitation answers it, over this number's messages only: the imitation scans
        every message it accepted, which at a drill's tens of thousands starves its thread and leaves the
        sender without answers (then in doubt, it looks up more)."""
        with self._lock:
            self._by_number = self._by_number or {}
            for a in self.accepted[self._indexed:]:
                self._by_number.setdefault(a["phone"], []).append(a)
            self._indexed = len(self.accepted)
            mine = list(self._by_number.get(p.get("PhoneNumber", "")[-11:], ()))
        all_, self.accepted = self.accepted, mine
        try:
            return super()._query(p)
        finally:
            self.accepted = all_

    async def _answer_late(self, reply):
        if b'"Code":"OK"' in reply.body:
            with self._lock:
                self.answering += 1
            try:
                await asyncio.sleep(self.answer_delay)
            finally:
                with self._lock:
                    self.answering -= 1
        return reply


class Drill:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.say = cfg.say
        self.began = time.monotonic()
        self.city = Surge(run=f"f{os.getpid() % 100000:05d}", students=cfg.students, schools=cfg.schools)
        self.day = the_day()
        self.at = evening(self.day)
        self.auth = {self.city.school(k): {"Authorization": "Bearer " + mint(
            f"sys-{self.city.school(k)}", "school_system", school_id=self.city.school(k), ttl_seconds=12 * 3600)}
            for k in range(cfg.schools)}
        self.posted: dict[tuple[str, int], float] = {}  # (kind, student) -> drill clock of its first POST
        self.refused: dict[tuple[str, int], str] = {}
        self.posts = self.retries = self.lookups_before = 0
        self.waiting_on: list[str] = []
        self.missed: Counter = Counter()
        self.faults_left, self.fault_spans = len([f for f in cfg.faults if not f.startswith("migrate:")]), [40.0]
        self.stream_seconds = 0.0
        self.infra = Infra(cfg.state)
        self.platform: Platform | None = None
        self.provider = Provider(templates={f"SMS_{n}": list(t.fields) for n, t in TEMPLATES.items()})

    def now(self) -> float:
        return time.monotonic() - self.began

    # -- the platform ---------------------------------------------------------------------------------
    def env(self, provider_url: str) -> dict[str, str]:
        p = self.provider
        return {"LOG_LEVEL": "INFO", "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00",
                "SMS_PROVIDER": "aliyun", "ALIYUN_ENDPOINT": provider_url, "ALIYUN_ACCESS_KEY_ID": p.access_key_id,
                "ALIYUN_ACCESS_KEY_SECRET": p.access_key_secret, "ALIYUN_SIGN_NAME": p.sign_name,
                "SMS_TEMPLATE_CODES": json.dumps({n: f"SMS_{n}" for n in TEMPLATES}), "PUSH_PROVIDER": "none"}

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url, timeout=5)

    async def query(self, sql: str, *args: object) -> list:
        conn = await self.db()
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def processes(self) -> list[ServiceProcess]:
        return self.platform.processes() if self.platform else []

    def all_ready(self) -> bool:
        """Every process answers ready; those that do not are kept, to name the slowest in the table."""
        waiting = [svc.log_path.stem for svc in self.processes() if not (svc.alive() and svc.ready())]
        if waiting:
            self.waiting_on = waiting
        return not waiting

    async def relay_holder(self, service: str) -> ServiceProcess | None:
        """The replica whose relay holds the schema's lock: the lock's backend, its client port, and the
        process that owns that port."""
        rows = await self.query(
            "select a.client_port from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = "
            "'advisory' and l.granted and l.objsubid = 1 and ((l.classid::bigint << 32) | l.objid::bigint) = "
            "hashtext($1)::bigint", f"relay:{service}")
        if not rows:
            return None
        out = subprocess.run(["ss", "-Htnp", f"( sport = :{rows[0][0]} )"], capture_output=True, text=True).stdout
        pids = {int(p) for p in re.findall(r"pid=(\d+)", out)}
        return next((s for s in self.platform.replicas[service] if s.alive() and s.proc.pid in pids), None)

    # -- faults ---------------------------------------------------------------------------------------
    async def kill_in_migrations(self, fault: Fault, service: str) -> float:
        svc = self.platform[service]
        for attempt in range(5):
            await self.query(f'drop schema if exists "{service}" cascade')
            svc.start()
            conn = await self.db()
            try:
                landed = False
                polls = 0
                while svc.alive() and (polls % 100 or not svc.ready()):
                    polls += 1
                    if await conn.fetchval(
                            "select exists(select 1 from pg_locks a join pg_locks r on r.pid = a.pid where "
                            "a.locktype = 'advisory' and a.granted and a.objsubid = 1 and ((a.classid::bigint << 32)"
                            " | a.objid::bigint) = hashtext($1)::bigint and r.locktype = 'relation' and "
                            "r.mode = 'AccessExclusiveLock' and r.granted)", service):
                        svc.kill()
                        landed = True
                        break
                    await asyncio.sleep(0.005)
            finally:
                await conn.close()
            if landed:
                fault.injected_at = self.now()
                left = await self.query("select count(*) from pg_tables where schemaname = $1", service)
                fault.note = f"killed mid-migration (attempt {attempt + 1}); {left[0][0]} tables left behind"
                svc.start()
                return time.monotonic()
            svc.kill()  # the migrations finished before the kill landed: try again on an empty schema
        raise DrillFailed(f"could not land a kill inside {service}'s migrations in 5 attempts")

    async def inject(self, fault: Fault) -> tuple[float, ServiceProcess | None]:
        """Does the fault; returns when it ended (monotonic) and the process it killed, if any."""
        kind, _, arg = fault.name.partition(":")
        fault.injected_at = self.now()
        if kind in ("sigkill", "sigterm"):
            svc = self.platform[arg]
            svc.kill() if kind == "sigkill" else await asyncio.to_thread(svc.stop)
            svc.start()
            return time.monotonic(), svc
        if kind == "kafka-kill":
            await asyncio.to_thread(self.infra.kill_kafka)
            await asyncio.to_thread(self.infra.script, "kafka.sh", "start")
            return time.monotonic(), None
        if kind in ("pg-restart", "pg-outage"):
            await asyncio.to_thread(self.infra.script, "postgres.sh", "restart", arg or "0")
            return time.monotonic(), None
        if kind == "mid-send":
            svc = self.platform["notification"]
            deadline = time.monotonic() + 120
            while self.provider.answering == 0:
                if time.monotonic() > deadline:
                    raise DrillFailed("no SMS call was in flight at the provider for 120 s")
                await asyncio.sleep(0.002)
            self.lookups_before = self.provider.requests.get("QuerySendDetails", 0)
            fault.injected_at = self.now()
            fault.note = f"{self.provider.answering} provider call(s) accepted, unanswered"
            svc.kill()
            svc.start()
            return time.monotonic(), svc
        if kind == "replica":
            holder = await self.relay_holder(arg)
            if holder is None:
                raise DrillFailed(f"no replica of {arg} holds the relay lock")
            fault.injected_at = self.now()
            holder.kill()
            fault.note = f"killed {holder.log_path.stem} (active relay)"
            return time.monotonic(), holder
        raise DrillFailed(f"unknown fault {fault.name}")

    async def condition(self, fault: Fault, killed: ServiceProcess | None) -> bool:
        kind, _, arg = fault.name.partition(":")
        if kind == "migrate":
            return await asyncio.to_thread(self.platform[arg].ready)
        if kind == "replica":
            holder = await self.relay_holder(arg)
            others = [s for s in self.processes() if s is not killed]
            return holder not in (None, killed) and await asyncio.to_thread(lambda: all(s.ready() for s in others))
        if not await asyncio.to_thread(self.all_ready):
            return False
        if kind == "mid-send":
            return self.provider.requests.get("QuerySendDetails", 0) > self.lookups_before
        return True

    async def recover(self, fault: Fault, ended: float, killed: ServiceProcess | None) -> None:
        deadline = ended + self.cfg.recover_timeout
        self.waiting_on = []
        while time.monotonic() < deadline:
            try:
                if await self.condition(fault, killed):
                    fault.recovered, fault.seconds = True, time.monotonic() - ended
                    break
            except (TimeoutError, OSError, asyncpg.PostgresError):
                pass  # the database the condition reads is itself coming back
            await asyncio.sleep(0.25)
        if self.waiting_on and (not fault.recovered or fault.seconds > 15):
            fault.note = "; ".join(filter(None, [fault.note, f"last ready: {', '.join(self.waiting_on)}"]))
        if fault.name.startswith("replica:") and killed is not None:
            killed.start()  # the pod comes back, now standing by
            await asyncio.to_thread(killed.wait_ready, self.cfg.recover_timeout)
        self.say(f"[fault] {fault.name}: {'recovered' if fault.recovered else 'NOT recovered'}"
                 f"{f' in {fault.seconds:.1f} s' if fault.seconds is not None else ''}"
                 f"{f' ({fault.note})' if fault.note else ''}")

    async def run_faults(self, faults: list[Fault]) -> None:
        for k, fault in enumerate(faults):
            await asyncio.sleep(self.cfg.gap)
            began = time.monotonic()
            ended, killed = await self.inject(fault)
            await self.recover(fault, ended, killed)
            self.fault_spans.append(time.monotonic() - began + self.cfg.gap)
            self.faults_left = len(faults) - k - 1
        self.faults_left = 0

    # -- the school day -------------------------------------------------------------------------------
    def sequence(self) -> list[tuple[str, int]]:
        """Check-ins in student order; each student's check-out (and payment) a window later."""
        n, window = self.cfg.students, min(self.cfg.students, int(self.cfg.rate * 20))
        items = []
        for step in range(n + window):
            if step < n:
                items.append(("check_in", step))
            if step >= window:
                items.append(("check_out", step - window))
        return items

    def allowance(self) -> float:
        """Records this tick: the offered rate, slowed only so that the day lasts until the last fault is
        over (every fault lands on a platform at work) and a reserve is kept until then."""
        per_tick = self.cfg.rate * TICK_S
        if not self.faults_left:
            return per_tick
        left = len(self.items) - self.position - max(1, len(self.items) // 50)
        if left <= 0:  # the faults took longer than foreseen: a trickle from the reserve keeps senders at work
            return per_tick / 20 if self.position < len(self.items) - self.cfg.schools else 0.0
        expected_s = self.faults_left * sum(self.fault_spans) / len(self.fault_spans)
        return min(per_tick, left * TICK_S / max(expected_s, TICK_S))

    def record(self, kind: str, i: int) -> dict:
        out = kind == "check_out"
        r = {"record_id": f"{kind}-{self.city.student(i)}", "kind": kind, "student_id": self.city.student(i),
             "at": (self.at + timedelta(minutes=105 if out else 0)).isoformat(),
             "staff_id": f"stf-{self.city.school(self.city.school_of(i))}"}
        return r | ({"collected_by_id": self.city.guardian(i)} if out else {})

    def payment(self, i: int) -> dict:
        school = self.city.school(self.city.school_of(i))
        return {"external_ref": f"wx-{self.city.student(i)}", "method": "wechat_pay", "school_id": school,
                "student_id": self.city.student(i), "programme_id": f"prg-{school}", "amount_fen": FEE_FEN,
                "received_at": self.at.isoformat(), "deposited_to_account": f"acct-{school}",
                "prepaid_period": self.day.strftime("%Y-%m")}

    async def post(self, client: httpx.AsyncClient, service: str, school: str, path: str, body: dict,
                   keys: list[tuple[str, int]], turn: int) -> None:
        """As a school system does: the same records again until some replica takes them."""
        first = self.now()
        for key in keys:
            self.posted.setdefault(key, first)
        replicas = self.platform.replicas[service]
        attempt = 0
        while True:
            svc = replicas[(turn + attempt) % len(replicas)]
            self.posts += 1
            try:
                reply = await client.post(f"{svc.url}{path}", json=body, headers=self.auth[school])
                if reply.status_code < 500 and reply.status_code != 429 and "results" in reply.text:
                    for key, result in zip(keys, reply.json()["results"]):
                        if result["status"] == "rejected":
                            self.refused[key] = result.get("reason") or result.get("reason_code") or "rejected"
                    return
                if reply.status_code < 500 and reply.status_code != 429:
                    for key in keys:
                        self.refused[key] = f"HTTP {reply.status_code}: {reply.text[:200]}"
                    return
            except httpx.HTTPError:
                pass
            attempt += 1
            self.retries += 1
            await asyncio.sleep(0.5)

    async def stream(self) -> None:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
            carry, turn = 0.0, 0
            while self.position < len(self.items):
                tick_began = time.monotonic()
                carry += self.allowance()
                take, carry = int(carry), carry - int(carry)
                chunk = self.items[self.position:self.position + take]
                self.position += len(chunk)
                records, payments = defaultdict(list), defaultdict(list)
                for kind, i in chunk:
                    school = self.city.school(self.city.school_of(i))
                    records[school].append((kind, i))
                    if kind == "check_out":
                        payments[school].append(("payment", i))
                calls = [self.post(client, "attendance", s, f"/v1/schools/{s}/records",
                                   {"records": [self.record(k, i) for k, i in keys]}, keys, turn)
                         for s, keys in records.items()]
                calls += [self.post(client, "billing", s, "/v1/payments",
                                    {"payments": [self.payment(i) for _, i in keys]}, keys, turn)
                          for s, keys in payments.items()]
                turn += 1
                await asyncio.gather(*calls)  # in order: a check-out is never sent before its check-in is taken
                await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - tick_began)))
        self.stream_seconds = time.monotonic() - started
        self.say(f"[stream] {len(self.items):,} records and {self.cfg.students:,} payments posted in "
                 f"{self.stream_seconds:.0f} s ({self.posts:,} POSTs, {self.retries:,} retried)")

    # -- set-up, settling and the count ---------------------------------------------------------------
    async def seed(self) -> None:
        sent = await produce(self.kafka, ENROLLMENT_EVENTS, seed_events(self.city, self.day), "enrollment events")
        self.say(f"[setup] {sent:,} enrollment events on {ENROLLMENT_EVENTS}; waiting for every service to read them")
        readers = {g: (ENROLLMENT_EVENTS,) for g, topics in CONSUMES.items() if ENROLLMENT_EVENTS in topics}
        await self.until(lambda: self.caught_up(readers), "every service to read the enrollments")

    async def caught_up(self, reads: dict[str, tuple[str, ...]]) -> bool:
        return not any((await lag(self.kafka, reads)).values())

    async def until(self, probe, what: str) -> None:
        deadline = time.monotonic() + self.cfg.settle_timeout
        while True:
            try:
                if await probe():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise DrillFailed(f"timed out after {self.cfg.settle_timeout:.0f} s waiting for {what}")
            await asyncio.sleep(1.0)

    async def settled(self) -> bool:
        if not await self.caught_up({g: t for g, t in CONSUMES.items() if t}):
            return False
        outboxes = " union all ".join(f'select count(*) from "{s}".outbox' for s in SERVICES)
        if any(r[0] for r in await self.query(outboxes)):
            return False
        unsent = await self.query("select count(*) from notification.messages where status in ('pending', 'sending')")
        return unsent[0][0] == 0 and self.provider.answering == 0

    async def count(self, faults: list[Fault]) -> tuple[int, int, Counter]:
        """Lost and duplicated effects per window, added to the faults (the window before the first fault
        is counted in the total only)."""
        n = self.cfg.students
        got: dict[tuple[str, int], int] = {}
        # Attendance: one event per valid record; a relay republishing after a crash repeats the same event
        # id, which consumers take once, so distinct event ids are what counts (R15).
        ids: dict[tuple[str, int], set[str]] = defaultdict(set)
        prefix = self.city.student(0).rsplit("-", 1)[0] + "-"
        for r in await read_topic(self.kafka, ATTENDANCE_EVENTS):
            body = json.loads(r.value)
            student = body["payload"].get("student_id", "")
            kind = {"StudentCheckedIn": "check_in", "StudentCheckedOut": "check_out"}.get(body["type"])
            if kind and student.startswith(prefix):
                ids[(kind, int(student.rsplit("-", 1)[1]))].add(body["event_id"])
        got.update({(kind, i): len(ids.get((kind, i), ())) for kind in ("check_in", "check_out") for i in range(n)})
        # What guardians were sent, as the provider saw it (R22).
        sms = Counter((a["template"][4:], int(a["phone"][3:])) for a in self.provider.delivered())
        got.update({(f"sms:{kind}", i): sms.get((kind, i), 0) for kind in KINDS for i in range(n)})
        # The ledger: one entry per payment (R24).
        rows = await self.query("select student_id, count(*) from audit.ledger_entries where event_type = "
                                "'PaymentReceived' and student_id like $1 group by student_id", prefix + "%")
        entries = {int(r[0].rsplit("-", 1)[1]): r[1] for r in rows}
        got.update({("ledger", i): entries.get(i, 0) for i in range(n)})

        cause = {"check_in": "check_in", "check_out": "check_out", "sms:check_in": "check_in",
                 "sms:pickup": "check_out", "sms:payment_received": "payment", "ledger": "payment"}
        streamed = [f for f in faults if not f.name.startswith("migrate:")]
        checked, lost, duplicated = Counter(), 0, 0
        for (what, i), count in got.items():
            checked[what] += 1
            when = self.posted.get((cause[what], i), 0.0) if what in cause else 0.0
            window = next((f for f in reversed(streamed) if f.injected_at <= when), None) if when else None
            if count != 1:
                self.missed[(what, "lost" if count == 0 else "duplicated")] += 1
            if count == 0:
                lost += 1
                if window:
                    window.lost += 1
            elif count > 1:
                duplicated += 1
                if window:
                    window.duplicated += 1
        return lost, duplicated, checked

    async def main(self) -> Outcome:
        self.items, self.position = self.sequence(), 0
        self.say(f"[setup] private Kafka and PostgreSQL under {self.cfg.state}")
        self.kafka, self.database_url = await asyncio.to_thread(self.infra.start)
        faults = [Fault(name) for name in self.cfg.faults]
        with ThreadServer(self.provider.app()) as provider_url:
            self.platform = Platform(self.kafka, self.database_url, self.cfg.state / "logs", extra_env=self.env(provider_url),
                                     replicas=self.cfg.replicas)
            try:
                for fault in (f for f in faults if f.name.startswith("migrate:")):
                    ended = await self.kill_in_migrations(fault, fault.name.split(":", 1)[1])
                    await self.recover(fault, ended, None)
                await asyncio.to_thread(self.platform.start, self.cfg.recover_timeout)
                await self.seed()
                self.say(f"[stream] {self.cfg.students:,} students at {self.cfg.schools} schools, {self.cfg.rate:g} "
                         f"records/s, replicas {self.cfg.replicas}; {len(faults)} faults")
                streaming = asyncio.create_task(self.stream())
                try:
                    await self.run_faults([f for f in faults if not f.name.startswith("migrate:")])
                    await streaming
                finally:
                    streaming.cancel()
                self.say("[settle] waiting for every consumer, relay and sender to finish")
                await self.until(self.settled, "the platform to settle")
                lost, duplicated, checked = await self.count(faults)
            finally:
                await asyncio.to_thread(self.platform.stop)
        return Outcome(faults, lost, duplicated, checked, self.stream_seconds, self.posts, self.retries,
                       dict(Counter(self.refused.values()).most_common(5)), self.missed)


def table(outcome: Outcome) -> str:
    rows = [("fault", "recovered", "seconds", "lost", "duplicated", "")]
    early = (outcome.lost - sum(f.lost for f in outcome.faults), outcome.duplicated - sum(f.duplicated for f in outcome.faults))
    rows.append(("(enrollments, and records before the first fault)", "", "", str(early[0]), str(early[1]), ""))
    for f in outcome.faults:
        counted = not f.name.startswith("migrate:")  # before the day: nothing of it was posted yet
        rows.append((f.name, "yes" if f.recovered else "NO", f"{f.seconds:.1f}" if f.seconds is not None else "-",
                     str(f.lost) if counted else "-", str(f.duplicated) if counted else "-", f.note))
    rows.append((f"total ({len(outcome.faults)} faults)", f"{sum(f.recovered for f in outcome.faults)}/"
                 f"{len(outcome.faults)}", "", str(outcome.lost), str(outcome.duplicated), ""))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r[:5], widths)))
             + (f"  {r[5]}" if r[5] else "") for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(-1, lines[1])
    effects = ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.checked.items()))
    lines.append(f"effects checked against ground truth: {effects}")
    if outcome.missed:
        lines.append("by effect: " + ", ".join(f"{what} {how} {n:,}" for (what, how), n in sorted(outcome.missed.items())))
    lines += [f"refused {n}x: {reason}" for reason, n in outcome.refused.items()]
    return "\n".join(lines)


def run(cfg: Config) -> Outcome:
    """The drill, its broker, cluster and processes gone afterwards whatever happened."""
    drill = Drill(cfg)
    try:
        return asyncio.run(drill.main())
    finally:
        if drill.platform is not None:
            for svc in drill.platform.processes():
                svc.kill()
        drill.infra.discard()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=Config.students)
    parser.add_argument("--schools", type=int, default=Config.schools)
    parser.add_argument("--rate", type=float, default=Config.rate, help="attendance records per second")
    parser.add_argument("--faults", default=FULL, help="comma-separated schedule (see above)")
    parser.add_argument("--replicas", default="attendance=2,billing=2", help="e.g. attendance=2,billing=2")
    parser.add_argument("--state", type=Path, default=Config.state, help="the private broker's and cluster's folder")
    args = parser.parse_args(argv)
    replicas = {k: int(v) for k, v in (x.split("=") for x in args.replicas.split(",") if x)}
    cfg = Config(students=args.students, schools=args.schools, rate=args.rate, faults=tuple(args.faults.split(",")),
                 replicas=replicas, state=args.state / f"run-{os.getpid()}",
                 say=lambda line: print(line, flush=True))
    started = time.monotonic()
    outcome = run(cfg)
    print(table(outcome))
    print(f"{'PASSED' if outcome.passed else 'FAILED'} in {time.monotonic() - started:.0f} s "
          f"(stream {outcome.stream_seconds:.0f} s, {outcome.posts:,} POSTs, {outcome.retries:,} retried)")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
