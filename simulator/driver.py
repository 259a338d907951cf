"""Drives a generated city through every service's public HTTP API, phase by phase, and keeps its own
ground truth of what should have happened (applications, collections, fees, messages) to compare with
what the services report."""
from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from local.lag import ends
from shared.contracts.topics import ENROLLMENT_EVENTS
from shared.issuer import dev_issuer, register_client
from shared.time import SCHOOL_TZ as LOCAL_TZ
from simulator.broker import await_record
from simulator.city import City, School, Student, staff_name

SESSION_FEN, CARE_FEN = 1500, 800  # the fee standard every simulated school agrees with its parents (R10)
STAFF_SESSION_FEN, STAFF_CARE_FEN = 6000, 3000  # labour fee per session run / extended-care session (R18)
SESSION = ("15:30", "17:30")  # ends at the districts' off-work time (R8)
CARE_UNTIL = "18:30"
CONCURRENCY = 12
# The notice one school's principal sends the evening before a storm (应急处置预案).
STORM = {"title": "暴雨停课通知", "body": "受暴雨影响，明日课后服务暂停，请家长放学时按时接孩子。",
         "reason": "市气象台暴雨红色预警"}


def latest_school_day(now: datetime | None = None) -> date:
    """The simulated school day: today if its extended care is over (school-local), else yesterday.
    Attendance takes records only about the recent past and never from the future (R15)."""
    local = (now or datetime.now(UTC)).astimezone(LOCAL_TZ)
    h, m = (int(x) for x in CARE_UNTIL.split(":"))
    over = local.replace(hour=h, minute=m, second=0, microsecond=0) + timedelta(minutes=5)
    return local.date() if local >= over else local.date() - timedelta(days=1)


@dataclass
class Urls:
    enrollment: str
    attendance: str
    billing: str
    notification: str
    audit: str


@dataclass
class Truth:
    """What the simulator did and therefore expects the platform to report."""

    eligible: int = 0
    applied: int = 0
    hardship: int = 0
    filed: int = 0
    checked_in: int = 0
    absent: int = 0
    activities: int = 0
    exercise_minutes: int = 0
    collected: int = 0
    late_pickups: int = 0  # kept past the session end without having asked for care: free (R13)
    extended_care: int = 0  # collected during extended care the family asked for
    refused_pickups: int = 0
    invalid_sent: int = 0
    charged_fen: int = 0
    waived_fen: int = 0
    paid_fen: int = 0
    staff_removed: int = 0  # the district's removals; the removed member then tries one check-out (R28)
    broadcast_families: int = 0  # guardians registered at the school the emergency notice is sent to


@dataclass
class Report:
    """What the services reported back."""

    filed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    refusals: list[dict] = field(default_factory=list)  # the answers to the unauthorised collector's check-out
    statements: int = 0
    charged_fen: int = 0
    waived_fen: int = 0
    payments_accepted: int = 0
    payouts: int = 0
    disclosures: int = 0
    fee_income_fen: int = 0
    settlement_note: str = ""
    to_date_schools: int = 0  # schools whose running month billing reported on actual attendance so far
    to_date_charged_fen: int = 0
    to_date_waived_fen: int = 0
    messages: int = 0
    messages_by_kind: Counter = field(default_factory=Counter)
    sample_sms: list[dict] = field(default_factory=list)
    ledger_size: int = 0
    checkpoint: str = ""
    checkpoint_verified: str = ""
    export_verified: str = ""
    anomalies: list[dict] = field(default_factory=list)
    staff_removed: int = 0  # removals enrollment answered as made
    removal: dict = field(default_factory=dict)  # what attendance said and showed about the removed member's child
    staff_alerts: Counter = field(default_factory=Counter)  # "cause/duty" -> messages to the city's staff (sink)
    broadcast: dict = field(default_factory=dict)  # notification's delivery report of the emergency notice
    broadcast_families: int = 0  # guardians the notice was sent to (sink)
    broadcast_staff: int = 0
    problems: list[str] = field(default_factory=list)


