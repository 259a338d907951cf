"""Repository of the facts the checks compare money against: enrollments, fee standards, programmes,
distribution plans, sessions held, staff sessions, waivers, school accounts and districts (R25). A mixin of AuditUoW."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy import and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.audit.db.tables import (
    distribution_plans,
    fee_schedules,
    programmes,
    school_accounts,
    school_districts,
    sessions_held,
    staff_entered_applications,
    staff_sessions,
    student_cash,
    waivers,
)
from services.audit.domain.coercion import StaffEntered
from services.audit.domain.rules import DisclosedProgramme, Enrollment, FeeStandard, LabourFeePlan, StudentCash
from shared.messaging.db import Database

_CHUNK = 1000

# The statements a consumed batch runs, one per kind of fact, with arrays for parameters (asyncpg takes
# the types from the casts). Each key appears once in a statement: ON CONFLICT may touch a row only once.
# Every fact a batch noted, in one round trip (data-modifying CTEs); empty arrays insert nothing.
_NOTED_FACTS = (
    "with held as (insert into sessions_held (school_id, programme_id, session_date) "
    "select * from unnest($1::text[], $2::text[], $3::date[]) on conflict do nothing), "
    "staff as (insert into staff_sessions (school_id, staff_id, session_date) "
    "select * from unnest($4::text[], $5::text[], $6::date[]) on conflict do nothing) "
    "insert into school_districts (school_id, district_id) select * from unnest($7::text[], $8::text[]) "
    "on conflict (school_id) do update set district_id = excluded.district_id")
_FILE_ENROLLMENTS = ("insert into enrollments (student_id, programme_id, school_id, hardship, withdrawn_on) "
                    "select s, p, sc, h, null from unnest($1::text[], $2::text[], $3::text[], $4::bool[]) as t(s, p, sc, h) "
                    "on conflict (student_id, programme_id) do update "
                    "set school_id = excluded.school_id, hardship = excluded.hardship, withdrawn_on = null")
_WITHDRAW_ENROLLMENTS = ("insert into enrollments (student_id, programme_id, school_id, hardship, withdrawn_on) "
                        "select s, p, sc, false, w from unnest($1::text[], $2::text[], $3::text[], $4::date[]) "
                        "as t(s, p, sc, w) "
                        "on conflict (student_id, programme_id) do update set withdrawn_on = excluded.withdrawn_on")


def _columns(rows: Sequence[tuple], width: int) -> list[list]:
    """Rows as one list per column, the shape unnest takes."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


