"""School systems' records on the real broker and database (R11, R15): a mixed batch gives one event per
valid record and a reason per invalid one; duplicates change nothing; a SIGKILLed attendance process,
restarted and sent the same batch again, loses nothing and doubles nothing; a school system sees only
its own school; records produced on attendance.ingest are judged the same way."""
from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from local.platform import Platform
from services.attendance.domain import LOCAL_TZ
from shared.contracts.enrollment import EnrollmentFiled, GuardianRegistered, ProgrammePublished
from shared.contracts.envelope import Event, new_envelope
from shared.contracts.ingest import SchoolActivityRecorded, SchoolCheckInRecorded
from shared.contracts.registry import encode
from shared.contracts.topics import ATTENDANCE_EVENTS, ATTENDANCE_INGEST, CONSUMES, ENROLLMENT_EVENTS, dlq
from tests.integration.kafkatools import caught_up, envelope_of, eventually, read_topic
from tests.tokens import mint

pytestmark = pytest.mark.integration

N = 500


def _now_local() -> datetime:
    return datetime.now(UTC).astimezone(LOCAL_TZ)


def _base_time() -> datetime:
    """Half an hour ago, but never before 00:03 school-local: every record must be about today (a
    little ahead of the clock is within the service's tolerance for skew)."""
    now = _now_local()
    return max(now - timedelta(minutes=30), now.replace(hour=0, minute=3, second=0, microsecond=0))


# Sessions here are anchored to the school-local day: a late session (23:58-23:59) and, for the timers, an
# early one (00:00-00:01). Near local midnight neither holds, so a test starting then waits it out first.
QUIET_FROM, QUIET_UNTIL = (23, 50), (0, 11)
BASE = _base_time()


def _wait_out_midnight() -> float:
    now = _now_local()
    if (now.hour, now.minute) >= QUIET_FROM:
        until = (now + timedelta(days=1)).replace(hour=QUIET_UNTIL[0], minute=QUIET_UNTIL[1], second=0, microsecond=0)
    elif (now.hour, now.minute) < QUIET_UNTIL:
        until = now.replace(hour=QUIET_UNTIL[0], minute=QUIET_UNTIL[1], second=0, microsecond=0)
    else:
        return 0.0
    return (until - now).total_seconds()


@pytest.fixture(autouse=True)
async def _clear_of_midnight() -> None:
    """Each test starts clear of school-local midnight, with BASE taken then."""
    global BASE
    wait = _wait_out_midnight()
    if wait:
        print(f"[clock] {wait:.0f} s to wait until {QUIET_UNTIL[0]:02d}:{QUIET_UNTIL[1]:02d} Asia/Shanghai: these "
              "sessions are anchored to the local day", flush=True)
        await asyncio.sleep(wait)
    BASE = _base_time()


def _at(minutes_after_base: int) -> str:
    return (BASE + timedelta(minutes=minutes_after_base)).isoformat()