class Simulation:
    """One run over one city. `say` receives progress lines; `kafka` (optional) lets the simulator wait
    for the services' consumers to catch up instead of guessing with sleeps; `token_endpoint` (optional,
    the local issuer's) makes each school's system get its token as integrators do, by OAuth2 client
    credentials, instead of having it minted."""

    def __init__(self, city: City, urls: Urls, *, day: date | None = None, kafka: str | None = None,
                 say: Callable[[str], None] = print, wait_timeout: float = 120,
                 token_endpoint: str | None = None) -> None:
        self.city, self.urls, self.kafka, self.say = city, urls, kafka, say
        self.day = day or latest_school_day()
        self.period = self.day.strftime("%Y-%m")
        self.rng = random.Random(city.seed * 7919 + 1)
        self.tokens = dev_issuer()  # the local issuer: the simulated city runs against `make run`
        self.token_endpoint = token_endpoint
        self.system_tokens: dict[str, str] = {}  # school_id -> token from the token endpoint
        self.truth, self.report = Truth(), Report()
        self.wait_timeout = wait_timeout
        self.applications: dict[str, str] = {}  # student_id -> application_id
        self.filed: list[Student] = []
        # The child the removed staff member tries to hand over: (student, their check-out, the admitted teacher's).
        self.handover: tuple[Student, dict, dict] | None = None
        self._gate = asyncio.Semaphore(CONCURRENCY)

    # -- tokens ---------------------------------------------------------------------------------------
    def _h(self, role: str, subject: str, **scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.mint(subject, role, **scope)}"}

    def city_h(self) -> dict[str, str]:
        return self._h("city", f"city-sim-{self.city.seed}")

    def school_h(self, school: School) -> dict[str, str]:
        return self._h("school", school.staff_ids[0], school_id=school.school_id)

    def district_h(self, district_id: str) -> dict[str, str]:
        return self._h("district", f"off-{district_id}", district_id=district_id)

    def system_h(self, school: School) -> dict[str, str]:
        if school.school_id in self.system_tokens:
            return {"Authorization": f"Bearer {self.system_tokens[school.school_id]}"}
        return self._h("school_system", f"sys-{school.school_id}", school_id=school.school_id)

    async def school_systems_sign_in(self) -> None:
        """Each school's system registers with the local issuer and asks for its token (RFC 6749 §4.4)."""
        for school in self.city.schools:
            client_id, secret = register_client(school.school_id, client_id=f"sys-{school.school_id}")
            reply = await self._send("post", self.token_endpoint, auth=(client_id, secret),
                                     data={"grant_type": "client_credentials"})
            self.system_tokens[school.school_id] = reply.json()["access_token"]

    @staticmethod
    def programme_id(school: School) -> str:
        return f"prg-{school.school_id}"

    @staticmethod
    def substitute(school: School) -> str:
        """A substitute teacher at the city's first school, admitted at the start of term and removed by the
        district on the simulated afternoon (R28)."""
        return f"{school.staff_ids[0].rsplit('-', 1)[0]}-sub"

    def staff_prefix(self) -> str:
        return self.city.schools[0].staff_ids[0].rsplit("-", 2)[0] + "-"

    # -- the run --------------------------------------------------------------------------------------
    async def run(self) -> Report:
        async with httpx.AsyncClient(timeout=120) as client:
            self.client = client
            phases = [("school systems' tokens", self.school_systems_sign_in)] if self.token_endpoint else []
            phases += [("reference data", self.import_reference), ("programmes", self.publish_programmes),
                      ("staff contacts", self.register_staff_contacts),
                      ("fee schedules", self.approve_fee_schedules), ("applications", self.apply_and_file),
                      ("school day", self.school_day), ("emergency broadcast", self.broadcast_storm_notice),
                      ("month end", self.month_end),
                      ("messages", self.collect_messages), ("audit", self.audit)]
            for name, phase in phases:
                started = time.monotonic()
                try:
                    await phase()
                except Exception as exc:  # one service not working must not hide what the others show
                    self.report.problems.append(f"{name}: {exc}")
                    self.say(f"  ✗ {name}: {exc}")
                    if name in ("reference data", "programmes", "applications"):
                        break  # later phases need these
                    continue
                self.say(f"  ✓ {name} ({time.monotonic() - started:.1f} s)")
        return self.report

    async def _send(self, method: str, url: str, *, ok: tuple[int, ...] = (200, 201), **kw) -> httpx.Response:
        async with self._gate:
            reply = await self.client.request(method, url, **kw)
        if reply.status_code not in ok:
            raise RuntimeError(f"{method.upper()} {url} → HTTP {reply.status_code}: {reply.text[:300]}")
        return reply

    async def _retry(self, what: str, attempt: Callable[[], asyncio.Future[httpx.Response]]) -> httpx.Response:
        """For a step that needs an event another service has yet to consume (eventual consistency)."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                return await attempt()
            except RuntimeError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what}: {exc}") from exc
                await asyncio.sleep(1)

    # -- phase 1: enrollment's reference data ------------------------------------------------------------
    async def import_reference(self) -> None:
        e = self.urls.enrollment
        staff, classes, students, guardians = [], {}, [], []
        for school in self.city.schools:
            for j, sid in enumerate(school.staff_ids):
                staff.append({"staff_id": sid, "school_id": school.school_id, "name": staff_name(sid),
                              "position": "principal" if j == 0 else "teacher", "admission": "admitted"})
            if school is self.city.schools[0]:
                staff.append({"staff_id": self.substitute(school), "school_id": school.school_id,
                              "name": staff_name(self.substitute(school)),
                              "position": "teacher", "admission": "admitted"})
            for st in school.students:
                grade = int(st.class_id.rsplit("-g", 1)[1][0])
                classes.setdefault(st.class_id, {"class_id": st.class_id, "school_id": school.school_id, "grade": grade,
                                                 "name": st.class_id.rsplit("-", 1)[1],
                                                 "class_teacher_id": school.staff_ids[-1]})
                students.append({"student_id": st.student_id, "school_id": school.school_id, "class_id": st.class_id,
                                 "name": st.name, "grade": grade})
                g = st.guardian
                guardians.append({"guardian_id": g.guardian_id, "school_id": school.school_id, "name": g.name,
                                  "phone": g.phone, "student_ids": [st.student_id], "consent": True,
                                  "locale": g.locale, **({"push_token": g.push_token} if g.push_token else {})})
        self.truth.eligible = len(students)
        reference = {
            "districts": [{"district_id": d, "name": n, "off_work_local": SESSION[1]} for d, n in self.city.districts.items()],
            "schools": [{"school_id": s.school_id, "district_id": s.district_id, "name": s.name} for s in self.city.schools],
            "staff": staff, "classes": list(classes.values()), "students": students, "guardians": guardians,
        }
        for kind, records in reference.items():
            for i in range(0, len(records), 5000):
                reply = await self._send("post", f"{e}/v1/reference/{kind}", json={"records": records[i:i + 5000]},
                                         headers=self.city_h())
                if reply.json()["rejected"]:
                    raise RuntimeError(f"enrollment refused {kind}: {reply.json()}")
        self.say(f"    {len(self.city.districts)} districts, {len(self.city.schools)} schools, {len(staff)} staff, "
                 f"{len(students)} students and their guardians imported")

    # -- phase 2: programmes disclosed (R4, R7, R8, R10, R28, R30) ------------------------------------
    def programme_spec(self, school: School) -> dict:
        today = date.today()
        teachers = school.staff_ids[1:] or school.staff_ids
        if school is self.city.schools[0]:
            teachers = [*teachers, self.substitute(school)]
        return {
            "school_id": school.school_id, "term": f"{self.day.year}-{'spring' if 2 <= self.day.month <= 7 else 'autumn'}",
            "name": f"{school.name}课后服务",
            "served": "本校1-6年级有需要的学生", "delivery": "本校教师为主",
            "sessions": [{"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                          "starts_at_local": SESSION[0], "ends_at_local": SESSION[1]}],
            "extended_care_until_local": CARE_UNTIL,
            "activities": [
                {"activity_id": "act-hw", "name": "作业辅导", "tier": "homework_help", "staff_ids": teachers, "capacity": 2000},
                {"activity_id": "act-pe", "name": "体育活动", "tier": "sports", "staff_ids": school.staff_ids[:1],
                 "capacity": 2000},
            ],
            "capacity": max(len(school.students), 1), "fee_per_session_fen": SESSION_FEN,
            "extended_care_fee_per_session_fen": CARE_FEN, "safety_measures": ["凭接送卡交接", "每日两次点名"],
            "insurance": {"liability_policy_no": f"PL-{school.school_id}", "accident_policy_no": f"GA-{school.school_id}",
                          "insurer": "人保", "valid_from": str(self.day - timedelta(days=60)),
                          "valid_until": str(today + timedelta(days=180))},
            "applications_close_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        }

    async def publish_programmes(self) -> None:
        e = self.urls.enrollment

        async def one(school: School) -> None:
            p, sh = self.programme_id(school), self.school_h(school)
            await self._send("put", f"{e}/v1/programmes/{p}", json=self.programme_spec(school), headers=sh)
            await self._send("post", f"{e}/v1/programmes/{p}/fee-agreement", headers=sh,
                             json={"agreed_on": str(self.day - timedelta(days=40)), "reference": "家委会纪要"})
            await self._send("post", f"{e}/v1/programmes/{p}/fee-review", json={"decision": "approved"},
                             headers=self.district_h(school.district_id))
            await self._send("post", f"{e}/v1/programmes/{p}/publish", headers=sh)

        await asyncio.gather(*(one(s) for s in self.city.schools))
        self.say(f"    {len(self.city.schools)} programmes agreed, reviewed by their district and published")

    # -- who answers for the children: staff contacts with their duties (R11-R13) -----------------------
    async def register_staff_contacts(self) -> None:
        """Each school tells enrollment how to reach its class teacher (of every class, as the classes were
        imported) and its principal, who leads the programme and is the safety contact; notification then
        sends them the safety alerts of their duty."""
        e = self.urls.enrollment

        async def one(school: School) -> None:
            classes = sorted({st.class_id for st in school.students})
            duties = {school.staff_ids[-1]: {"roles": ["class_teacher"], "class_ids": classes},
                      school.staff_ids[0]: {"roles": ["programme_lead", "safety_contact"],
                                            "programme_ids": [self.programme_id(school)]}}
            for staff_id, duty in duties.items():
                phone = f"139{zlib.crc32(staff_id.encode()) % 10**8:08d}"
                await self._send("post", f"{e}/v1/staff/{staff_id}/contact", headers=self.school_h(school),
                                 json={**duty, "phone": phone})

        await asyncio.gather(*(one(s) for s in self.city.schools))
        self.say(f"    {len(self.city.schools)} schools registered their class teacher, programme lead and safety contact")

    # -- billing's schedules and labour-fee plans (R10, R18) ------------------------------------------
    async def approve_fee_schedules(self) -> None:
        b = self.urls.billing
        first = self.day.replace(day=1)

        async def one(school: School) -> None:
            sh = self.school_h(school)
            body = {"school_id": school.school_id, "programme_id": self.programme_id(school),
                    "district_id": school.district_id,
                    "items": [{"category": "session", "amount_fen": SESSION_FEN},
                              {"category": "extended_care", "amount_fen": CARE_FEN}],
                    "parents_committee_agreed_on": str(first - timedelta(days=10)),
                    "parents_committee_ref": f"pc-{school.school_id}", "effective_from": str(first)}
            # Billing learns the programme from enrollment's ProgrammePublished: retry until it has.
            reply = await self._retry("fee schedule", lambda: self._send("post", f"{b}/v1/fee-schedules", json=body,
                                                                         headers=sh))
            await self._send("post", f"{b}/v1/fee-schedules/{reply.json()['fee_schedule_id']}/approve",
                             headers=self.district_h(school.district_id))
            plan = await self._send("post", f"{b}/v1/distribution-plans", headers=sh, json={
                "school_id": school.school_id, "per_session_fen": STAFF_SESSION_FEN,
                "extended_care_per_session_fen": STAFF_CARE_FEN, "approval_ref": f"jdh-{school.school_id}",
                "approved_on": str(first - timedelta(days=5)), "effective_from": str(first),
                "paid_from_account": f"acct-{school.school_id}"})
            # R10: the district reviews the plan; payouts follow approved plans only (R20).
            await self._send("post", f"{b}/v1/distribution-plans/{plan.json()['plan_id']}/review",
                             headers=self.district_h(school.district_id), json={"decision": "approved"})

        await asyncio.gather(*(one(s) for s in self.city.schools))
        self.say(f"    {len(self.city.schools)} fee schedules submitted and approved; "
                 "labour-fee plans recorded and approved by the districts")

    # -- phase 3: guardians apply, schools approve and report, districts file (R1, R6, R9) -----------
    async def apply_and_file(self) -> None:
        e = self.urls.enrollment
        applicants = self.city.participants
        self.truth.applied = len(applicants)
        self.truth.hardship = sum(s.hardship for s in applicants)
        by_school = {s.school_id: s for s in self.city.schools}

        async def one(st: Student) -> None:
            school = by_school[st.school_id]
            gh = {**self._h("guardian", st.guardian.guardian_id), "Idempotency-Key": f"apply-{st.student_id}"}
            reply = await self._send("post", f"{e}/v1/applications", headers=gh, json={
                "programme_id": self.programme_id(school), "student_id": st.student_id,
                "guardian_id": st.guardian.guardian_id, "consent": True, "hardship": st.hardship,
                "wants_extended_care": st.extended_care})
            app = reply.json()["application_id"]
            self.applications[st.student_id] = app
            sh = self.school_h(school)
            await self._send("post", f"{e}/v1/applications/{app}/approve", headers=sh,
                             json={"hardship_verified": st.hardship, "extended_care": st.extended_care})
            await self._send("post", f"{e}/v1/applications/{app}/report", headers=sh)
            reply = await self._send("post", f"{e}/v1/applications/{app}/file", headers=self.district_h(school.district_id))
            if reply.json()["status"] == "filed":
                self.filed.append(st)

        done = 0
        for i in range(0, len(applicants), 100):
            await asyncio.gather(*(one(s) for s in applicants[i:i + 100]))
            done = min(len(applicants), i + 100)
            self.say(f"    … {done}/{len(applicants)} applications filed")
        self.filed.sort(key=lambda s: s.student_id)
        self.truth.filed = len(self.filed)
        self.report.filed = await self._count_filed()
        share = len(applicants) / max(self.truth.eligible, 1)
        self.say(f"    {len(applicants)} of {self.truth.eligible} guardians applied ({share:.1%}), "
                 f"{self.truth.hardship} with hardship; {self.report.filed} filed by their districts")

    async def _count_filed(self) -> int:
        total = 0
        for school in self.city.schools:
            offset = 0
            while True:
                reply = await self._send("get", f"{self.urls.enrollment}/v1/applications", headers=self.school_h(school),
                                         params={"school_id": school.school_id, "status": "filed", "limit": 500,
                                                 "offset": offset})
                page = reply.json()
                items = page if isinstance(page, list) else page.get("items", page.get("applications", []))
                total += len(items)
                if len(items) < 500:
                    break
                offset += 500
        return total

    # -- phase 4: a school day through the school systems' batch endpoint (R11-R15) -------------------
    def _at(self, hhmm: str, plus_minutes: float = 0) -> str:
        h, m = (int(x) for x in hhmm.split(":"))
        local = datetime(self.day.year, self.day.month, self.day.day, h, m, tzinfo=LOCAL_TZ) + timedelta(minutes=plus_minutes)
        return local.isoformat()

    def day_records(self, school: School) -> tuple[list[dict], list[dict]]:
        """Check-ins, activities and check-outs of one school's filed students, plus a few invalid ones.
        Returns (records, invalid)."""
        mine = [s for s in self.filed if s.school_id == school.school_id]
        teacher = (school.staff_ids[1:] or school.staff_ids)[0]
        principal = school.staff_ids[0]
        records, invalid = [], []
        t = self.truth
        for st in mine:
            if self.rng.random() < 0.04:  # absent today (R12: the guardian is told)
                t.absent += 1
                continue
            t.checked_in += 1
            # The substitute checks in one child of the first school (not the one a stranger asks for): the
            # district removes them in the afternoon, before that child is collected.
            held = school is self.city.schools[0] and self.handover is None and t.refused_pickups > 0
            records.append({"record_id": f"in-{st.student_id}-{self.day}", "kind": "check_in", "student_id": st.student_id,
                            "at": self._at(SESSION[0], self.rng.uniform(-8, 4)),
                            "staff_id": self.substitute(school) if held else teacher})
            records.append({"record_id": f"pe-{st.student_id}-{self.day}", "kind": "activity", "student_id": st.student_id,
                            "at": self._at("16:30"), "staff_id": principal, "activity_id": "act-pe", "tier": "sports",
                            "minutes": 60, "exercise_minutes": 45})
            t.activities += 1
            t.exercise_minutes += 45
            if school is self.city.schools[0] and t.refused_pickups == 0:
                # One unauthorised collector: the child is not released and stays in care (R11); the
                # guardian collects later (attendance judges a batch in time order, so the stranger comes first).
                records.append({"record_id": f"out-x-{st.student_id}-{self.day}", "kind": "check_out",
                                "student_id": st.student_id, "at": self._at(SESSION[1], 0.25), "staff_id": teacher,
                                "collected_by_id": f"stranger-{st.student_id}", "collected_by_name": "陌生人"})
                t.refused_pickups += 1
            if st.extended_care:
                minutes, t.extended_care = self.rng.uniform(15, 55), t.extended_care + 1
            elif self.rng.random() < 0.05:
                minutes, t.late_pickups = self.rng.uniform(10, 40), t.late_pickups + 1
            else:
                minutes = self.rng.uniform(-1, 8)
            out = {"record_id": f"out-{st.student_id}-{self.day}", "kind": "check_out", "student_id": st.student_id,
                   "at": self._at(SESSION[1], max(minutes, 0.5)), "staff_id": teacher,
                   "collected_by_id": st.guardian.guardian_id, "collected_by_name": st.guardian.name}
            if held:  # sent after the removal: first as the substitute hands over, then by the admitted teacher
                self.handover = (st, {**out, "record_id": f"out-sub-{st.student_id}-{self.day}",
                                      "staff_id": self.substitute(school)}, out)
                t.staff_removed += 1
            else:
                records.append(out)
            t.collected += 1
            if not st.hardship:
                t.charged_fen += SESSION_FEN + (CARE_FEN if st.extended_care else 0)
            else:
                t.waived_fen += SESSION_FEN + (CARE_FEN if st.extended_care else 0)
        if mine:
            st = mine[-1]
            invalid = [
                {"record_id": f"bad-unknown-{school.school_id}", "kind": "check_in", "student_id": f"{st.student_id}-x",
                 "at": self._at(SESSION[0]), "staff_id": teacher},
                {"record_id": f"bad-notime-{school.school_id}", "kind": "check_in", "student_id": st.student_id,
                 "staff_id": teacher},
                {"record_id": f"bad-staff-{school.school_id}", "kind": "activity", "student_id": st.student_id,
                 "at": self._at("16:30"), "staff_id": "stf-not-admitted", "activity_id": "act-pe", "tier": "sports",
                 "minutes": 30, "exercise_minutes": 30},
            ]
            t.invalid_sent += len(invalid)
        return records, invalid

    async def school_day(self) -> None:
        a = self.urls.attendance
        expected = Counter(s.school_id for s in self.filed)

        async def roster_ready(school: School) -> None:
            deadline = time.monotonic() + self.wait_timeout
            while True:
                reply = await self.client.get(f"{a}/v1/schools/{school.school_id}/roster", headers=self.system_h(school))
                if reply.status_code == 200 and len(reply.json()) >= expected[school.school_id]:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"attendance's roster of {school.school_id} is incomplete after "
                                       f"{self.wait_timeout:.0f} s (HTTP {reply.status_code})")
                await asyncio.sleep(1)

        await asyncio.gather(*(roster_ready(s) for s in self.city.schools))
        self.say(f"    school day {self.day}: every roster is at attendance; the school systems post their records")
        for school in self.city.schools:
            records, invalid = self.day_records(school)
            # Each batch is sent twice, as a school system retrying after a timeout would (R15).
            for attempt in range(2):
                reply = await self._send("post", f"{a}/v1/schools/{school.school_id}/records",
                                         json={"records": records + invalid}, headers=self.system_h(school))
                body = reply.json()
                if attempt == 0:
                    self.report.refusals += [r for r in body["results"] if str(r.get("record_id")).startswith("out-x-")]
                    self.report.accepted += body["accepted"]
                    self.report.rejected.update(r["reason_code"] for r in body["results"] if r["status"] == "rejected")
                else:
                    self.report.duplicates += body["duplicate"]
        await self.remove_staff_in_the_afternoon()
        t = self.truth
        self.say(f"    {t.checked_in} checked in, {t.absent} absent, {t.activities} sports sessions "
                 f"({t.exercise_minutes} exercise minutes), {t.collected} collected ({t.extended_care} in extended care, "
                 f"{t.late_pickups} late pickups cared for free), {t.refused_pickups} unauthorised collector refused; "
                 f"attendance accepted {self.report.accepted}, rejected {sum(self.report.rejected.values())} "
                 f"({', '.join(f'{k} {v}' for k, v in self.report.rejected.items())})")

    async def remove_staff_in_the_afternoon(self) -> None:
        """The district removes the substitute (R28); once attendance has heard it, the school's system sends
        the substitute's check-out of the child they checked in, which must be refused with the child kept
        on site (R11), then the same check-out by an admitted teacher. What happened is read back from
        enrollment's and attendance's answers, not assumed."""
        if self.handover is None:
            return
        student, refused, accepted = self.handover
        school = self.city.schools[0]
        a, staff_id = self.urls.attendance, self.substitute(school)
        since = await ends(self.kafka, [ENROLLMENT_EVENTS]) if self.kafka else None
        reply = await self._send("post", f"{self.urls.enrollment}/v1/staff/{staff_id}/admission",
                                 headers=self.district_h(school.district_id),
                                 json={"admission": "removed", "reason": "资质复核未通过", "checked_on": str(self.day)})
        self.report.staff_removed += reply.json()["admission"] == "removed"
        if since is not None:
            await await_record(self.kafka, since, staff_id, "StaffAdmissionChanged", self.wait_timeout)
        await self._caught_up("attendance", ENROLLMENT_EVENTS)
        sh, params = self.system_h(school), {"date": str(self.day)}
        judged = {}
        for record in (refused, accepted):
            reply = await self._send("post", f"{a}/v1/schools/{school.school_id}/records", headers=sh,
                                     json={"records": [record]})
            (result,) = reply.json()["results"]
            judged[record["record_id"]] = result
            if result["status"] == "accepted":
                self.report.accepted += 1
            elif result["status"] == "rejected":
                self.report.rejected[result["reason_code"]] += 1
            if record is refused:
                on_site = (await self._send("get", f"{a}/v1/schools/{school.school_id}/on-site", headers=sh,
                                            params=params)).json()
                self.report.removal["stayed"] = any(s["student_id"] == student.student_id for s in on_site)
        day = (await self._send("get", f"{a}/v1/schools/{school.school_id}/attendance", headers=sh, params=params)).json()
        (mine,) = [s for s in day["students"] if s["student_id"] == student.student_id]
        self.report.removal.update(
            refused=judged[refused["record_id"]].get("reason_code") or judged[refused["record_id"]]["status"],
            handover=judged[accepted["record_id"]]["status"], status=mine["status"],
            handed_over_by=mine["handed_over_by"])
        r = self.report.removal
        if (r["refused"], r["stayed"], r["handover"], r["status"], r["handed_over_by"]) != (
                "staff_not_admitted", True, "accepted", "collected", accepted["staff_id"]):
            self.report.problems.append(f"the removed staff member's check-out: {r}")
        self.say(f"    the district removed {self.report.staff_removed} staff member; their check-out: {r['refused']}, "
                 f"child on site {'still' if r['stayed'] else 'NOT'}; the admitted teacher's: {r['handover']}")

    # -- the evening: an emergency notice to one school's families (应急处置预案) ----------------------------
    async def broadcast_storm_notice(self) -> None:
        """The first school's principal tells every family and staff contact that tomorrow's programme is
        suspended for a storm; the delivery report is notification's, the families counted from its sink."""
        n, school = self.urls.notification, self.city.schools[0]
        self.truth.broadcast_families = len({st.guardian.guardian_id for st in school.students})
        await self._caught_up("notification", ENROLLMENT_EVENTS)  # it knows every guardian of the school
        sh = self.school_h(school)
        sent = (await self._send("post", f"{n}/v1/broadcasts", ok=(200, 201), json={
            "scope": "school", "scope_id": school.school_id, **STORM},
            headers={**sh, "Idempotency-Key": f"storm-{school.school_id}-{self.day}"})).json()
        deadline = time.monotonic() + self.wait_timeout
        while True:
            report = (await self._send("get", f"{n}/v1/broadcasts/{sent['broadcast_id']}", headers=sh)).json()
            if (report["fan_out_complete"] and report["queued"] == 0) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        self.report.broadcast = report
        told = []
        for prefix in (self._guardian_prefix(), self.staff_prefix()):
            sink = (await self._send("get", f"{n}/v1/sink", headers=self.city_h(), params={
                "kind": "emergency_broadcast", "limit": 10_000, "recipient_prefix": prefix})).json()
            told.append(len({m["recipient_id"] for m in sink if m["event_id"] == sent["broadcast_id"]}))
        self.report.broadcast_families, self.report.broadcast_staff = told
        r = self.report
        if (r.broadcast_families, report["handed_over"] + report["failed"]) != (
                self.truth.broadcast_families, report["recipients"]) or report["queued"]:
            r.problems.append(f"emergency broadcast: {r.broadcast_families} families told of "
                              f"{self.truth.broadcast_families}; report {report}")
        self.say(f"    {school.name}'s principal sent 「{STORM['title']}」: {r.broadcast_families} families and "
                 f"{r.broadcast_staff} staff, {report['handed_over']} handed to the channel, {report['failed']} failed")

    # -- phase 5: month end (R9, R16-R21) ---------------------------------------------------------------
    async def _caught_up(self, group: str, topic: str) -> None:
        if not self.kafka:
            await asyncio.sleep(10)  # no broker address: give the consumers a moment
            return
        from local.lag import lag

        deadline = time.monotonic() + self.wait_timeout
        while (await lag(self.kafka, {group: (topic,)}))[group]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{group} has not consumed {topic} after {self.wait_timeout:.0f} s")
            await asyncio.sleep(1)

    async def month_end(self) -> None:
        """Month-end as billing runs it. Billing settles only a month that is over (R17) and only the
        enrollments filed in it, so for the month running now the settlement is refused, billing's
        month-to-date view shows what it would charge and waive on the attendance so far, and families
        prepay the month instead; the next run after the month ends settles it (SETTLEMENT_AUTO)."""
        b = self.urls.billing
        await self._caught_up("billing", "attendance.events")
        now = datetime.now(UTC)
        for school in self.city.schools:
            dh, sh = self.district_h(school.district_id), self.school_h(school)
            reply = await self._send("post", f"{b}/v1/settlements", headers=dh, ok=(200, 409),
                                     json={"school_id": school.school_id, "period": self.period})
            if reply.status_code == 409:
                self.report.settlement_note = reply.json().get("detail", reply.text)
                # The month is running: billing's own figures so far, by the rule its statements will use.
                view = (await self._send("get", f"{b}/v1/schools/{school.school_id}/month-to-date", headers=sh,
                                         params={"period": self.period})).json()
                self.report.to_date_schools += 1
                self.report.to_date_charged_fen += view["total"]["charged_fen"]
                self.report.to_date_waived_fen += view["total"]["waived_fen"]
            for run in (reply.json().get("schools", []) if reply.status_code == 200 else []):
                self.report.payouts += run.get("payouts", 0)
                self.report.problems += [f"billing skipped {reason}" for reason in run.get("skipped", [])]
            statements = (await self._send("get", f"{b}/v1/schools/{school.school_id}/statements", headers=sh,
                                           params={"period": self.period})).json()
            self.report.statements += len(statements)
            self.report.charged_fen += sum(s["charged_fen"] for s in statements)
            self.report.waived_fen += sum(s.get("waived_fen", 0) for s in statements)
            if statements:  # families pay what their statements say they owe
                owed = {s["student_id"]: s["outstanding_fen"] for s in statements if s["outstanding_fen"] > 0}
                prepaid = None
            else:  # the month is still running: families prepay the day's fee for it (R17 refunds any excess)
                owed = {st.student_id: SESSION_FEN + (CARE_FEN if st.extended_care else 0)
                        for st in self.filed if st.school_id == school.school_id and not st.hardship}
                prepaid = self.period
            payments = [{"external_ref": f"wx-{sid}-{self.period}", "method": "wechat_pay", "school_id": school.school_id,
                         "student_id": sid, "programme_id": self.programme_id(school), "amount_fen": fen,
                         "received_at": now.isoformat(), "deposited_to_account": f"acct-{school.school_id}",
                         **({"prepaid_period": prepaid} if prepaid else {})} for sid, fen in owed.items()]
            for i in range(0, len(payments), 5000):
                paid = (await self._send("post", f"{b}/v1/payments", headers=sh, json={"payments": payments[i:i + 5000]})).json()
                self.report.payments_accepted += paid["accepted"]
                self.truth.paid_fen += sum(p["amount_fen"] for p in payments[i:i + 5000])
            today = now.astimezone(LOCAL_TZ).date()
            reply = await self._send("post", f"{b}/v1/disclosures", headers=sh, ok=(200, 201, 409), json={
                "school_id": school.school_id, "period_start": str(self.day.replace(day=1)), "period_end": str(today)})
            if reply.status_code in (200, 201):
                self.report.disclosures += 1
                self.report.fee_income_fen += reply.json().get("fee_income_fen", 0)
        if self.report.statements:
            ok = _tick((self.report.charged_fen, self.report.waived_fen), (self.truth.charged_fen, self.truth.waived_fen))
            self.say(f"    {self.report.statements} statements; charged {_yuan(self.report.charged_fen)}, waived "
                     f"{_yuan(self.report.waived_fen)} (simulator expected {_yuan(self.truth.charged_fen)} / "
                     f"{_yuan(self.truth.waived_fen)} {ok})")
        else:
            self.say(f"    settlement of {self.period}: {self.report.settlement_note or 'no statements'}")
        if not self.report.statements and self.report.to_date_schools:
            r, t = self.report, self.truth
            self.say(f"    so far in {self.period} on actual attendance (billing, provisional): charged "
                     f"{_yuan(r.to_date_charged_fen)}, waived {_yuan(r.to_date_waived_fen)} (simulator expected "
                     f"{_yuan(t.charged_fen)} / {_yuan(t.waived_fen)} "
                     f"{_tick((r.to_date_charged_fen, r.to_date_waived_fen), (t.charged_fen, t.waived_fen))})")
        self.say(f"    {self.report.payments_accepted} payments ({_yuan(self.truth.paid_fen)}), "
                 f"{self.report.disclosures} disclosures published (fee income {_yuan(self.report.fee_income_fen)})")

    # -- phase 6: what guardians were told (R22) ----------------------------------------------------------
    async def collect_messages(self) -> None:
        n = self.urls.notification
        prefix = self._guardian_prefix()
        want = self.truth.collected
        deadline = time.monotonic() + self.wait_timeout
        messages: list[dict] = []
        while True:
            reply = await self._send("get", f"{n}/v1/sink", params={"recipient_prefix": prefix, "limit": 10_000},
                                     headers=self.city_h())
            messages = [m for m in reply.json() if m["recipient_id"] in self._guardian_ids()]
            checkouts = sum(1 for m in messages if m["cause_event_type"] == "StudentCheckedOut")
            if checkouts >= want or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        self.report.messages = len(messages)
        self.report.messages_by_kind = Counter(m["cause_event_type"] for m in messages)
        seen, samples = set(), []
        order = {"StudentCheckedOut": 0, "UnauthorisedPickupRefused": 1, "EnrollmentFiled": 2}
        for m in sorted(messages, key=lambda m: (order.get(m["cause_event_type"], 9), m["id"])):
            if m["channel"] == "sms" and m["body"] and m["cause_event_type"] not in seen:
                seen.add(m["cause_event_type"])
                samples.append(m)
        self.report.sample_sms = samples[:3]
        self.say(f"    {len(messages)} messages to the city's guardians: "
                 + ", ".join(f"{k} {v}" for k, v in self.report.messages_by_kind.most_common()))
        await self.collect_staff_alerts()

    async def collect_staff_alerts(self) -> None:
        """Safety alerts to the staff the schools registered, by the duty each was told for (the sink's
        recipient role): a refused pickup to the safety contact, an absence to the class teacher."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            reply = await self._send("get", f"{self.urls.notification}/v1/sink", headers=self.city_h(),
                                     params={"recipient_prefix": self.staff_prefix(), "limit": 10_000})
            alerts = Counter(f"{m['cause_event_type']}/{m['recipient_role']}" for m in reply.json()
                             if m["kind"] != "emergency_broadcast" and m["status"] == "sent")
            if alerts["UnauthorisedPickupRefused/safety_contact"] >= self.truth.refused_pickups \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        self.report.staff_alerts = alerts
        if alerts["UnauthorisedPickupRefused/safety_contact"] < self.truth.refused_pickups:
            self.report.problems.append(f"{self.truth.refused_pickups} refused pickups, "
                                        f"{alerts['UnauthorisedPickupRefused/safety_contact']} told to a safety contact")
        self.say("    alerts to staff: " + (", ".join(f"{k} {v}" for k, v in alerts.most_common()) or "none"))

    def _guardian_prefix(self) -> str:
        return self.city.schools[0].students[0].guardian.guardian_id.rsplit("-", 1)[0] + "-"

    def _guardian_ids(self) -> set[str]:
        if not hasattr(self, "_gids"):
            self._gids = {s.guardian.guardian_id for s in self.city.participants}
        return self._gids

    # -- phase 7: the ledger and its offline verification (R24-R26) --------------------------------------
    async def audit(self) -> None:
        au = self.urls.audit
        await self._caught_up("audit", "billing.events")
        deadline = time.monotonic() + self.wait_timeout
        while True:  # the checkpoint is signed shortly after the entries are appended
            head = (await self._send("get", f"{au}/v1/ledger/head")).json()
            if head["size"] and head["size"] >= head["appended"]:
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        self.report.ledger_size = head["size"]
        key = (await self._send("get", f"{au}/v1/ledger/key")).json()["vkey"]
        note = (await self._send("get", f"{au}/v1/ledger/checkpoint")).text
        self.report.checkpoint = note.splitlines()[2] if len(note.splitlines()) > 2 else note
        with tempfile.TemporaryDirectory() as tmp:
            cp = Path(tmp, "latest.checkpoint")
            cp.write_text(note)
            self.report.checkpoint_verified = _verify(["checkpoint", str(cp), "--key", key])
            export = await self._send("get", f"{au}/v1/ledger/export", params={"size": head["size"]},
                                      headers=self._h("auditor", "aud-sim"))
            ex = Path(tmp, "ledger-export.jsonl")
            ex.write_bytes(export.content)
            self.report.export_verified = _verify(["audit", str(ex), "--key", key, "--checkpoint", str(cp)])
        schools = {s.school_id for s in self.city.schools}
        for district in self.city.districts:
            reply = await self._send("get", f"{au}/v1/audit/anomalies", headers=self.district_h(district),
                                     params={"district_id": district, "limit": 200})
            self.report.anomalies += [a for a in reply.json() if a.get("school_id") in schools or a.get("school_id") is None]
        self.say(f"    ledger of {head['size']} entries; checkpoint: {self.report.checkpoint_verified}; "
                 f"export: {self.report.export_verified}; {len(self.report.anomalies)} anomalies")


def _verify(args: list[str]) -> str:
    """Runs the offline verifier as an auditor would: a separate process with no network."""
    done = subprocess.run([sys.executable, "-m", "services.audit.verifier", *args], capture_output=True, text=True,
                          timeout=120)
    verdict = {0: "verified", 1: "FAILED", 2: "usage error", 3: "verified, with findings"}.get(done.returncode, "?")
    detail = (done.stdout or done.stderr).strip().splitlines()
    return f"{verdict}" + (f" ({detail[0][:100]})" if detail and done.returncode else "")


def _tick(reported: tuple[int, ...], expected: tuple[int, ...]) -> str:
    return "✓" if reported == expected else "✗"


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def summary(sim: Simulation, elapsed: float) -> str:
    """The newcomer's summary: what happened in the simulated city, in plain words, with real numbers."""
    t, r = sim.truth, sim.report
    lines = [f"\nWhat happened in the simulated city (seed {sim.city.seed}, school day {sim.day}, {elapsed:.0f} s):",
             f"  Applications  {t.applied} of {t.eligible} families applied ({t.applied / max(t.eligible, 1):.1%}), "
             f"{t.hardship} in hardship; {r.filed} filed by the districts (simulator: {t.filed})",
             f"  Children      {t.checked_in} checked in, {t.absent} absent; {t.collected} collected by their guardians "
             f"({t.extended_care} from extended care, {t.late_pickups} late pickups cared for free); "
             f"{t.refused_pickups} handover to an unauthorised person refused",
             f"  Records       attendance accepted {r.accepted}; the resent batches were recognised as "
             f"{r.duplicates} duplicates; {sum(r.rejected.values())} invalid records rejected with reasons "
             f"({', '.join(f'{k}: {v}' for k, v in r.rejected.items()) or 'none'})",
             f"  Messages      {r.messages} to guardians ({', '.join(f'{k} {v}' for k, v in r.messages_by_kind.most_common()) or 'none'})"]
    for m in r.sample_sms:
        lines.append(f"                SMS to {m['to_masked']}: {m['body']}")
    lines += _safety(sim)
    if r.statements:
        fees = (f"  Fees          charged {_yuan(r.charged_fen)}, waived for hardship {_yuan(r.waived_fen)} in "
                f"{r.statements} statements (simulator expected {_yuan(t.charged_fen)} / {_yuan(t.waived_fen)}); "
                f"{r.payouts} staff payouts")
    elif r.to_date_schools:
        fees = (f"  Fees          charged {_yuan(r.to_date_charged_fen)}, waived for hardship {_yuan(r.to_date_waived_fen)} "
                f"so far in {sim.period} on actual attendance (billing, provisional until month end; simulator "
                f"expected {_yuan(t.charged_fen)} / {_yuan(t.waived_fen)} "
                f"{_tick((r.to_date_charged_fen, r.to_date_waived_fen), (t.charged_fen, t.waived_fen))})")
    else:
        fees = (f"  Fees          the day's fees come to {_yuan(t.charged_fen)} charged and {_yuan(t.waived_fen)} waived "
                f"for hardship (simulator); month-end {sim.period}: {r.settlement_note or 'no statements'}")
    lines += [fees,
              f"                {r.payments_accepted} payments ({_yuan(t.paid_fen)}), {r.disclosures} disclosures "
              f"published (fee income {_yuan(r.fee_income_fen)})",
              f"  Ledger        {r.ledger_size} entries; latest signed checkpoint root {r.checkpoint or '—'}",
              f"                offline verification: checkpoint {r.checkpoint_verified or 'not run'}, "
              f"full export {r.export_verified or 'not run'}",
              f"  Anomalies     {len(r.anomalies)} found"
              + (": " + "; ".join(sorted({a.get('check', '?') for a in r.anomalies})) if r.anomalies else "")]
    if r.problems:
        lines.append("  Not shown     " + "\n                ".join(r.problems))
    return "\n".join(lines)