class KnownFacts:
    """Sessions held and staff days this process has committed. Nothing changes or deletes them, so one
    seen committed need not be written again: a check-out names the session and, mostly, the staff day
    its check-in already recorded. Forgotten wholesale when full; the database stays the truth."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.sessions: set[tuple[str, str, date]] = set()
        self.staff: set[tuple[str, str, date]] = set()

    def add(self, sessions: Iterable[tuple[str, str, date]], staff: Iterable[tuple[str, str, date]]) -> None:
        if len(self.sessions) + len(self.staff) > self.limit:
            self.sessions.clear()
            self.staff.clear()
        self.sessions.update(sessions)
        self.staff.update(staff)


_KNOWN: WeakKeyDictionary[Database, KnownFacts] = WeakKeyDictionary()  # per database, so per schema


class FactsStore:
    session: AsyncSession
    db: Database

    def _init_facts(self) -> None:
        # Attendance brings many records per session: keep the distinct facts of a batch and write
        # them once, at commit.
        self._sessions: set[tuple[str, str, date]] = set()
        self._staff: set[tuple[str, str, date]] = set()
        self._districts: dict[str, str] = {}
        self._written: tuple[list, list] = ([], [])

    def note_session_held(self, school_id: str, programme_id: str, day: date) -> None:
        self._sessions.add((school_id, programme_id, day))

    def note_staff_session(self, school_id: str, staff_id: str, day: date) -> None:
        self._staff.add((school_id, staff_id, day))

    def note_district(self, school_id: str, district_id: str | None) -> None:
        if district_id:
            self._districts[school_id] = district_id

    async def write_noted_facts(self) -> None:
        known = _KNOWN.setdefault(self.db, KnownFacts())
        sessions, staff = sorted(self._sessions - known.sessions), sorted(self._staff - known.staff)
        districts = sorted(self._districts.items())
        if sessions or staff or districts:
            await (await self._connection()).execute(_NOTED_FACTS, *_columns(sessions, 3), *_columns(staff, 3),
                                                     *_columns(districts, 2))
        self._written = (sessions, staff)
        self._sessions.clear()
        self._staff.clear()
        self._districts.clear()

    def noted_facts_committed(self) -> None:
        """Called once the transaction that wrote them committed (never before: a rollback loses them)."""
        _KNOWN.setdefault(self.db, KnownFacts()).add(*self._written)
        self._written = ([], [])

    async def _connection(self) -> asyncpg.Connection:
        """The transaction's asyncpg connection for the statements a consumed batch runs, beside the
        session the cold paths use: the session comes first, so both work in one transaction."""
        self.session  # noqa: B018 - opens the session, so the connection is its own, not a second one
        return await self.connection()  # type: ignore[attr-defined] - the kit's UnitOfWork

    # -- facts from enrollment and billing events ------------------------------------------------
    async def upsert_programme(self, programme_id: str, school_id: str, district_id: str, fee_fen: int,
                               extended_fen: int) -> None:
        stmt = pg_insert(programmes).values(programme_id=programme_id, school_id=school_id, district_id=district_id,
                                            fee_per_session_fen=fee_fen, extended_care_fee_per_session_fen=extended_fen)
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["programme_id"], set_={
            "school_id": school_id, "district_id": district_id, "fee_per_session_fen": fee_fen,
            "extended_care_fee_per_session_fen": extended_fen}))

    async def upsert_fee_standard(self, s: FeeStandard, effective_from: date) -> None:
        items = {k: [v[0], v[1]] for k, v in s.items.items()}
        stmt = pg_insert(fee_schedules).values(fee_schedule_id=s.fee_schedule_id, school_id=s.school_id,
                                               programme_id=s.programme_id, items=items, effective_from=effective_from)
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["fee_schedule_id"], set_={
            "school_id": s.school_id, "programme_id": s.programme_id, "items": items, "effective_from": effective_from}))

    async def add_distribution_plan(self, plan: LabourFeePlan, approval_ref: str, approved_on: date,
                                    effective_from: date, paid_from_account: str) -> None:
        """The first rates recorded under a plan id stand: billing refuses other rates under the same id,
        so a later version could only be a forgery, and payouts are judged against what was approved."""
        await self.session.execute(pg_insert(distribution_plans).values(
            plan_id=plan.plan_id, school_id=plan.school_id, per_session_fen=plan.per_session_fen,
            extended_care_per_session_fen=plan.extended_care_per_session_fen, approval_ref=approval_ref,
            approved_on=approved_on, effective_from=effective_from, paid_from_account=paid_from_account,
        ).on_conflict_do_nothing())

    async def add_staff_entered(self, rows: Sequence[StaffEntered]) -> None:
        """Applications entered on families' behalf (R1); a redelivery changes nothing."""
        if rows:
            await self.session.execute(pg_insert(staff_entered_applications).values([
                {"application_id": r.application_id, "school_id": r.school_id, "programme_id": r.programme_id,
                 "submitted_by": r.submitted_by, "submitted_at": r.submitted_at, "event_id": r.event_id}
                for r in rows]).on_conflict_do_nothing())

    async def staff_entered_on(self, keys: Iterable[tuple[str, str, str]], since: datetime,
                               until: datetime) -> list[StaffEntered]:
        """The applications each (school, programme, staff member) entered on families' behalf in [since, until]."""
        a = staff_entered_applications.c
        wanted = sorted(set(keys))
        if not wanted:
            return []
        rows = await self.session.execute(select(staff_entered_applications).where(
            tuple_(a.school_id, a.programme_id, a.submitted_by).in_(wanted),
            a.submitted_at.between(since, until)))
        return [StaffEntered(r.application_id, r.school_id, r.programme_id, r.submitted_by, r.submitted_at, r.event_id)
                for r in rows]

    async def file_enrollments(self, filed: dict[tuple[str, str], tuple[str, bool]]) -> None:
        """(student, programme) -> (school, hardship): enrolled from now on, whatever was withdrawn before."""
        rows = sorted((student, programme, school, hardship) for (student, programme), (school, hardship) in filed.items())
        if rows:
            await (await self._connection()).execute(_FILE_ENROLLMENTS, *_columns(rows, 4))

    async def withdraw_enrollments(self, withdrawn: dict[tuple[str, str], tuple[str, date]]) -> None:
        """(student, programme) -> (school, effective day); a withdrawal seen before its filing is kept too."""
        rows = sorted((student, programme, school, day) for (student, programme), (school, day) in withdrawn.items())
        if rows:
            await (await self._connection()).execute(_WITHDRAW_ENROLLMENTS, *_columns(rows, 4))

    async def add_school_account(self, school_id: str, account: str) -> None:
        await self.session.execute(pg_insert(school_accounts).values(school_id=school_id, account=account)
                                   .on_conflict_do_nothing())

    async def add_waiver(self, waiver_id: str, charge_id: str | None, reason: str, amount_fen: int) -> None:
        await self.session.execute(pg_insert(waivers).values(waiver_id=waiver_id, charge_id=charge_id, reason=reason,
                                                             amount_fen=amount_fen).on_conflict_do_nothing())

    # -- bulk reads for a batch of checks -----------------------------------------------------
    async def enrollments_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Enrollment]:
        pairs = sorted(set(keys))
        if not pairs:
            return {}
        students, progs = zip(*pairs)
        rows = (await self.session.execute(
            text("select e.student_id, e.programme_id, e.school_id, e.hardship, e.withdrawn_on from enrollments e "
                 "join unnest(cast(:s as text[]), cast(:p as text[])) as k(s, p) "
                 "on e.student_id = k.s and e.programme_id = k.p"),
            {"s": list(students), "p": list(progs)})).all()
        return {(r.student_id, r.programme_id): Enrollment(r.school_id, r.hardship, r.withdrawn_on) for r in rows}

    async def standards_of(self, ids: Iterable[str]) -> dict[str, FeeStandard]:
        rows = (await self.session.execute(select(fee_schedules).where(fee_schedules.c.fee_schedule_id.in_(set(ids))))).all()
        return {r.fee_schedule_id: FeeStandard(r.fee_schedule_id, r.school_id, r.programme_id,
                                               {k: (int(v[0]), str(v[1])) for k, v in r.items.items()}) for r in rows}

    async def programmes_of(self, ids: Iterable[str]) -> dict[str, DisclosedProgramme]:
        rows = (await self.session.execute(select(programmes).where(programmes.c.programme_id.in_(set(ids))))).all()
        return {r.programme_id: DisclosedProgramme(r.school_id, r.fee_per_session_fen, r.extended_care_fee_per_session_fen)
                for r in rows}

    async def plans_of(self, ids: Iterable[str]) -> dict[str, LabourFeePlan]:
        rows = (await self.session.execute(
            select(distribution_plans).where(distribution_plans.c.plan_id.in_(set(ids))))).all()
        return {r.plan_id: LabourFeePlan(r.plan_id, r.school_id, int(r.per_session_fen),
                                         int(r.extended_care_per_session_fen)) for r in rows}

    async def held_sessions_of(self, keys: Iterable[tuple[str, str]], first: date, last: date
                               ) -> dict[tuple[str, str], set[date]]:
        pairs = set(keys)
        if not pairs:
            return {}
        rows = (await self.session.execute(select(sessions_held).where(
            sessions_held.c.school_id.in_({s for s, _ in pairs}), sessions_held.c.programme_id.in_({p for _, p in pairs}),
            sessions_held.c.session_date.between(first, last)))).all()
        out: dict[tuple[str, str], set[date]] = {}
        for r in rows:
            out.setdefault((r.school_id, r.programme_id), set()).add(r.session_date)
        return out

    async def hardship_waived_of(self, charge_ids: Iterable[str]) -> dict[str, int]:
        rows = (await self.session.execute(
            select(waivers.c.charge_id, func.sum(waivers.c.amount_fen).label("fen"))
            .where(waivers.c.charge_id.in_(set(charge_ids)), waivers.c.reason == "hardship")
            .group_by(waivers.c.charge_id))).all()
        return {r.charge_id: int(r.fen) for r in rows}

    async def accounts_of(self, schools: Iterable[str]) -> dict[str, frozenset[str]]:
        rows = (await self.session.execute(select(school_accounts).where(school_accounts.c.school_id.in_(set(schools))))).all()
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(r.school_id, set()).add(r.account)
        return {k: frozenset(v) for k, v in out.items()}

    async def districts_of(self, schools: Iterable[str]) -> dict[str, str]:
        """Each school's district: as recorded, or as noted in this batch and not yet written."""
        wanted = set(schools)
        rows = (await self.session.execute(
            select(school_districts).where(school_districts.c.school_id.in_(wanted)))).all()
        return {r.school_id: r.district_id for r in rows} | {s: d for s, d in self._districts.items() if s in wanted}

    async def schools_of_district(self, district_id: str) -> list[str]:
        rows = (await self.session.execute(
            select(school_districts.c.school_id).where(school_districts.c.district_id == district_id))).all()
        return [r.school_id for r in rows]

    async def staff_sessions_of(self, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        """Distinct session days per (school, staff, YYYY-MM)."""
        out: dict[tuple[str, str, str], int] = {}
        for school, staff, month in set(keys):
            year, mon = int(month[:4]), int(month[5:7])
            first = date(year, mon, 1)
            after = date(year + (mon == 12), mon % 12 + 1, 1)
            count = (await self.session.execute(select(func.count()).select_from(staff_sessions).where(and_(
                staff_sessions.c.school_id == school, staff_sessions.c.staff_id == staff,
                staff_sessions.c.session_date >= first, staff_sessions.c.session_date < after)))).scalar_one()
            out[(school, staff, month)] = int(count)
        return out

    async def student_cash_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StudentCash]:
        pairs = set(keys)
        if not pairs:
            return {}
        rows = (await self.session.execute(select(student_cash).where(
            student_cash.c.school_id.in_({s for s, _ in pairs}), student_cash.c.student_id.in_({p for _, p in pairs})))).all()
        found = {(r.school_id, r.student_id): StudentCash(r.deposited_fen, r.claimed_fen) for r in rows}
        return {k: found.get(k, StudentCash()) for k in pairs}

    async def save_student_cash(self, cash: dict[tuple[str, str], StudentCash]) -> None:
        rows = [{"school_id": s, "student_id": st, "deposited_fen": c.deposited_fen, "claimed_fen": c.claimed_fen}
                for (s, st), c in sorted(cash.items())]
        for i in range(0, len(rows), _CHUNK):
            stmt = pg_insert(student_cash).values(rows[i:i + _CHUNK])
            await self.session.execute(stmt.on_conflict_do_update(
                index_elements=["school_id", "student_id"],
                set_={"deposited_fen": stmt.excluded.deposited_fen, "claimed_fen": stmt.excluded.claimed_fen}))