class SchoolFixture:
    """One school with a published programme and N filed students, put on enrollment.events as the
    enrollment service would publish them."""

    def __init__(self, tag: str, n: int, *, session: tuple[str, str] = ("23:58", "23:59"),
                 extended_care_until: str | None = None) -> None:
        self.session = session
        self.extended_care_until = extended_care_until
        self.school_id = f"sch-att-{tag}-{uuid.uuid4().hex[:6]}"
        self.programme_id = f"prg-{self.school_id}"
        self.staff_id = f"stf-{self.school_id}"
        self.students = [f"stu-{self.school_id}-{i:04d}" for i in range(n)]

    def events(self) -> list[Event]:
        # By default the session runs 23:58-23:59 local, so while the test runs (unless it runs in those
        # last minutes of the day) no absence or extended-care timer is due and the topic holds only
        # what the records caused.
        programme = ProgrammePublished(
            programme_id=self.programme_id, school_id=self.school_id, district_id="dst-att", term="2026-spring",
            name="课后服务", sessions=[{"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                      "starts_at_local": self.session[0], "ends_at_local": self.session[1]}],
            normal_off_work_local="17:30", extended_care_until_local=self.extended_care_until,
            activities=[{"activity_id": "act-run", "name": "跑步", "tier": "sports", "staff_ids": [self.staff_id], "capacity": N}],
            capacity=N, fee_per_session_fen=1500, extended_care_fee_per_session_fen=800, safety_measures=["凭接送卡交接"],
            insurance={"liability_policy_no": "PL-1", "accident_policy_no": "GA-1", "insurer": "人保",
                       "valid_from": "2026-01-01", "valid_until": "2026-12-31"},
            applications_open_at="2026-01-01T00:00:00Z", applications_close_at="2026-01-10T00:00:00Z",
            published_by=f"pri-{self.school_id}", published_by_role="principal", published_at="2026-01-01T00:00:00Z",
        )
        filed = [
            EnrollmentFiled(
                enrollment_id=f"enr-{s}", application_id=f"app-{s}", programme_id=self.programme_id, school_id=self.school_id,
                district_id="dst-att", student_id=s, student_name=f"学生{i}", guardian_id=f"gdn-{s}", hardship=False,
                extended_care=False, authorised_pickup_ids=[f"pku-{s}"], filed_by="off-1", filed_by_role="district_officer",
                filed_at="2026-01-02T00:00:00Z",
            )
            for i, s in enumerate(self.students)
        ]
        guardian = GuardianRegistered(guardian_id=f"gdn-{self.students[0]}", school_id=self.school_id,
                                      student_ids=[self.students[0]], name="王芳", phone_masked="138****0000",
                                      phone_sealed="sealed", consent=False, registered_by="gdn")
        return [programme, guardian, *filed]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(f'sys-{self.school_id}', 'school_system', school_id=self.school_id)}"}

    def check_in(self, student: str, record_id: str | None = None, **fields) -> dict:
        return {"record_id": record_id or f"in-{student}", "kind": "check_in", "student_id": student, "at": _at(0),
                "staff_id": self.staff_id, **fields}

    def check_out(self, student: str, **fields) -> dict:
        return {"record_id": f"out-{student}", "kind": "check_out", "student_id": student, "at": _at(1),
                "staff_id": self.staff_id, "collected_by_id": f"gdn-{student}", **fields}


def signed(school_id: str) -> list[tuple[str, bytes]]:
    """The header a school system signs its records on attendance.ingest with: its school's system token."""
    return [("authorization", f"Bearer {mint(f'sys-{school_id}', 'school_system', school_id=school_id)}".encode())]


async def _produce(bootstrap: str, topic: str, events: list[Event], producer_name: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for event in events:
            envelope = new_envelope(event, producer=producer_name)
            headers = signed(event.school_id) if topic == ATTENDANCE_INGEST else None  # type: ignore[attr-defined]
            futures.append(await producer.send(topic, value=encode(envelope), key=envelope.key.encode(), headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _roster_size(client: httpx.AsyncClient, school: SchoolFixture) -> int:
    reply = await client.get(f"/v1/schools/{school.school_id}/roster", headers=school.headers())
    return len(reply.json()) if reply.status_code == 200 else 0


async def _events_of(bootstrap: str, school: SchoolFixture) -> list[dict]:
    bodies = [envelope_of(r.value) for r in await read_topic(bootstrap, ATTENDANCE_EVENTS)]
    return [b for b in bodies if b and b["payload"].get("school_id") == school.school_id]


async def test_a_mixed_batch_and_a_killed_attendance_process_give_exactly_one_event_per_valid_record(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = SchoolFixture("a", N)
    other = SchoolFixture("b", 1)
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events() + other.events(), "enrollment")
    attendance = platform["attendance"]
    async with httpx.AsyncClient(base_url=attendance.url, timeout=120) as client:
        await eventually(lambda: _full(client, school), timeout=120, what=f"{N} students on the roster")

        # A school system of school A can neither post nor read anything of school B.
        foreign = await client.post(f"/v1/schools/{other.school_id}/records", headers=school.headers(),
                                    json={"records": [other.check_in(other.students[0])]})
        assert foreign.status_code == 403
        assert (await client.get(f"/v1/schools/{other.school_id}/attendance", headers=school.headers())).status_code == 403

        # 1. A mixed batch: every check-in, some sent twice, and records that must be rejected.
        s = school.students
        records = [school.check_in(st) for st in s]
        records += [school.check_in(st) for st in s[:20]]  # the same records again (same record ids)
        records += [school.check_in(st, record_id=f"in2-{st}") for st in s[20:30]]  # a second gate saw them too
        invalid = [
            school.check_in(f"stu-{school.school_id}-unknown"),
            {"record_id": "act-bad-staff", "kind": "activity", "student_id": s[30], "at": _at(0), "staff_id": "stf-not-admitted",
             "activity_id": "act-run", "tier": "sports", "minutes": 30, "exercise_minutes": 30},
            {"record_id": "in-no-time", "kind": "check_in", "student_id": s[31], "staff_id": school.staff_id},
            school.check_out(s[32], record_id="out-early") | {"at": _at(-1)},
            # Issue 14: an activity must be one of the programme's, and the child on site when it starts.
            {"record_id": "act-injected", "kind": "activity", "student_id": s[34], "at": _at(0), "staff_id": school.staff_id,
             "activity_id": "act-run'; drop table activities; --", "tier": "sports", "minutes": 30, "exercise_minutes": 30},
            {"record_id": "act-before-arrival", "kind": "activity", "student_id": s[35], "at": _at(-1),
             "staff_id": school.staff_id, "activity_id": "act-run", "tier": "sports", "minutes": 30, "exercise_minutes": 30},
            {"record_id": "out-stranger", "kind": "check_out", "student_id": s[33], "at": _at(1),
             "staff_id": school.staff_id, "collected_by_id": "stranger-1", "collected_by_name": "张三"},
        ]
        reply = await client.post(f"/v1/schools/{school.school_id}/records", json={"records": records + invalid},
                                  headers=school.headers())
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["accepted"], body["duplicate"], body["rejected"]) == (N, 30, len(invalid))
        reasons = [r["reason_code"] for r in body["results"][-len(invalid):]]
        assert reasons == ["unknown_student", "staff_not_admitted", "invalid", "not_checked_in", "unknown_activity", "not_checked_in",
                           "unauthorised_collector"]
        assert all(r["reason"] for r in body["results"][-len(invalid):])

        # 2. Check-outs for everyone; attendance is SIGKILLed while the batch is in flight, restarted,
        # and the school system retries the same batch, as it would after a failed request.
        check_outs = [school.check_out(st) for st in s]
        first = asyncio.create_task(client.post(f"/v1/schools/{school.school_id}/records", json={"records": check_outs},
                                                headers=school.headers()))
        await asyncio.sleep(0.4)
        attendance.kill()
        try:
            interrupted = await first
            first_results = interrupted.json()["results"] if interrupted.status_code == 200 else None
        except httpx.HTTPError:
            first_results = None
        attendance.start()
        await asyncio.to_thread(attendance.wait_ready, 120)
        retry = await client.post(f"/v1/schools/{school.school_id}/records", json={"records": check_outs},
                                  headers=school.headers())
        assert retry.status_code == 200, retry.text
        statuses = [r["status"] for r in retry.json()["results"]]
        assert set(statuses) <= {"accepted", "duplicate"} and len(statuses) == N
        if first_results is not None:
            assert statuses == ["duplicate"] * N, "the first request completed, so the retry changes nothing"

        # The whole first batch again, after the restart: nothing new, the refused pickup included.
        again = (await client.post(f"/v1/schools/{school.school_id}/records", json={"records": records + invalid},
                                   headers=school.headers())).json()
        assert again["accepted"] == 0
        assert again["results"][-1]["status"] == "duplicate"

        # A check-in resent under its record id with another time is a conflict, not "already received".
        moved = await client.post(f"/v1/schools/{school.school_id}/records", headers=school.headers(),
                                  json={"records": [school.check_in(s[0]) | {"at": _at(2)}, school.check_in(s[1])]})
        assert moved.status_code == 200, moved.text
        assert [(r["status"], r["reason_code"]) for r in moved.json()["results"]] == [
            ("conflict", "content_differs"), ("duplicate", "already_received")]
        assert moved.json()["conflict"] == 1

    events = await eventually(lambda: _complete(kafka_bootstrap, school), timeout=120, what="every event on the topic")
    by_type: dict[str, dict[str, set[str]]] = {}
    for e in events:
        by_type.setdefault(e["type"], {}).setdefault(e["payload"]["student_id"], set()).add(e["event_id"])
    assert set(by_type) == {"StudentCheckedIn", "StudentCheckedOut", "UnauthorisedPickupRefused"}
    for kind in ("StudentCheckedIn", "StudentCheckedOut"):
        assert sorted(by_type[kind]) == sorted(s), kind
        assert all(len(ids) == 1 for ids in by_type[kind].values()), f"{kind}: one event per record, whatever was resent"
    assert list(by_type["UnauthorisedPickupRefused"]) == [s[33]]
    assert len(by_type["UnauthorisedPickupRefused"][s[33]]) == 1
    named = next(e for e in events if e["type"] == "StudentCheckedOut" and e["payload"]["student_id"] == s[0])
    assert (named["payload"]["collected_by_name"], named["payload"]["collected_by_relation"]) == ("王芳", "guardian")
    await _let_consumers_settle(kafka_bootstrap)


async def _let_consumers_settle(bootstrap: str, timeout: float = 120) -> None:
    """All tests share one platform: leave it idle for the next test by letting the services that consume
    attendance.events digest this test's burst (a lagging consumer makes other tests' timing differ).
    Whether they keep up is their own tests' business, so this waits but asserts nothing."""
    groups = [g for g, topics in CONSUMES.items() if ATTENDANCE_EVENTS in topics]
    deadline = asyncio.get_running_loop().time() + timeout
    for group in groups:
        while not await caught_up(bootstrap, group, ATTENDANCE_EVENTS):
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(1.0)


async def _full(client: httpx.AsyncClient, school: SchoolFixture) -> bool:
    return await _roster_size(client, school) == len(school.students)


async def _complete(bootstrap: str, school: SchoolFixture) -> list[dict] | None:
    events = await _events_of(bootstrap, school)
    outs = {e["payload"]["student_id"] for e in events if e["type"] == "StudentCheckedOut"}
    return events if len(outs) == len(school.students) else None


async def test_records_produced_on_the_ingest_topic_become_events_or_dead_letters_with_reasons(
    platform: Platform, kafka_bootstrap: str
) -> None:
    school = SchoolFixture("t", 2)
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        await eventually(lambda: _full(client, school), timeout=120, what="the roster")
    today = BASE.date()
    good = SchoolCheckInRecorded(record_id=f"gate-{school.school_id}-1", system_id="sys-gate", school_id=school.school_id,
                                 student_id=school.students[0], session_date=today, checked_in_at=BASE,
                                 checked_in_by=school.staff_id, checked_in_by_role="school_staff")
    stranger = f"stu-{school.school_id}-nobody"
    bad = good.model_copy(update={"record_id": f"gate-{school.school_id}-2", "student_id": stranger})
    # Issue 14: the good record's id again with another time (a conflict), and an activity of a student
    # who was never checked in.
    moved = good.model_copy(update={"checked_in_at": BASE + timedelta(minutes=1)})
    absent = SchoolActivityRecorded(record_id=f"gate-{school.school_id}-3", system_id="sys-gate", school_id=school.school_id,
                                    student_id=school.students[1], session_date=today, activity_id="act-run", tier="sports",
                                    started_at=BASE, minutes=30, exercise_minutes=30, recorded_by=school.staff_id,
                                    recorded_by_role="school_staff")
    await _produce(kafka_bootstrap, ATTENDANCE_INGEST, [good, bad, good, moved, absent], "sys-gate")
    keys = {stranger.encode(), school.students[0].encode(), school.students[1].encode()}

    async def settled() -> tuple[list[dict], dict[str, dict]] | None:
        events = await _events_of(kafka_bootstrap, school)
        dead = {json.loads(base64.b64decode(letter["original_b64"]))["payload"]["record_id"]: letter
                for letter in (json.loads(r.value) for r in await read_topic(kafka_bootstrap, dlq(ATTENDANCE_INGEST))
                               if r.key in keys)}
        return (events, dead) if events and len(dead) == 3 else None

    events, dead = await eventually(settled, timeout=90, what="the check-in event and the three dead letters")
    assert [(e["type"], e["payload"]["student_id"]) for e in events] == [("StudentCheckedIn", school.students[0])]
    assert events[0]["payload"]["source_record_id"] == good.record_id
    assert (dead[bad.record_id]["kind"], dead[bad.record_id]["reason"].split(":")[0]) == ("rejected", "unknown_student")
    assert (dead[absent.record_id]["kind"], dead[absent.record_id]["reason"].split(":")[0]) == ("rejected", "not_checked_in")
    assert (dead[good.record_id]["kind"], dead[good.record_id]["reason"].split(":")[0]) == ("conflict", "content_differs")
    conflicting = json.loads(base64.b64decode(dead[good.record_id]["original_b64"]))["payload"]
    assert conflicting["checked_in_at"] != json.loads(good.model_dump_json())["checked_in_at"], "the resend, not the first"


async def test_the_running_service_raises_absence_extended_care_and_escalation_on_its_own(
    platform: Platform, kafka_bootstrap: str
) -> None:
    # A session from 00:00 to 00:01 local with extended care until 00:02: by the time this runs (unless
    # within ten minutes after local midnight) the absence grace and both ends have passed, so the
    # service's own timer sweep, started by its lifespan, has everything to raise.
    school = SchoolFixture("timers", 4, session=("00:00", "00:01"), extended_care_until="00:02")
    absent, stays, excused, collected = school.students
    await _produce(kafka_bootstrap, ENROLLMENT_EVENTS, school.events(), "enrollment")
    midnight = _now_local().replace(hour=0, minute=0, second=0, microsecond=0)
    async with httpx.AsyncClient(base_url=platform["attendance"].url, timeout=60) as client:
        await eventually(lambda: _full(client, school), timeout=120, what="the roster")
        records = [school.check_in(st) | {"at": (midnight + timedelta(seconds=20)).isoformat()} for st in (stays, collected)]
        records.append(school.check_out(collected) | {"at": (midnight + timedelta(seconds=40)).isoformat()})
        reply = await client.post(f"/v1/schools/{school.school_id}/records", json={"records": records}, headers=school.headers())
        assert reply.json()["accepted"] == 3, reply.text
        excusal = await client.post(f"/v1/schools/{school.school_id}/excusals", headers=school.headers(),
                                    json={"student_id": excused, "session_date": midnight.date().isoformat(), "reason": "病假"})
        assert excusal.status_code == 201, excusal.text

    async def raised() -> list[tuple[str, str]] | None:
        events = await _events_of(kafka_bootstrap, school)
        timers = sorted((e["type"], e["payload"]["student_id"]) for e in events
                        if e["type"] in ("StudentAbsent", "ExtendedCareStarted", "ExtendedCareEscalated"))
        return timers if len(timers) >= 3 else None

    timers = await eventually(raised, timeout=120, what="the sweep's absence, extended care and escalation")
    await asyncio.sleep(16)  # at least one more sweep (every 15 s) passes; each event is still there once
    assert sorted(timers) == sorted(await raised() or [])
    assert timers == sorted([("StudentAbsent", absent), ("ExtendedCareStarted", stays), ("ExtendedCareEscalated", stays)])
