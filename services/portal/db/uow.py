"""The portal's unit of work: the read models' writes (from the events) and the pages' reads, as named
methods; nothing outside this module writes SQL. Every statement runs on asyncpg."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from shared.messaging.uow import UnitOfWork


def _doc(value: Any) -> Any:
    """A jsonb column: the pool's connections decode it already (SQLAlchemy's asyncpg codec), text otherwise."""
    return json.loads(value) if isinstance(value, str) else value


def _rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


class PortalUoW(UnitOfWork):
    asyncpg_only = True

    # -- writes: the read models ------------------------------------------------------------------------
    async def save_programme(self, p: dict[str, Any]) -> None:
        await (await self.connection()).execute(
            "insert into programmes (programme_id, school_id, district_id, school_name, name, term, document, "
            "published_at) values ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::jsonb, "
            "$8::timestamptz) on conflict (programme_id) do update set school_id = excluded.school_id, "
            "district_id = excluded.district_id, school_name = coalesce(excluded.school_name, programmes.school_name), "
            "name = excluded.name, term = excluded.term, document = excluded.document, "
            "published_at = excluded.published_at where programmes.published_at <= excluded.published_at",
            p["programme_id"], p["school_id"], p["district_id"], p.get("school_name"), p["name"], p["term"],
            json.dumps(p, ensure_ascii=False), datetime.fromisoformat(p["published_at"]))

    async def save_disclosure(self, d: dict[str, Any]) -> None:
        await (await self.connection()).execute(
            "insert into disclosures (disclosure_id, school_id, district_id, period_start, period_end, document, "
            "published_at) values ($1::text, $2::text, $3::text, $4::date, $5::date, $6::jsonb, $7::timestamptz) "
            "on conflict (disclosure_id) do nothing",
            d["disclosure_id"], d["school_id"], d["district_id"], date.fromisoformat(d["period_start"]),
            date.fromisoformat(d["period_end"]), json.dumps(d, ensure_ascii=False),
            datetime.fromisoformat(d["published_at"]))

    async def save_checkpoint(self, log_id: str, tree_size: int, root_hash: str, note: str, at: datetime) -> None:
        await (await self.connection()).execute(
            "insert into checkpoints values ($1::text, $2::bigint, $3::text, $4::text, $5::timestamptz) "
            "on conflict (log_id) do update set tree_size = excluded.tree_size, root_hash = excluded.root_hash, "
            "signed_note = excluded.signed_note, published_at = excluded.published_at "
            "where checkpoints.tree_size < excluded.tree_size", log_id, tree_size, root_hash, note, at)

    async def save_enrollments(self, rows: Sequence[tuple]) -> None:
        """(enrollment_id, programme_id, school_id, district_id, student_id, student_name, guardian_id,
        extended_care, filed_at) each."""
        await (await self.connection()).executemany(
            "insert into enrollments values ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, "
            "$8::boolean, $9::timestamptz, null) on conflict (enrollment_id) do nothing", rows)

    async def withdraw_enrollments(self, rows: Sequence[tuple[str, date]]) -> None:
        await (await self.connection()).executemany(
            "update enrollments set withdrawn_on = $2::date where enrollment_id = $1::text", rows)

    async def save_check_ins(self, rows: Sequence[tuple[str, date, str, datetime]]) -> None:
        await (await self.connection()).executemany(
            "insert into days (student_id, session_date, school_id, checked_in_at) "
            "values ($1::text, $2::date, $3::text, $4::timestamptz) on conflict (student_id, session_date) "
            "do update set checked_in_at = least(coalesce(days.checked_in_at, excluded.checked_in_at), "
            "excluded.checked_in_at)", rows)

    async def save_check_outs(self, rows: Sequence[tuple]) -> None:
        """(student_id, session_date, school_id, checked_out_at, collected_by_name, relation, handed_over_by,
        extended_care_minutes) each."""
        await (await self.connection()).executemany(
            "insert into days (student_id, session_date, school_id, checked_out_at, collected_by_name, "
            "collected_by_relation, handed_over_by, extended_care_minutes) values ($1::text, $2::date, $3::text, "
            "$4::timestamptz, $5::text, $6::text, $7::text, $8::int) on conflict (student_id, session_date) do "
            "update set checked_out_at = excluded.checked_out_at, collected_by_name = excluded.collected_by_name, "
            "collected_by_relation = excluded.collected_by_relation, handed_over_by = excluded.handed_over_by, "
            "extended_care_minutes = excluded.extended_care_minutes", rows)

    async def save_staff(self, staff_id: str, name: str) -> None:
        await (await self.connection()).execute(
            "insert into staff values ($1::text, $2::text) on conflict (staff_id) do update set name = excluded.name",
            staff_id, name)

    async def add_exercise(self, rows: Sequence[tuple[str, date, str, int]]) -> None:
        """(student_id, session_date, school_id, exercise minutes) each; each activity is consumed once (inbox)."""
        await (await self.connection()).executemany(
            "insert into days (student_id, session_date, school_id, exercise_minutes) values ($1::text, $2::date, "
            "$3::text, $4::int) on conflict (student_id, session_date) do update set "
            "exercise_minutes = days.exercise_minutes + excluded.exercise_minutes", rows)

    async def day_by_district(self, district_id: str | None = None) -> tuple[date | None, list[dict[str, Any]]]:
        """The newest session day's figures per district: children checked in, their exercise minutes against
        30 (R14), and how many of those collected stayed for extended care (R13)."""
        conn = await self.connection()
        day = await conn.fetchval("select max(session_date) from days where checked_in_at is not null")
        if day is None:
            return None, []
        rows = await conn.fetch(
            "select p.district_id, count(*) as present, coalesce(avg(d.exercise_minutes), 0)::float as exercise_avg, "
            "count(*) filter (where d.exercise_minutes >= 30) as exercise_30, "
            "count(*) filter (where d.checked_out_at is not null) as collected, "
            "count(*) filter (where d.extended_care_minutes > 0) as extended "
            "from days d join (select distinct school_id, district_id from programmes) p using (school_id) "
            "where d.session_date = $1::date and d.checked_in_at is not null "
            "and ($2::text is null or p.district_id = $2::text) group by p.district_id order by p.district_id",
            day, district_id)
        return day, _rows(rows)

    async def save_anomaly(self, a: dict[str, Any]) -> None:
        await (await self.connection()).execute(
            "insert into anomalies values ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::text, "
            "$8::jsonb, $9::bigint[], $10::bigint, $11::timestamptz) on conflict (anomaly_id) do nothing",
            a["anomaly_id"], a["check"], a["severity"], a["school_id"], a.get("district_id"), a.get("amount_fen"),
            a["detail"], json.dumps(a.get("evidence") or {}, ensure_ascii=False), a.get("ledger_indexes") or [],
            a.get("ledger_tree_size"), datetime.fromisoformat(a["detected_at"]))

    async def save_statements(self, rows: Sequence[tuple]) -> None:
        """(settlement_id, event_id, guardian_id, student_id, school_id, period_start, FeeSettled payload,
        settled_at) each; a statement settled again (a later correction) replaces the earlier."""
        await (await self.connection()).executemany(
            "insert into statements values ($1::text, $2::uuid, $3::text, $4::text, $5::text, $6::date, $7::jsonb, "
            "$8::timestamptz) on conflict (settlement_id) do update set event_id = excluded.event_id, "
            "document = excluded.document, settled_at = excluded.settled_at "
            "where statements.settled_at <= excluded.settled_at",
            [(*r[:6], json.dumps(r[6], ensure_ascii=False), r[7]) for r in rows])

    async def save_messages(self, rows: Sequence[tuple], keep_days: int = 30) -> None:
        """(notification_id, recipient_id, kind, channel, student_id, school_id, sent_at) each; a recipient's
        messages older than `keep_days` go as new ones come."""
        conn = await self.connection()
        await conn.executemany(
            "insert into messages values ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
            "$7::timestamptz) on conflict (notification_id) do nothing", rows)
        await conn.execute(
            "delete from messages where recipient_id = any($1::text[]) and sent_at < now() - make_interval(days => $2)",
            sorted({r[1] for r in rows}), keep_days)

    async def save_pickup_persons(self, rows: Sequence[tuple]) -> None:
        """(pickup_person_id, student_id, guardian_id, name, relation, phone_masked, valid_until) each, as
        enrollment published them (or answered the guardian who named them)."""
        await (await self.connection()).executemany(
            "insert into pickup_persons values ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, "
            "$7::date, null) on conflict (pickup_person_id) do nothing", rows)

    async def revoke_pickup_persons(self, rows: Sequence[tuple[str, datetime]]) -> None:
        """(pickup_person_id, revoked at) each."""
        await (await self.connection()).executemany(
            "update pickup_persons set revoked_at = coalesce(revoked_at, $2::timestamptz) "
            "where pickup_person_id = $1::text", rows)

    # -- reads: the pages ----------------------------------------------------------------------------
    async def schools(self, district_id: str | None = None) -> list[dict[str, Any]]:
        """Every school with a published programme: id, district, name, programmes."""
        return _rows(await (await self.connection()).fetch(
            "select school_id, district_id, max(school_name) as school_name, count(*) as programmes "
            "from programmes where ($1::text is null or district_id = $1::text) "
            "group by school_id, district_id order by district_id, school_id", district_id))

    async def programmes_of(self, school_id: str) -> list[dict[str, Any]]:
        return [_doc(r["document"]) for r in await (await self.connection()).fetch(
            "select document from programmes where school_id = $1::text order by term desc, programme_id",
            school_id)]

    async def disclosures_of(self, school_id: str) -> list[dict[str, Any]]:
        return [_doc(r["document"]) for r in await (await self.connection()).fetch(
            "select document from disclosures where school_id = $1::text order by period_end desc", school_id)]

    async def disclosure(self, disclosure_id: str) -> dict[str, Any] | None:
        row = await (await self.connection()).fetchrow(
            "select document from disclosures where disclosure_id = $1::text", disclosure_id)
        return _doc(row["document"]) if row else None

    async def school_name(self, school_id: str) -> str | None:
        return await (await self.connection()).fetchval(
            "select max(school_name) from programmes where school_id = $1::text", school_id)

    async def checkpoint(self) -> dict[str, Any] | None:
        row = await (await self.connection()).fetchrow(
            "select log_id, tree_size, root_hash, signed_note, published_at from checkpoints "
            "order by published_at desc limit 1")
        return dict(row) if row else None

    async def children_of(self, guardian_id: str, day: date) -> list[dict[str, Any]]:
        """A guardian's enrolled children with their day: checked in, collected by whom, handed over by whom."""
        return _rows(await (await self.connection()).fetch(
            "select e.student_id, max(e.student_name) as student_name, max(e.school_id) as school_id, "
            "bool_or(e.extended_care) as extended_care, max(p.name) as programme_name, "
            "max(d.checked_in_at) as checked_in_at, max(d.checked_out_at) as checked_out_at, "
            "max(d.collected_by_name) as collected_by_name, max(d.collected_by_relation) as collected_by_relation, "
            "max(s.name) as handed_over_by, max(d.extended_care_minutes) as extended_care_minutes "
            "from enrollments e left join programmes p using (programme_id) "
            "left join days d on d.student_id = e.student_id and d.session_date = $2::date "
            "left join staff s on s.staff_id = d.handed_over_by "
            "where e.guardian_id = $1::text and (e.withdrawn_on is null or e.withdrawn_on > $2::date) "
            "group by e.student_id order by e.student_id", guardian_id, day))

    async def anomalies(self, district_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        rows = _rows(await (await self.connection()).fetch(
            "select * from anomalies where ($1::text is null or district_id = $1::text) "
            "order by detected_at desc limit $2::int", district_id, limit))
        for r in rows:
            r["evidence"] = _doc(r["evidence"])
        return rows

    async def anomaly(self, anomaly_id: str) -> dict[str, Any] | None:
        row = await (await self.connection()).fetchrow("select * from anomalies where anomaly_id = $1::text",
                                                       anomaly_id)
        if row is None:
            return None
        out = dict(row)
        out["evidence"] = _doc(out["evidence"])
        return out

    async def statements_of(self, guardian_id: str, limit: int = 24) -> list[dict[str, Any]]:
        """A guardian's statements, newest month first, each with the child's name and its event id."""
        rows = _rows(await (await self.connection()).fetch(
            "select s.settlement_id, s.event_id, s.student_id, s.school_id, s.document, "
            "(select max(e.student_name) from enrollments e where e.student_id = s.student_id) as student_name "
            "from statements s where s.guardian_id = $1::text order by s.period_start desc, s.settlement_id "
            "limit $2::int", guardian_id, limit))
        for r in rows:
            r["document"] = _doc(r["document"])
        return rows

    async def statement(self, guardian_id: str, settlement_id: str) -> dict[str, Any] | None:
        """One of the guardian's own statements (None for anyone else's)."""
        row = await (await self.connection()).fetchrow(
            "select settlement_id, event_id, document from statements where settlement_id = $1::text "
            "and guardian_id = $2::text", settlement_id, guardian_id)
        return {**dict(row), "document": _doc(row["document"])} if row else None

    async def messages_of(self, guardian_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The messages sent to a guardian, newest first, each with the child's name it was about."""
        return _rows(await (await self.connection()).fetch(
            "select m.notification_id, m.kind, m.channel, m.student_id, m.sent_at, "
            "(select max(e.student_name) from enrollments e where e.student_id = m.student_id) as student_name "
            "from messages m where m.recipient_id = $1::text order by m.sent_at desc limit $2::int",
            guardian_id, limit))

    async def pickup_persons_of(self, guardian_id: str, day: date) -> list[dict[str, Any]]:
        """Who may collect the guardian's enrolled children on `day` or later: not revoked, not expired."""
        return _rows(await (await self.connection()).fetch(
            "select p.pickup_person_id, p.student_id, p.name, p.relation, p.phone_masked, p.valid_until "
            "from pickup_persons p where p.revoked_at is null and p.valid_until >= $2::date and p.student_id in "
            "(select student_id from enrollments where guardian_id = $1::text and withdrawn_on is null) "
            "order by p.student_id, p.valid_until, p.pickup_person_id", guardian_id, day))