def _safety(sim: Simulation) -> list[str]:
    """Children's safety at work (issue 16): the removed staff member, the alerts staff received, the notice."""
    t, r = sim.truth, sim.report
    removal = r.removal
    if removal.get("refused"):
        kept = ("the child stayed until an admitted teacher handed them over"
                if (removal.get("stayed"), removal.get("status")) == (True, "collected")
                else f"the child {'stayed' if removal.get('stayed') else 'was NOT kept'}; the admitted teacher's "
                     f"check-out: {removal.get('handover')}")
        staff = (f"  Staff         district removed {r.staff_removed} staff member; their next check-out was "
                 f"{'refused' if removal['refused'] != 'accepted' else 'ACCEPTED'} ({removal['refused']}) and {kept}")
    else:
        staff = f"  Staff         removal not shown (simulator: {t.staff_removed} planned)"
    absences = r.staff_alerts["StudentAbsent/class_teacher"]
    why = ("" if absences or not t.absent else f" (of {t.absent} absent: attendance raises an absence while the "
           "session runs, for children enrolled before it started, and this day is replayed after the fact)")
    alerts = [f"  Alerts        {absences} absence alerts reached class teachers{why}",
              f"                {r.staff_alerts['UnauthorisedPickupRefused/safety_contact']} refused-pickup alerts reached "
              f"the school's safety contact (notification's sink, by the duty each was told for)"]
    b = r.broadcast
    notice = (f"  Broadcast     1 emergency broadcast ({b.get('title')}): {r.broadcast_families} families and "
              f"{r.broadcast_staff} staff, {b.get('handed_over')} handed to the channel, {b.get('failed')} failed "
              f"(simulator expected {t.broadcast_families} families "
              f"{_tick((r.broadcast_families,), (t.broadcast_families,))})" if b else "  Broadcast     none sent")
    return [staff, *alerts, notice]


def as_json(sim: Simulation) -> str:
    from dataclasses import asdict

    return json.dumps({"truth": asdict(sim.truth), "report": asdict(sim.report)}, ensure_ascii=False, default=str)
