"""Billing's unit of work: repositories over its tables plus buffered, multi-row writes for the hot
paths (attendance facts, journal lines, month-end chunks). Imports the kit, never another service."""
from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, Self

import asyncpg
from pydantic_core import to_json
from sqlalchemy import select, text
from sqlmodel import SQLModel

from services.billing.db.tables import (
    DisclosureRow,
    DistributionPlanRow,
    ExpenseRow,
    FeeAccountRow,
    FeeCapRow,
    FeeScheduleRow,
    HardshipVerificationRow,
    PaymentRow,
    ProgrammeRow,
    SettlementRunRow,
    StatementRow,
    SubsidyRow,
)
from services.billing.domain import ApprovedSchedule, DistributionPlan, FeeItem, Move
from shared.contracts.envelope import Event
from shared.messaging.uow import UnitOfWork, kafka_headers


def _arrays(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Columns of a row list, to pass as one array parameter each (one statement for many rows)."""
    return [[row[i] for row in rows] for i in range(width)] if rows else [[] for _ in range(width)]


class _Head(NamedTuple):
    """The envelope fields the Kafka headers carry (what `kafka_headers` reads)."""

    event_id: str
    type: str
    version: int
    correlation_id: str
    producer: str


# An instant as the envelope serialises it; a month-end stamps thousands of events in one instant.
_instant = functools.lru_cache(maxsize=16)(to_json)


class _Row(asyncpg.Record):
    """An asyncpg row whose columns read as attributes too (`row.student_id`), like SQLAlchemy's."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# The fee accounts of a programme with something to settle in a month, with their month of
# attendance; month-end settlement and the month-to-date view select exactly these (R17).
# Parameters: $1 programme, $2 period, $3 after this student, $4 cutoff, $5 first day, $6 limit.
_ACCOUNTS_IN_MONTH = (
    "select a.student_id, a.guardian_id, a.hardship, a.extended_care, a.credit_fen, a.credit_payment_id, "
    "a.prepaid_period, a.withdrawn_on, a.application_id, "
    "coalesce(m.attended_mask, 0) as attended_mask, coalesce(m.extended_care_mask, 0) as extended_care_mask, "
    "h.verified_by, h.verified_by_role, p.deposited_to_account as credit_account{extra} "
    "from fee_accounts a "
    "left join attendance_months m on m.programme_id = a.programme_id and m.period = $2::text "
    "and m.student_id = a.student_id "
    "left join hardship_verifications h on h.application_id = a.application_id "
    "left join payments p on p.payment_id = a.credit_payment_id "
    "where a.programme_id = $1::text and a.student_id > $3::text "
    "and (a.opened_at is null or a.opened_at < $4::timestamptz) "
    "and (a.active or a.withdrawn_on > $5::date or a.credit_fen > 0) "
    # A month with no presence and no money held has nothing to settle (holidays, a family that
    # never came): no statement, so idle months publish nothing.
    "and (coalesce(m.attended_mask, 0) <> 0 or a.credit_fen > 0) "
)


class BillingUoW(UnitOfWork):
    """One transaction of billing. Attendance facts and journal lines are summed in memory and
    written at commit with one multi-row upsert each, in key order so concurrent transactions
    lock rows in the same order (no deadlocks)."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._presence: dict[tuple[str, str, str], list] = {}
        self._staff: dict[tuple[str, str, str, str], list[int]] = {}
        self._journal: dict[tuple[str, date, str, str, str], list[int]] = {}
        return self

    # -- rows by key, and rows to write at commit ------------------------------------------------
    def add(self, row: SQLModel) -> None:
        """Stage a new or changed row; it is written at commit, with the events published beside it."""
        self.session.add(row)

    async def payment(self, payment_id: str) -> PaymentRow | None:
        return await self.session.get(PaymentRow, payment_id)

    async def subsidy(self, subsidy_id: str) -> SubsidyRow | None:
        return await self.session.get(SubsidyRow, subsidy_id)

    async def expense(self, expense_id: str) -> ExpenseRow | None:
        return await self.session.get(ExpenseRow, expense_id)

    async def disclosure(self, disclosure_id: str) -> DisclosureRow | None:
        return await self.session.get(DisclosureRow, disclosure_id)

    async def cap_row(self, scope: str) -> FeeCapRow | None:
        return await self.session.get(FeeCapRow, scope)

    async def hardship_verification(self, application_id: str) -> HardshipVerificationRow | None:
        return await self.session.get(HardshipVerificationRow, application_id)

    async def settlement_run(self, run_id: str) -> SettlementRunRow | None:
        return await self.session.get(SettlementRunRow, run_id)

    async def read_only_snapshot(self) -> None:
        """Make the rest of this transaction one read-only snapshot: what it reads agrees with itself."""
        await self.session.execute(text("set transaction isolation level repeatable read, read only"))

    # -- buffered writes ------------------------------------------------------------------------
    def note_presence(self, school_id: str, programme_id: str, student_id: str, period: str,
                      day_bit: int, extended_care: bool) -> None:
        entry = self._presence.setdefault((programme_id, period, student_id), [school_id, 0, 0])
        entry[1] |= day_bit
        if extended_care:
            entry[2] |= day_bit

    def note_staff(self, school_id: str, programme_id: str, staff_id: str, period: str,
                   day_bit: int, extended_care: bool) -> None:
        entry = self._staff.setdefault((school_id, period, staff_id, programme_id), [0, 0])
        entry[1 if extended_care else 0] |= day_bit

    def post(self, school_id: str, posted_on: date, event_type: str, moves: Iterable[Move]) -> None:
        """Book an event's moves in the school's journal (R24): summed per day, type and account pair."""
        for move in moves:
            entry = self._journal.setdefault((school_id, posted_on, event_type, move.debit, move.credit), [0, 0])
            entry[0] += move.amount_fen
            entry[1] += 1

    async def commit(self) -> None:
        await self._flush_presence()
        await self._flush_staff()
        await self._flush_journal()
        await super().commit()

    async def _flush_presence(self) -> None:
        if not self._presence:
            return
        rows = [(*key, *value) for key, value in sorted(self._presence.items())]
        await (await self.connection()).execute(
            "insert into attendance_months (programme_id, period, student_id, school_id, attended_mask, extended_care_mask) "
            "select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[]) "
            "on conflict (programme_id, period, student_id) do update set "
            "attended_mask = attendance_months.attended_mask | excluded.attended_mask, "
            "extended_care_mask = attendance_months.extended_care_mask | excluded.extended_care_mask "
            "where (attendance_months.attended_mask | excluded.attended_mask) <> attendance_months.attended_mask "
            "or (attendance_months.extended_care_mask | excluded.extended_care_mask) <> attendance_months.extended_care_mask",
            *_arrays(rows, 6),
        )
        self._presence = {}

    async def _flush_staff(self) -> None:
        if not self._staff:
            return
        rows = [(*key, *value) for key, value in sorted(self._staff.items())]
        await (await self.connection()).execute(
            "insert into staff_months (school_id, period, staff_id, programme_id, session_mask, extended_care_mask) "
            "select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[]) "
            "on conflict (school_id, period, staff_id, programme_id) do update set "
            "session_mask = staff_months.session_mask | excluded.session_mask, "
            "extended_care_mask = staff_months.extended_care_mask | excluded.extended_care_mask "
            "where (staff_months.session_mask | excluded.session_mask) <> staff_months.session_mask "
            "or (staff_months.extended_care_mask | excluded.extended_care_mask) <> staff_months.extended_care_mask",
            *_arrays(rows, 6),
        )
        self._staff = {}

    async def _flush_journal(self) -> None:
        if not self._journal:
            return
        rows = [(*key, *value) for key, value in sorted(self._journal.items())]
        await (await self.connection()).execute(
            "insert into journal (school_id, posted_on, event_type, debit, credit, amount_fen, entries) "
            "select * from unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) "
            "on conflict (school_id, posted_on, event_type, debit, credit) do update set "
            "amount_fen = journal.amount_fen + excluded.amount_fen, entries = journal.entries + excluded.entries",
            *_arrays(rows, 7),
        )
        self._journal = {}

    # -- outbox, for events counted in thousands -------------------------------------------------
    def queue_event(self, event: Event, *, event_id: uuid.UUID, correlation_id: str,
                    occurred_at: datetime | None = None) -> None:
        """`publish` for a run that emits events by the thousand (month-end): the same bytes as
        `encode(new_envelope(...))`, but the payload is validated and serialised once, by its own
        model, instead of dumped to a dict, validated again as the envelope's and serialised from
        that; the envelope's few fields are framed around it with the same serialiser.
        tests/unit/billing/test_settlement_set.py holds the two byte for byte equal."""
        key = event.partition_key()
        head = _Head(str(event_id), event.type_name, event.version, correlation_id, self.producer)
        value = b"".join((
            b'{"event_id":"', head.event_id.encode(), b'","type":', to_json(head.type),
            b',"version":', b"%d" % head.version, b',"occurred_at":', _instant(occurred_at or datetime.now(UTC)),
            b',"producer":', to_json(head.producer), b',"correlation_id":', to_json(correlation_id),
            b',"causation_id":null,"key":', to_json(key), b',"payload":', event.model_dump_json().encode(), b"}",
        ))
        self.publish_raw(event.topic, key, value, kafka_headers(head))  # type: ignore[arg-type]

    # -- reference data --------------------------------------------------------------------------
    async def remember_school(self, school_id: str, district_id: str | None) -> None:
        await self.session.execute(
            text("insert into schools (school_id, district_id) values (:s, :d) on conflict (school_id) do update "
                 "set district_id = coalesce(excluded.district_id, schools.district_id)"),
            {"s": school_id, "d": district_id},
        )

    async def remember_schools(self, districts: dict[str, str | None]) -> None:
        """remember_school for many: a known district is kept where none is given."""
        if districts:
            rows = sorted(districts.items())
            await (await self.connection()).execute(
                "insert into schools (school_id, district_id) select * from unnest($1::text[], $2::text[]) "
                "on conflict (school_id) do update set district_id = coalesce(excluded.district_id, schools.district_id)",
                *_arrays(rows, 2))

    async def upsert_fee_accounts(self, accounts: dict[tuple[str, str], dict]) -> None:
        """Open or reopen accounts as filed (one statement); an account's opening time and its money stay."""
        if not accounts:
            return
        rows = [(student, programme, a["school_id"], a["district_id"], a["guardian_id"], a["enrollment_id"],
                 a["application_id"], a["hardship"], a["chargeable"], a["extended_care"], a["active"], a["withdrawn_on"],
                 a["opened_at"]) for (student, programme), a in sorted(accounts.items())]
        await (await self.connection()).execute(
            "insert into fee_accounts (student_id, programme_id, school_id, district_id, guardian_id, enrollment_id, "
            "application_id, hardship, chargeable, extended_care, active, withdrawn_on, opened_at) "
            "select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
            "$8::bool[], $9::bool[], $10::bool[], $11::bool[], $12::date[], $13::timestamptz[]) "
            "on conflict (student_id, programme_id) do update set school_id = excluded.school_id, "
            "district_id = excluded.district_id, guardian_id = excluded.guardian_id, "
            "enrollment_id = excluded.enrollment_id, application_id = excluded.application_id, "
            "hardship = excluded.hardship, chargeable = excluded.chargeable, extended_care = excluded.extended_care, "
            "active = excluded.active, withdrawn_on = excluded.withdrawn_on",
            *_arrays(rows, 13))

    async def withdraw_fee_accounts(self, withdrawals: dict[tuple[str, str], date]) -> None:
        """Close existing accounts from the given days; an account billing never opened is left unopened."""
        if withdrawals:
            rows = [(s, p, on) for (s, p), on in sorted(withdrawals.items())]
            await (await self.connection()).execute(
                "update fee_accounts a set active = false, withdrawn_on = u.day from "
                "unnest($1::text[], $2::text[], $3::date[]) as u(stu, prg, day) "
                "where a.student_id = u.stu and a.programme_id = u.prg", *_arrays(rows, 3))

    async def upsert_hardship_verifications(self, verifications: dict[str, dict]) -> None:
        if verifications:
            rows = [(app, v["student_id"], v["verified_by"], v["verified_by_role"])
                    for app, v in sorted(verifications.items())]
            await (await self.connection()).execute(
                "insert into hardship_verifications (application_id, student_id, verified_by, verified_by_role) "
                "select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]) on conflict (application_id) "
                "do update set verified_by = excluded.verified_by, verified_by_role = excluded.verified_by_role",
                *_arrays(rows, 4))

    async def district_of(self, school_id: str) -> str | None:
        return (await self.session.execute(text("select district_id from schools where school_id = :s"),
                                           {"s": school_id})).scalar()

    async def schools(self, district_id: str | None = None) -> list[str]:
        if district_id is None:
            result = await self.session.execute(text("select school_id from schools order by school_id"))
        else:
            result = await self.session.execute(
                text("select school_id from schools where district_id = :d order by school_id"), {"d": district_id})
        return [r[0] for r in result]

    async def programme(self, programme_id: str) -> ProgrammeRow | None:
        return await self.session.get(ProgrammeRow, programme_id)

    async def account(self, student_id: str, programme_id: str, *, lock: bool = False) -> FeeAccountRow | None:
        stmt = select(FeeAccountRow).where(FeeAccountRow.student_id == student_id,
                                           FeeAccountRow.programme_id == programme_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalars().first()

    async def accounts_of_student(self, student_id: str) -> list[FeeAccountRow]:
        stmt = select(FeeAccountRow).where(FeeAccountRow.student_id == student_id).order_by(FeeAccountRow.programme_id)
        return list((await self.session.execute(stmt)).scalars())

    # -- caps and schedules ----------------------------------------------------------------------
    async def cap(self, scope: str) -> int | None:
        row = await self.session.get(FeeCapRow, scope)
        return row.cap_per_session_fen if row else None

    async def schedule(self, fee_schedule_id: str, *, lock: bool = False) -> FeeScheduleRow | None:
        stmt = select(FeeScheduleRow).where(FeeScheduleRow.fee_schedule_id == fee_schedule_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalars().first()

    async def schedules(self, *, school_id: str | None = None, programme_id: str | None = None,
                        status: str | None = None) -> list[FeeScheduleRow]:
        stmt = select(FeeScheduleRow).order_by(FeeScheduleRow.effective_from, FeeScheduleRow.fee_schedule_id)
        if school_id:
            stmt = stmt.where(FeeScheduleRow.school_id == school_id)
        if programme_id:
            stmt = stmt.where(FeeScheduleRow.programme_id == programme_id)
        if status:
            stmt = stmt.where(FeeScheduleRow.status == status)
        return list((await self.session.execute(stmt)).scalars())

    async def approved_schedules(self, school_id: str) -> dict[str, list[ApprovedSchedule]]:
        """Per programme, the approved schedules of a school: all that may ever be charged (R18)."""
        out: dict[str, list[ApprovedSchedule]] = {}
        for row in await self.schedules(school_id=school_id, status="approved"):
            items = [FeeItem(i["category"], i["amount_fen"], i["unit"]) for i in row.items]
            out.setdefault(row.programme_id, []).append(ApprovedSchedule.of(row.fee_schedule_id, row.effective_from, items))
        return out

    async def plans(self, school_id: str) -> list[DistributionPlan]:
        """The school's plans the district approved (R10): the only ones payouts may follow (R20)."""
        stmt = select(DistributionPlanRow).where(DistributionPlanRow.school_id == school_id,
                                                 DistributionPlanRow.review_status == "approved")
        return [DistributionPlan(r.plan_id, r.effective_from, r.per_session_fen, r.extended_care_per_session_fen)
                for r in (await self.session.execute(stmt)).scalars()]

    async def plan_row(self, plan_id: str, *, lock: bool = False) -> DistributionPlanRow | None:
        return await self.session.get(DistributionPlanRow, plan_id, with_for_update=lock)

    async def plan_rows(self, *, school_id: str | None = None, district_id: str | None = None,
                        status: str | None = None) -> list[DistributionPlanRow]:
        """Plans by school, by the district reviewing them and by review status, oldest first."""
        stmt = select(DistributionPlanRow)
        if school_id is not None:
            stmt = stmt.where(DistributionPlanRow.school_id == school_id)
        if district_id is not None:
            stmt = stmt.where(DistributionPlanRow.district_id == district_id)
        if status is not None:
            stmt = stmt.where(DistributionPlanRow.review_status == status)
        stmt = stmt.order_by(DistributionPlanRow.school_id, DistributionPlanRow.effective_from)
        return list((await self.session.execute(stmt)).scalars())

    # -- month-end -------------------------------------------------------------------------------
    async def programmes_with_accounts(self, school_id: str) -> list[str]:
        result = await self.session.execute(
            text("select distinct programme_id from fee_accounts where school_id = :s order by programme_id"),
            {"s": school_id})
        return [r[0] for r in result]

    async def provided_mask(self, programme_id: str, period: str) -> int:
        """Days the programme's session actually ran in the month: any student was present (R17)."""
        result = await self.session.execute(
            text("select coalesce(bit_or(attended_mask), 0) from attendance_months "
                 "where programme_id = :p and period = :per"), {"p": programme_id, "per": period})
        return int(result.scalar() or 0)

    async def accounts_to_settle(self, programme_id: str, period: str, first: date, cutoff: datetime,
                                 after: str, limit: int) -> list[Any]:
        """The next chunk of accounts with something to settle and no statement for the month yet,
        locked against payments arriving meanwhile, with their month of attendance and hardship
        verification."""
        return await (await self.connection()).fetch(
            _ACCOUNTS_IN_MONTH.format(extra="") +
            "and not exists (select 1 from statements s where s.programme_id = a.programme_id "
            "and s.period = $2::text and s.student_id = a.student_id) "
            "order by a.student_id limit $6::int for update of a",
            programme_id, period, after, cutoff, first, limit, record_class=_Row)

    async def accounts_in_month(self, programme_id: str, period: str, first: date, cutoff: datetime,
                                after: str, limit: int) -> list[Any]:
        """The same accounts settlement picks, read without locking (a preview must never hold up a
        payment), settled or not: `settled` says whether the month's statement already exists."""
        return await (await self.connection()).fetch(
            _ACCOUNTS_IN_MONTH.format(
                extra=", exists (select 1 from statements s where s.programme_id = a.programme_id "
                      "and s.period = $2::text and s.student_id = a.student_id) as settled") +
            "order by a.student_id limit $6::int",
            programme_id, period, after, cutoff, first, limit, record_class=_Row)

    async def school_known(self, school_id: str) -> bool:
        return bool((await self.session.execute(text("select 1 from schools where school_id = :s"),
                                                {"s": school_id})).scalar())

    async def insert_statements(self, programme_id: str, period: str, school_id: str, period_start: date,
                                period_end: date, settled_at: datetime, rows: list[tuple]) -> set[str]:
        """A chunk's statements of one programme and month in one statement, what they share passed once;
        returns the ids actually inserted (a concurrent run may have won some)."""
        if not rows:
            return set()
        result = await (await self.connection()).fetch(
            "insert into statements (settlement_id, student_id, programme_id, period, school_id, guardian_id, "
            "period_start, period_end, hardship, sessions_provided, sessions_attended, extended_care_sessions, "
            "charged_fen, waived_fen, paid_fen, refund_due_fen, outstanding_fen, lines, charge_ids, settled_at) "
            "select sid, stu, $1::text, $2::text, $3::text, gdn, $4::date, $5::date, hs, sp, sa, ec, ch, wv, pd, rf, os, "
            "lines::jsonb, string_to_array(cids, ','), $6::timestamptz from unnest($7::text[], $8::text[], $9::text[], "
            "$10::bool[], $11::int[], $12::int[], $13::int[], $14::bigint[], $15::bigint[], $16::bigint[], "
            "$17::bigint[], $18::bigint[], $19::text[], $20::text[]) "
            "as u(sid, stu, gdn, hs, sp, sa, ec, ch, wv, pd, rf, os, lines, cids) "
            "on conflict do nothing returning settlement_id",
            programme_id, period, school_id, period_start, period_end, settled_at, *_arrays(rows, 14),
        )
        return {r[0] for r in result}

    async def settle_accounts(self, programme_id: str, changes: list[tuple[str, int, int]]) -> None:
        """Per student: add to what is owed, take from the credit held (one statement for the chunk)."""
        if not changes:
            return
        await (await self.connection()).execute(
            "update fee_accounts a set outstanding_fen = a.outstanding_fen + u.owed, "
            "credit_fen = a.credit_fen - u.used "
            "from unnest($2::text[], $3::bigint[], $4::bigint[]) as u(stu, owed, used) "
            "where a.programme_id = $1::text and a.student_id = u.stu",
            programme_id, *_arrays(changes, 3),
        )

    async def insert_refunds(self, rows: list[dict]) -> None:
        if not rows:
            return
        names = ["refund_id", "school_id", "student_id", "guardian_id", "payment_id", "settlement_id", "amount_fen",
                 "reason", "paid_from_account", "issued_at"]
        await (await self.connection()).execute(
            f"insert into refunds ({', '.join(names)}) select * from unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::timestamptz[])",
            *([r[n] for r in rows] for n in names),
        )

    async def staff_sessions(self, school_id: str, period: str) -> dict[str, tuple[int, int]]:
        """Per staff member: sessions run and extended-care sessions supervised in the month (R20)."""
        result = await self.session.execute(
            text("select staff_id, session_mask, extended_care_mask from staff_months "
                 "where school_id = :s and period = :per order by staff_id"), {"s": school_id, "per": period})
        out: dict[str, tuple[int, int]] = {}
        for staff_id, sessions, care in result:
            s, c = out.get(staff_id, (0, 0))
            out[staff_id] = (s + int(sessions).bit_count(), c + int(care).bit_count())
        return out

    async def insert_payouts(self, rows: list[dict]) -> set[str]:
        if not rows:
            return set()
        result = await self.session.execute(
            text("insert into payouts (payout_id, school_id, staff_id, period, plan_id, sessions, extended_care_sessions, "
                 "amount_fen, issued_at) select * from unnest(cast(:id as text[]), cast(:s as text[]), cast(:st as text[]), "
                 "cast(:per as text[]), cast(:pl as text[]), cast(:n as int[]), cast(:c as int[]), cast(:fen as bigint[]), "
                 "cast(:at as timestamptz[])) on conflict do nothing returning payout_id"),
            {"id": [r["payout_id"] for r in rows], "s": [r["school_id"] for r in rows],
             "st": [r["staff_id"] for r in rows], "per": [r["period"] for r in rows],
             "pl": [r["plan_id"] for r in rows], "n": [r["sessions"] for r in rows],
             "c": [r["extended_care_sessions"] for r in rows], "fen": [r["amount_fen"] for r in rows],
             "at": [r["issued_at"] for r in rows]},
        )
        return {r[0] for r in result}

    async def scheduled_runs_done(self, period: str) -> set[str]:
        result = await self.session.execute(
            text("select school_id from settlement_runs where period = :per and trigger = 'schedule' "
                 "and status = 'done'"), {"per": period})
        return {r[0] for r in result}

    # -- payments --------------------------------------------------------------------------------
    async def open_statements(self, student_id: str, programme_id: str) -> list[StatementRow]:
        stmt = (select(StatementRow)
                .where(StatementRow.student_id == student_id, StatementRow.programme_id == programme_id,
                       StatementRow.outstanding_fen > 0)
                .order_by(StatementRow.period).with_for_update())
        return list((await self.session.execute(stmt)).scalars())

    async def statements_with_charges(self, charge_ids: list[str]) -> list[StatementRow]:
        if not charge_ids:
            return []
        stmt = select(StatementRow).where(StatementRow.charge_ids.overlap(charge_ids))  # type: ignore[attr-defined]
        return list((await self.session.execute(stmt)).scalars())

    # -- books -----------------------------------------------------------------------------------
    async def journal_lines(self, school_id: str, start: date, end: date) -> list[tuple[str, str, str, int]]:
        result = await self.session.execute(
            text("select event_type, debit, credit, sum(amount_fen) from journal where school_id = :s "
                 "and posted_on between :a and :b group by event_type, debit, credit order by 1, 2, 3"),
            {"s": school_id, "a": start, "b": end})
        return [(t, d, c, int(f)) for t, d, c, f in result]

    async def statement_totals(self, school_id: str, first_period: str, last_period: str) -> tuple[int, int, int]:
        """Students served (present at least once), and fees outstanding, on the months' statements."""
        row = (await self.session.execute(
            text("select count(distinct student_id) filter (where sessions_attended > 0), "
                 "coalesce(sum(outstanding_fen), 0), coalesce(sum(charged_fen), 0) from statements "
                 "where school_id = :s and period between :a and :b"),
            {"s": school_id, "a": first_period, "b": last_period})).one()
        return int(row[0]), int(row[1]), int(row[2])


__all__ = ["BillingUoW"]
