"""Attendance's unit of work: every statement it runs, as named repository methods; imports the kit and
attendance's domain, never another service.

Bulk paths (a school system's batch, the timer sweep) read and write with one multi-row statement per
table (`unnest` of arrays), so a batch of thousands of records costs a handful of round trips.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from services.attendance.db.tables import (
    ADMITTED_STAFF,
    DAY_COLUMNS,
    GUARDIAN_COLUMNS,
    GUARDIANS,
    HANDOVER_COLUMNS,
    ROSTER_COLUMNS,
    TIMER_COLUMNS,
    DayKey,
    Filing,
    Judging,
    Row,
    Seen,
    as_columns,
    day_state,
    enrollment_of,
    json_value,
    names_of_guardians,
    positional,
    schedule_of,
    timetable_of,
)
from services.attendance.domain import DayState, Enrollment, Schedule
from shared.messaging.uow import UnitOfWork


class AttendanceUoW(UnitOfWork):
    """The kit's unit of work plus attendance's repositories, every statement on asyncpg."""

    asyncpg_only = True

    # -- the hot path on asyncpg -----------------------------------------------------------------
    # A school gate's record costs a handful of statements; through SQLAlchemy each one is compiled,
    # bound and wrapped, which at city scale was a third of attendance's CPU. These run on the unit of
    # work's asyncpg connection as prepared statements cached per connection; every parameter is cast
    # in the SQL, since asyncpg takes types from the statement, not from the Python values.
    async def _fetch(self, sql: str, params: dict[str, Any]) -> list[Row]:
        statement, names = positional(sql)
        rows = await (await self.connection()).fetch(statement, *(params[n] for n in names))
        return [Row(r) for r in rows]

    async def _run(self, sql: str, params: dict[str, Any]) -> None:
        statement, names = positional(sql)
        await (await self.connection()).execute(statement, *(params[n] for n in names))

    async def lock_schools(self, school_ids: Iterable[str]) -> None:
        """Serialise ingest per school for this transaction: judging a record reads the student's day, so
        two batches of one school must not interleave. One statement for all schools; `unnest` yields the
        sorted array in order, so two transactions take shared locks in the same order and cannot deadlock."""
        schools = sorted(set(school_ids))
        if schools:
            await self._run(
                ("select count(pg_advisory_xact_lock(hashtext('attendance-ingest:' || s)))"
                     " from unnest(cast(:s as text[])) as u(s)"),
                {"s": schools},
            )

    # -- from enrollment events ------------------------------------------------------------------
    async def save_enrollments(self, filings: Sequence[Filing]) -> None:
        """Upsert filed enrollments in one statement; each (student, programme) at most once per call."""
        if not filings:
            return
        c = as_columns([(f.student_id, f.programme_id, f.school_id, f.district_id, f.student_name, f.guardian_id,
                       json.dumps(sorted(set(f.authorised_pickup_ids))), f.class_teacher_id, f.extended_care, f.filed_at)
                      for f in filings], 10)
        # A re-filing replaces the pickup list; whoever dropped off it is remembered as revoked (R11).
        await self._run(
            (
                "insert into roster (student_id, programme_id, school_id, district_id, student_name, guardian_id,"
                " authorised_pickup_ids, revoked_pickup_ids, class_teacher_id, extended_care, active, withdrawn_from, filed_at)"
                " select u.s, u.p, u.sc, u.d, u.n, u.g, cast(u.pk as jsonb), '[]'::jsonb, u.t, u.e, true, null, u.f"
                " from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as text[]), cast(:d as text[]), cast(:e as text[]),"
                " cast(:f as text[]), cast(:g as text[]), cast(:h as text[]), cast(:i as boolean[]), cast(:j as timestamptz[]))"
                " as u(s, p, sc, d, n, g, pk, t, e, f)"
                " on conflict (student_id, programme_id) do update set school_id = excluded.school_id,"
                " district_id = excluded.district_id, student_name = excluded.student_name, guardian_id = excluded.guardian_id,"
                " authorised_pickup_ids = excluded.authorised_pickup_ids, class_teacher_id = excluded.class_teacher_id,"
                " extended_care = excluded.extended_care, active = true, withdrawn_from = null, filed_at = excluded.filed_at,"
                " revoked_pickup_ids = (select coalesce(jsonb_agg(distinct p), '[]'::jsonb) from jsonb_array_elements_text("
                "   roster.authorised_pickup_ids || roster.revoked_pickup_ids) as p"
                "   where not excluded.authorised_pickup_ids @> to_jsonb(p))"
            ),
            dict(zip("abcdefghij", c)),
        )

    async def withdraw(self, student_id: str, programme_id: str, effective_on: date) -> None:
        await self._run(
            ("update roster set active = false, withdrawn_from = :d where student_id = :s and programme_id = :p"),
            {"s": student_id, "p": programme_id, "d": effective_on},
        )

    async def save_programme(self, *, programme_id: str, school_id: str, district_id: str, sessions: list[dict],
                             extended_care_until_local: str | None, staff_ids: list[str], responsible_id: str,
                             published_at: datetime, activities: dict[str, str]) -> None:
        # A re-published programme replaces the staff list (admission can be withdrawn, R28); an older
        # publication arriving late never overwrites a newer one.
        await self._run(
            (
                "insert into programmes (programme_id, school_id, district_id, sessions, extended_care_until_local, staff_ids,"
                " responsible_id, published_at, activities) values (:p, :s, :d, cast(:sessions as jsonb), :ext,"
                " cast(:staff as jsonb), :resp, :at, cast(:acts as jsonb))"
                " on conflict (programme_id) do update set school_id = excluded.school_id, district_id = excluded.district_id,"
                " sessions = excluded.sessions, extended_care_until_local = excluded.extended_care_until_local,"
                " staff_ids = excluded.staff_ids, responsible_id = excluded.responsible_id, published_at = excluded.published_at,"
                " activities = excluded.activities where programmes.published_at <= excluded.published_at"
            ),
            {"p": programme_id, "s": school_id, "d": district_id, "sessions": json.dumps(sessions), "ext": extended_care_until_local,
             "staff": json.dumps(sorted(set(staff_ids))), "resp": responsible_id, "at": published_at,
             "acts": json.dumps(activities, ensure_ascii=False, sort_keys=True)},
        )

    async def save_staff_admissions(self, decisions: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        """(staff_id, school_id, admission, decided_by, effective_at): the latest decision per staff member
        wins; an older one arriving late does not (R28)."""
        await self._save_latest("staff_admissions", ("staff_id",), (("school_id", "text"), ("admission", "text"),
                                ("decided_by", "text"), ("effective_at", "timestamptz")), decisions)

    async def save_pickup_persons(self, decisions: Sequence[tuple[str, str, date, bool, datetime]]) -> None:
        """(student_id, pickup_person_id, valid_until, revoked, decided_at): the latest decision per person
        wins, so a late authorisation never undoes a revocation that came after it (R11)."""
        await self._save_latest("pickup_persons", ("student_id", "pickup_person_id"), (
            ("valid_until", "date"), ("revoked", "boolean"), ("decided_at", "timestamptz")), decisions)

    async def _save_latest(self, table: str, keys: tuple[str, ...], values: tuple[tuple[str, str], ...],
                           rows: Sequence[tuple]) -> None:
        """Upsert text-keyed rows whose last value column is when they were decided: a row decided earlier
        than the stored one changes nothing. Table and column names are this module's constants."""
        if not rows:
            return
        columns = [(k, "text") for k in keys] + list(values)
        names = ", ".join(name for name, _ in columns)
        casts = ", ".join(f"cast(:c{i} as {kind}[])" for i, (_, kind) in enumerate(columns))
        updates = ", ".join(f"{name} = excluded.{name}" for name, _ in values)
        decided = values[-1][0]
        await self._run(
            f"insert into {table} ({names}) select * from unnest({casts})"
            f" on conflict ({', '.join(keys)}) do update set {updates} where {table}.{decided} <= excluded.{decided}",
            {f"c{i}": column for i, column in enumerate(as_columns(rows, len(columns)))},
        )

    async def save_guardians(self, guardians: Sequence[tuple[str, str, str, Sequence[str]]]) -> None:
        """(guardian_id, name, school_id, student_ids), each guardian at most once: a guardian's student list
        replaces the previous one (R11, R22). Two statements for any number of guardians."""
        if not guardians:
            return
        pairs = sorted({(g, s): (name, school) for g, name, school, students in guardians for s in students}.items())
        guardian_ids = [g for g, _, _, _ in guardians]
        pg, ps = as_columns([key for key, _ in pairs], 2)
        names, schools = as_columns([value for _, value in pairs], 2)
        await self._run(
            (
                "delete from guardianships g where g.guardian_id = any(cast(:gs as text[])) and not exists ("
                " select 1 from unnest(cast(:pg as text[]), cast(:ps as text[])) as k(g, s)"
                " where k.g = g.guardian_id and k.s = g.student_id)"
            ),
            {"gs": guardian_ids, "pg": pg, "ps": ps},
        )
        if pairs:
            await self._run(
                (
                    "insert into guardianships (student_id, guardian_id, guardian_name, school_id)"
                    " select s, g, n, sc from unnest(cast(:ps as text[]), cast(:pg as text[]), cast(:n as text[]),"
                    " cast(:sc as text[])) as u(s, g, n, sc)"
                    " on conflict (student_id, guardian_id) do update set guardian_name = excluded.guardian_name,"
                    " school_id = excluded.school_id"
                ),
                {"ps": ps, "pg": pg, "n": names, "sc": schools},
            )

    # -- reads for judging records ---------------------------------------------------------------
    async def enrollments(self, pairs: Iterable[tuple[str, str]]) -> tuple[list[Enrollment], dict[str, str]]:
        """Enrollments of (school_id, student_id) pairs, withdrawn ones included (for a precise reason),
        and the names of the students' registered guardians by guardian id."""
        pairs = sorted(set(pairs))
        if not pairs:
            return [], {}
        schools, students = as_columns(pairs, 2)
        rows = await self._fetch(
            f"select {ROSTER_COLUMNS}, {GUARDIAN_COLUMNS} from roster r"
            " join unnest(cast(:sc as text[]), cast(:st as text[])) as k(school_id, student_id)"
            " on r.school_id = k.school_id and r.student_id = k.student_id" + GUARDIANS,
            {"sc": schools, "st": students},
        )
        names: dict[str, str] = {}
        enrollments = []
        for r in rows:
            guardians = names_of_guardians(r)
            names.update(guardians)
            enrollments.append(enrollment_of(r, guardians))
        return enrollments, names

    async def judging(self, records: Iterable[tuple[str, str, date, str]]) -> Judging:
        """Everything judging records needs, in one round trip: for each (school_id, student_id,
        session_date, record_id), whether the record already took effect, the student's enrollments at the
        school (withdrawn ones included), their guardians' names, the programmes' timetables, and the
        student's day in each programme on that date. At city scale nearly every group is one or two
        records, and each round trip costs more than its rows (a send and a receive on the socket)."""
        records = sorted(set(records))
        if not records:
            return Judging({}, [], {}, {}, {})
        schools, students, dates, record_ids = as_columns(records, 4)
        # Each programme's timetable comes once per group (on its first row), not on every row: at city scale
        # a group's records are of a few programmes, and decoding their sessions and staff per row cost more
        # than the rest of the row.
        first = "row_number() over (partition by p.programme_id) = 1"
        rows = await self._fetch(
            "select k.school_id as k_school_id, k.record_id as k_record_id, k.session_date as on_date,"
            " i.record_id is not null as seen, i.status as seen_status, i.reason_code as seen_reason_code,"
            " i.event_id as seen_event_id, i.content as seen_content, i.received_at as seen_at,"
            f" r.student_id is not null as enrolled, {ROSTER_COLUMNS}, {GUARDIAN_COLUMNS}, pp.pp_valid, pp.pp_revoked,"
            f" p.programme_id is not null and {first} as timetable,"
            f" case when {first} then p.school_id end as p_school_id, case when {first} then p.district_id end as p_district_id,"
            f" case when {first} then p.sessions end as sessions, p.extended_care_until_local, p.responsible_id,"
            f" case when {first} then p.activities end as activities, case when {first} then {ADMITTED_STAFF} end as staff_ids,"
            f" d.session_date is not null as has_day, {', '.join('d.' + c.strip() for c in DAY_COLUMNS.split(','))}"
            " from unnest(cast(:sc as text[]), cast(:st as text[]), cast(:dt as date[]), cast(:rc as text[]))"
            "   as k(school_id, student_id, session_date, record_id)"
            " left join ingest_records i on i.school_id = k.school_id and i.record_id = k.record_id"
            " left join roster r on r.school_id = k.school_id and r.student_id = k.student_id"
            " left join programmes p on p.programme_id = r.programme_id"
            " left join attendance_days d on d.student_id = r.student_id and d.programme_id = r.programme_id"
            "   and d.session_date = k.session_date" + GUARDIANS +
            # Pickup persons the guardians named (R11): valid on the record's day, or revoked.
            " left join lateral (select array_agg(pp.pickup_person_id) filter (where not pp.revoked"
            "   and pp.valid_until >= k.session_date) as pp_valid, array_agg(pp.pickup_person_id)"
            "   filter (where pp.revoked) as pp_revoked"
            "   from pickup_persons pp where pp.student_id = r.student_id) pp on true",
            {"sc": schools, "st": students, "dt": dates, "rc": record_ids},
        )
        seen: dict[tuple[str, str], Seen] = {}
        enrollments: dict[tuple[str, str], Enrollment] = {}
        names: dict[str, str] = {}
        schedules: dict[str, Schedule] = {}
        days: dict[DayKey, DayState] = {}
        for r in rows:
            if r.seen:
                content = None if r.seen_content is None else json_value(r.seen_content)
                seen[(r.k_school_id, r.k_record_id)] = Seen(r.seen_status, r.seen_reason_code, r.seen_event_id, content,
                                                            r.seen_at)
            if not r.enrolled:
                continue
            if (r.student_id, r.programme_id) not in enrollments:
                guardians = names_of_guardians(r)
                names.update(guardians)
                enrollments[(r.student_id, r.programme_id)] = enrollment_of(r, guardians, r.pp_valid or (), r.pp_revoked or ())
            if r.timetable:
                schedules[r.programme_id] = timetable_of(r.programme_id, r.p_school_id, r.p_district_id, r.sessions,
                                                       r.extended_care_until_local, r.staff_ids, r.responsible_id,
                                                       r.activities)
            if r.has_day:
                days[(r.student_id, r.programme_id, r.on_date)] = day_state(r)
        return Judging(seen, list(enrollments.values()), names, schedules, days)

    async def schedules(self, programme_ids: Iterable[str] | None = None) -> dict[str, Schedule]:
        """Published programmes by id; all of them when `programme_ids` is None. Their staff are those the
        district admits, as when records are judged (R28)."""
        sql = (f"select p.programme_id, p.school_id, p.district_id, p.sessions, p.extended_care_until_local,"
               f" p.responsible_id, p.activities, {ADMITTED_STAFF} as staff_ids from programmes p")
        if programme_ids is None:
            rows = await self._fetch(sql, {})
        else:
            rows = await self._fetch(sql + " where p.programme_id = any(cast(:p as text[]))", {"p": sorted(set(programme_ids))})
        return {r.programme_id: schedule_of(r) for r in rows}

    # -- writes for accepted records ---------------------------------------------------------------
    async def claim_records(self, rows: Sequence[tuple]) -> set[tuple[str, str]]:
        """Insert (school_id, record_id, kind, student_id, session_date, status, reason_code, event_id,
        content as JSON text); returns the (school_id, record_id) pairs that were new."""
        if not rows:
            return set()
        c = as_columns(rows, 9)
        rows = await self._fetch(
            (
                "insert into ingest_records (school_id, record_id, kind, student_id, session_date, status, reason_code, event_id,"
                " content) select u.a, u.b, u.c, u.d, u.e, u.f, u.g, u.h, cast(u.i as jsonb)"
                " from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as text[]), cast(:d as text[]),"
                " cast(:e as date[]), cast(:f as text[]), cast(:g as text[]), cast(:h as uuid[]), cast(:i as text[]))"
                " as u(a, b, c, d, e, f, g, h, i)"
                " on conflict do nothing returning school_id, record_id"
            ),
            dict(zip("abcdefghi", c)),
        )
        return {(r.school_id, r.record_id) for r in rows}

    async def keep_conflicts(self, rows: Sequence[tuple]) -> None:
        """(school_id, record_id, student_id, first_content, first_received_at, resent_content), contents as
        JSON text: resends that differ from what took effect, for review; a content already kept is not
        kept twice."""
        if not rows:
            return
        c = as_columns(rows, 6)
        await self._run(
            (
                "insert into record_conflicts (school_id, record_id, student_id, first_content, first_received_at,"
                " resent_content, resent_sha256)"
                " select u.s, u.r, u.st, cast(u.f as jsonb), u.fa, cast(u.n as jsonb), encode(sha256(convert_to(u.n, 'UTF8')), 'hex')"
                " from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as text[]), cast(:d as text[]),"
                " cast(:e as timestamptz[]), cast(:f as text[])) as u(s, r, st, f, fa, n)"
                " on conflict on constraint record_conflicts_once do nothing"
            ),
            dict(zip("abcdef", c)),
        )

    async def record_conflicts(self, school_id: str) -> list[Any]:
        """The resends of a school kept for review, oldest first."""
        return await self._fetch(
            "select record_id, student_id, first_content, first_received_at, resent_content, received_at"
            " from record_conflicts where school_id = :s order by id",
            {"s": school_id},
        )

    async def save_check_ins(self, rows: Sequence[tuple]) -> None:
        """(student_id, programme_id, session_date, school_id, checked_in_at, checked_in_by)."""
        if not rows:
            return
        c = as_columns(rows, 6)
        await self._run(
            (
                "insert into attendance_days (student_id, programme_id, session_date, school_id, checked_in_at, checked_in_by)"
                " select * from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as date[]), cast(:d as text[]),"
                " cast(:e as timestamptz[]), cast(:f as text[]))"
                " on conflict (student_id, programme_id, session_date) do update set checked_in_at = excluded.checked_in_at,"
                " checked_in_by = excluded.checked_in_by where attendance_days.checked_in_at is null"
            ),
            dict(zip("abcdef", c)),
        )

    async def save_check_outs(self, rows: Sequence[tuple]) -> None:
        """(student_id, programme_id, session_date, checked_out_at, handed_over_by, collected_by_id,
        collected_by_name, collected_by_relation, extended_care_minutes); the day row exists (checked in)."""
        if not rows:
            return
        c = as_columns(rows, 9)
        await self._run(
            (
                "update attendance_days d set checked_out_at = u.at, handed_over_by = u.staff, collected_by_id = u.cid,"
                " collected_by_name = u.cname, collected_by_relation = u.rel, extended_care_minutes = u.mins"
                " from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as date[]), cast(:d as timestamptz[]),"
                " cast(:e as text[]), cast(:f as text[]), cast(:g as text[]), cast(:h as text[]), cast(:i as int[]))"
                " as u(student_id, programme_id, session_date, at, staff, cid, cname, rel, mins)"
                " where d.student_id = u.student_id and d.programme_id = u.programme_id and d.session_date = u.session_date"
                " and d.checked_out_at is null"
            ),
            dict(zip("abcdefghi", c)),
        )

    async def save_activities(self, rows: Sequence[tuple]) -> None:
        """(school_id, record_id, student_id, programme_id, session_date, activity_id, tier, started_at,
        minutes, exercise_minutes, recorded_by)."""
        if not rows:
            return
        c = as_columns(rows, 11)
        await self._run(
            (
                "insert into activities (school_id, record_id, student_id, programme_id, session_date, activity_id, tier,"
                " started_at, minutes, exercise_minutes, recorded_by)"
                " select * from unnest(cast(:a as text[]), cast(:b as text[]), cast(:c as text[]), cast(:d as text[]),"
                " cast(:e as date[]), cast(:f as text[]), cast(:g as text[]), cast(:h as timestamptz[]), cast(:i as int[]),"
                " cast(:j as int[]), cast(:k as text[])) on conflict do nothing"
            ),
            dict(zip("abcdefghijk", c)),
        )

    # -- staff shift handovers (交接班, R11) --------------------------------------------------------------
    async def on_site(self, programme_id: str, day: date) -> list[str]:
        """Children checked in to the programme's session that day and not yet collected."""
        rows = await self._fetch("select student_id from attendance_days where programme_id = :p and session_date = :d"
                                 " and checked_in_at is not null and checked_out_at is null order by student_id",
                                 {"p": programme_id, "d": day})
        return [r.student_id for r in rows]

    async def lock_handover(self, school_id: str, handover_id: str) -> None:
        """Two deliveries of one handover record it once: the second waits for the first to commit."""
        await self._run("select pg_advisory_xact_lock(hashtext(:k))", {"k": f"handover:{school_id}:{handover_id}"})

    async def handover(self, school_id: str, handover_id: str) -> Row | None:
        rows = await self._fetch(f"select {HANDOVER_COLUMNS} from shift_handovers"
                                 " where school_id = :s and handover_id = :h", {"s": school_id, "h": handover_id})
        return rows[0] if rows else None

    async def save_handover(self, row: dict[str, Any]) -> None:
        await self._run(
            "insert into shift_handovers (school_id, handover_id, programme_id, session_date, from_staff_id, to_staff_id,"
            " handed_over_at, student_ids, refused, request_hash, recorded_by) values (:school_id, :handover_id,"
            " :programme_id, :session_date, :from_staff_id, :to_staff_id, :handed_over_at, :student_ids,"
            " cast(:refused as jsonb), :request_hash, :recorded_by)", row)

    async def handovers_on(self, school_id: str, day: date) -> list[Row]:
        return await self._fetch(f"select {HANDOVER_COLUMNS} from shift_handovers where school_id = :s"
                                 " and session_date = :d order by handed_over_at, handover_id", {"s": school_id, "d": day})

    async def excuse(self, key: DayKey, school_id: str, reason: str) -> None:
        """An excused student raises no absence (R12)."""
        student, programme, day = key
        await self._run(
            (
                "insert into attendance_days (student_id, programme_id, session_date, school_id, excused, excuse_reason)"
                " values (:s, :p, :d, :school, true, :r) on conflict (student_id, programme_id, session_date)"
                " do update set excused = true, excuse_reason = excluded.excuse_reason"
            ),
            {"s": student, "p": programme, "d": day, "school": school_id, "r": reason},
        )

    # -- the timer sweep ---------------------------------------------------------------------------
    async def swept(self, day: date, rule: str) -> set[str]:
        rows = await self._fetch("select programme_id from sweep_marks where session_date = :d and rule = :r",
                                {"d": day, "r": rule})
        return {r.programme_id for r in rows}

    async def mark_swept(self, programme_ids: Iterable[str], day: date, rule: str) -> None:
        ids = sorted(set(programme_ids))
        if ids:
            await self._run(
                ("insert into sweep_marks (programme_id, session_date, rule) select unnest(cast(:p as text[])), :d, :r"
                     " on conflict do nothing"),
                {"p": ids, "d": day, "r": rule},
            )

    async def absence_candidates(self, starts: dict[str, datetime], day: date, limit: int) -> list[Enrollment]:
        """Students of these programmes on the roster that day, enrolled before the start, with no
        check-in, excuse or absence yet. `starts` maps programme id to that day's session start."""
        if not starts:
            return []
        progs, instants = as_columns(sorted(starts.items()), 2)
        rows = await self._fetch(
            f"select {ROSTER_COLUMNS} from roster r"
            " join unnest(cast(:p as text[]), cast(:t as timestamptz[])) as s(programme_id, starts_at) on s.programme_id = r.programme_id"
            " left join attendance_days d on d.student_id = r.student_id and d.programme_id = r.programme_id and d.session_date = :d"
            " where (r.active or r.withdrawn_from > :d) and (r.filed_at is null or r.filed_at <= s.starts_at)"
            " and (d.student_id is null or (d.checked_in_at is null and d.checked_out_at is null and not d.excused"
            " and d.absent_at is null))"
            " order by r.programme_id, r.student_id limit :n",
            {"p": progs, "t": instants, "d": day, "n": limit},
        )
        return [enrollment_of(r) for r in rows]

    async def mark_absent(self, enrollments: Sequence[Enrollment], day: date, now: datetime) -> set[tuple[str, str]]:
        """Record the absence where nothing changed meanwhile; returns the (student, programme) pairs marked."""
        if not enrollments:
            return set()
        st, pr, sc = as_columns([(e.student_id, e.programme_id, e.school_id) for e in enrollments], 3)
        result = await self._fetch(
            (
                "insert into attendance_days (student_id, programme_id, session_date, school_id, absent_at)"
                " select s, p, cast(:d as date), sc, cast(:now as timestamptz)"
                " from unnest(cast(:st as text[]), cast(:pr as text[]), cast(:sc as text[])) as u(s, p, sc)"
                " on conflict (student_id, programme_id, session_date) do update set absent_at = excluded.absent_at"
                " where attendance_days.checked_in_at is null and attendance_days.checked_out_at is null"
                " and not attendance_days.excused and attendance_days.absent_at is null"
                " returning student_id, programme_id"
            ),
            {"st": st, "pr": pr, "sc": sc, "d": day, "now": now},
        )
        return {(r[0], r[1]) for r in result}

    async def on_site_candidates(self, programme_ids: Iterable[str], day: date, pending: str,
                                 limit: int) -> list[tuple[Enrollment, DayState]]:
        """Students of these programmes still on site that day whose `pending` timestamp column is unset."""
        column = TIMER_COLUMNS[pending]
        rows = await self._fetch(
            f"select {ROSTER_COLUMNS}, {', '.join('d.' + c.strip() for c in DAY_COLUMNS.split(','))} from attendance_days d"
            " join roster r on r.student_id = d.student_id and r.programme_id = d.programme_id"
            f" where d.programme_id = any(cast(:p as text[])) and d.session_date = :d and d.checked_in_at is not null"
            f" and d.checked_out_at is null and d.{column} is null order by d.programme_id, d.student_id limit :n",
            {"p": sorted(set(programme_ids)), "d": day, "n": limit},
        )
        return [(enrollment_of(r), day_state(r)) for r in rows]

    async def mark_on_site(self, pending: str, keys: Sequence[tuple[str, str]], day: date,
                           now: datetime) -> set[tuple[str, str]]:
        """Set the `pending` column where the child is still on site; returns the (student, programme) pairs marked."""
        if not keys:
            return set()
        column = TIMER_COLUMNS[pending]
        st, pr = as_columns(keys, 2)
        result = await self._fetch(
            (
                f"update attendance_days d set {column} = :now from unnest(cast(:st as text[]), cast(:pr as text[])) as u(s, p)"
                f" where d.student_id = u.s and d.programme_id = u.p and d.session_date = :d and d.{column} is null"
                " and d.checked_out_at is null returning d.student_id, d.programme_id"
            ),
            {"st": st, "pr": pr, "d": day, "now": now},
        )
        return {(r[0], r[1]) for r in result}

    # -- queries -----------------------------------------------------------------------------------
    async def district_of(self, school_id: str) -> str | None:
        rows = await self._fetch("select district_id from programmes where school_id = :s order by published_at desc limit 1",
                                {"s": school_id})
        if rows:
            return rows[0].district_id
        rows = await self._fetch("select district_id from roster where school_id = :s and district_id is not null limit 1",
                                {"s": school_id})
        return rows[0].district_id if rows else None

    async def roster(self, school_id: str) -> list[Any]:
        return await self._fetch(
            "select student_id, programme_id, student_name, extended_care from roster where school_id = :s and active"
            " order by student_id, programme_id",
            {"s": school_id},
        )

    async def day_rows(self, school_id: str, day: date) -> list[Any]:
        """Every roster entry of the school that covers the day, with that day's attendance if any."""
        return await self._fetch(
            "select r.student_id, r.programme_id, r.student_name, d.checked_in_at, d.checked_in_by, d.checked_out_at,"
            " d.handed_over_by, d.collected_by_id, d.collected_by_name, d.collected_by_relation,"
            " coalesce(d.extended_care_minutes, 0) as extended_care_minutes, coalesce(d.excused, false) as excused,"
            " d.excuse_reason, d.absent_at, d.extended_care_started_at, d.escalated_at"
            " from roster r left join attendance_days d on d.student_id = r.student_id and d.programme_id = r.programme_id"
            " and d.session_date = :d where r.school_id = :s and (r.active or r.withdrawn_from > :d)"
            " order by r.student_id, r.programme_id",
            {"s": school_id, "d": day},
        )

    async def exercise_minutes(self, school_id: str, day: date) -> dict[str, int]:
        rows = await self._fetch(
            "select student_id, sum(exercise_minutes) as minutes from activities where school_id = :s and session_date = :d"
            " group by student_id",
            {"s": school_id, "d": day},
        )
        return {r.student_id: int(r.minutes) for r in rows}

    async def attending(self, school_id: str, day: date) -> list[str]:
        rows = await self._fetch(
            "select distinct student_id from attendance_days where school_id = :s and session_date = :d and checked_in_at is not null",
            {"s": school_id, "d": day},
        )
        return [r.student_id for r in rows]
