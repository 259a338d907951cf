"""Notification's units of work: the consumer's (contacts, names, intents queued as messages) and the
sender's (claiming and marking messages); imports the kit, never another service."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import text
from sqlmodel import select

from services.notification.db.broadcasts import BroadcastStore
from services.notification.db.tables import (
    CLAIMED_COLUMNS,
    COLUMN_TYPES,
    CONTACT_COLUMNS,
    MESSAGE_COLUMNS,
    Claimed,
    Contact,
    ContactRow,
    Found,
    Intent,
    Known,
    MessageRow,
    NewContact,
    PreferenceRow,
    Waiting,
    preference_of,
)
from services.notification.domain.policy import StaffMember
from shared.messaging.db import Database
from shared.messaging.uow import UnitOfWork


class NotificationUoW(BroadcastStore, UnitOfWork):
    """Repository methods over the tables above, in the one transaction of the unit of work."""

    def __init__(self, db: Database, *, producer: str, on_commit: Callable[[int], None] | None = None,
                 on_messages: Callable[[], None] | None = None) -> None:
        super().__init__(db, producer=producer, on_commit=on_commit)
        self._on_messages = on_messages  # told after a commit that queued messages, so the sender starts at once
        self._added_pending = 0

    async def commit(self) -> None:
        await super().commit()
        if self._added_pending and self._on_messages:
            self._on_messages()
        self._added_pending = 0

    # -- contacts -------------------------------------------------------------------------------
    async def contact(self, recipient_id: str) -> ContactRow | None:
        return await self.session.get(ContactRow, recipient_id)

    async def upsert_contact(self, row: ContactRow, student_ids: list[str] | None = None) -> None:
        await self.session.merge(row)
        await self.session.flush()  # visible to this batch's plain-SQL reads whatever the autoflush setting
        if student_ids is not None:
            await self.session.execute(text("delete from student_guardians where guardian_id = :g"), {"g": row.recipient_id})
            if student_ids:
                await self.session.execute(
                    text("insert into student_guardians (student_id, guardian_id) select unnest(cast(:s as text[])), :g "
                         "on conflict do nothing"),
                    {"s": list(dict.fromkeys(student_ids)), "g": row.recipient_id},
                )

    async def write_contacts(self, contacts: list[NewContact]) -> None:
        """Upsert guardians' contacts (one per guardian) and replace each one's student links, one
        statement each. district_id is left out: an existing contact keeps the district it was given."""
        if not contacts:
            return
        arrays = {c: [getattr(r, c) for r in contacts] for c in CONTACT_COLUMNS}
        sources = ", ".join(f"cast(:{c} as {'boolean' if c == 'consent' else 'text'}[])" for c in CONTACT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in CONTACT_COLUMNS[1:])
        await self.session.execute(
            text(f"insert into contacts ({', '.join(CONTACT_COLUMNS)}) select * from unnest({sources})"
                 f" on conflict (recipient_id) do update set {updates}"), arrays)
        await self.session.execute(text("delete from student_guardians where guardian_id = any(cast(:g as text[]))"),
                                   {"g": [r.recipient_id for r in contacts]})
        await self.add_links(list(dict.fromkeys((s, r.recipient_id) for r in contacts for s in r.student_ids)))

    async def add_links(self, pairs: list[tuple[str, str]]) -> None:
        """(student, guardian) links, in one statement; links already there stay."""
        if pairs:
            await self.session.execute(
                text("insert into student_guardians (student_id, guardian_id)"
                     " select * from unnest(cast(:s as text[]), cast(:g as text[])) on conflict do nothing"),
                {"s": [s for s, _ in pairs], "g": [g for _, g in pairs]})

    async def recipients(self, where: str, params: dict) -> list[tuple[Contact, PreferenceRow | None]]:
        """Contacts matching `where` (over contacts c) with their preferences, in one round trip."""
        result = await self.session.execute(
            text(f"select c.recipient_id, c.role, c.locale, c.phone_masked, c.consent,"
                 f" c.phone_sealed is not null as has_phone, c.push_token_sealed is not null as has_push,"
                 f" p.recipient_id as p_id, p.channels, p.quiet_start, p.quiet_end, p.locale as p_locale"
                 f" from contacts c left join preferences p on p.recipient_id = c.recipient_id"
                 f" where {where} order by c.recipient_id"),
            params,
        )
        return [(Contact(r.recipient_id, r.role, r.locale, r.phone_masked, r.consent, r.has_phone, r.has_push),
                 preference_of(r)) for r in result.all()]

    async def guardians_of_many(self, student_ids: list[str]) -> dict[str, tuple[Found, str | None]]:
        """Guardians (with preferences) and the name of each student, in one round trip."""
        result = await self.session.execute(
            text("select sg.student_id as sid, s.name as student_name, c.recipient_id, c.role, c.locale, c.phone_masked,"
                 " c.consent, c.phone_sealed is not null as has_phone, c.push_token_sealed is not null as has_push,"
                 " p.recipient_id as p_id, p.channels, p.quiet_start, p.quiet_end, p.locale as p_locale"
                 " from student_guardians sg join contacts c on c.recipient_id = sg.guardian_id"
                 " left join students s on s.student_id = sg.student_id"
                 " left join preferences p on p.recipient_id = c.recipient_id"
                 " where sg.student_id = any(cast(:ids as text[])) order by sg.student_id, c.recipient_id"),
            {"ids": student_ids},
        )
        out: dict[str, tuple[Found, str | None]] = {}
        for r in result.all():
            found, _ = out.setdefault(r.sid, ([], r.student_name))
            found.append((Contact(r.recipient_id, r.role, r.locale, r.phone_masked, r.consent, r.has_phone,
                                  r.has_push), preference_of(r)))
        return out

    async def guardians_at(self, school_id: str) -> Found:
        return await self.recipients("c.role = 'guardian' and c.school_id = :s", {"s": school_id})

    async def auditors_for(self, district_id: str | None) -> Found:
        return await self.recipients("c.role = 'auditor' and (c.district_id is null or c.district_id = :d)",
                                     {"d": district_id or ""})

    async def these(self, ids: list[str]) -> Found:
        return await self.recipients("c.recipient_id = any(cast(:ids as text[]))", {"ids": ids})

    # -- staff and programmes (issue 16) ---------------------------------------------------------
    async def write_staff(self, staff: list[tuple[str, str, str, list[str], list[str], list[str]]]) -> None:
        """(staff id, school, name, roles, classes, programmes) as registered, one statement; the district's
        decision on a member is left as it is."""
        if staff:
            await self.session.execute(
                text("insert into staff (staff_id, school_id, name, roles, class_ids, programme_ids)"
                     " select v.id, v.school, v.name, string_to_array(v.roles, ','), string_to_array(v.classes, ','),"
                     " string_to_array(v.programmes, ',')"
                     " from unnest(cast(:id as text[]), cast(:school as text[]), cast(:name as text[]),"
                     " cast(:roles as text[]), cast(:classes as text[]), cast(:programmes as text[]))"
                     " as v(id, school, name, roles, classes, programmes)"
                     " on conflict (staff_id) do update set school_id = excluded.school_id, name = excluded.name,"
                     " roles = excluded.roles, class_ids = excluded.class_ids, programme_ids = excluded.programme_ids"),
                {c: [row[i] if i < 3 else ",".join(row[i]) for row in staff]
                 for i, c in enumerate(("id", "school", "name", "roles", "classes", "programmes"))})

    async def decide_staff(self, decisions: list[tuple[str, str, str, datetime]]) -> None:
        """(staff id, school, admission, effective at): the latest decision by effective time wins, whatever
        order the decisions arrive in; a decision may come before the member's registration."""
        if decisions:
            await self.session.execute(
                text("insert into staff (staff_id, school_id, admission, admission_at)"
                     " select * from unnest(cast(:id as text[]), cast(:school as text[]), cast(:admission as text[]),"
                     " cast(:at as timestamptz[]))"
                     " on conflict (staff_id) do update set admission = excluded.admission,"
                     " admission_at = excluded.admission_at"
                     " where staff.admission_at is null or staff.admission_at <= excluded.admission_at"),
                {c: [d[i] for d in decisions] for i, c in enumerate(("id", "school", "admission", "at"))})

    async def reachable_staff(self, school_ids: list[str], named: list[str]) -> list[tuple[StaffMember, Contact,
                                                                                          PreferenceRow | None]]:
        """Staff of these schools, and staff named by id, that have a contact and are neither suspended nor
        removed (R28), with their preferences, in one round trip."""
        result = await self.session.execute(
            text("select st.staff_id, st.school_id as staff_school, st.roles, st.programme_ids,"
                 " c.recipient_id, c.role, c.locale, c.phone_masked, c.consent,"
                 " c.phone_sealed is not null as has_phone, c.push_token_sealed is not null as has_push,"
                 " p.recipient_id as p_id, p.channels, p.quiet_start, p.quiet_end, p.locale as p_locale"
                 " from staff st join contacts c on c.recipient_id = st.staff_id and c.role = 'staff'"
                 " left join preferences p on p.recipient_id = c.recipient_id"
                 " where coalesce(st.admission, 'admitted') = 'admitted'"
                 " and (st.school_id = any(cast(:schools as text[])) or st.staff_id = any(cast(:named as text[])))"
                 " order by st.staff_id"),
            {"schools": school_ids, "named": named})
        return [(StaffMember(r.staff_id, r.staff_school, tuple(r.roles), tuple(r.programme_ids)),
                 Contact(r.recipient_id, r.role, r.locale, r.phone_masked, r.consent, r.has_phone, r.has_push),
                 preference_of(r)) for r in result.all()]

    async def remember_programmes(self, programmes: dict[str, tuple[str, str]]) -> None:
        """Programme id -> (school, name), one statement."""
        if programmes:
            await self.session.execute(
                text("insert into programmes (programme_id, school_id, name)"
                     " select * from unnest(cast(:p as text[]), cast(:s as text[]), cast(:n as text[]))"
                     " on conflict (programme_id) do update set school_id = excluded.school_id, name = excluded.name"),
                {"p": list(programmes), "s": [s for s, _ in programmes.values()], "n": [n for _, n in programmes.values()]})

    async def upsert_pairs(self, table: str, key: str, value: str, pairs: dict[str, str]) -> None:
        """Key -> value rows of a two-column text table (the key its primary key), one statement; the latest
        value wins."""
        if pairs:
            await self.session.execute(
                text(f"insert into {table} ({key}, {value}) select * from unnest(cast(:k as text[]), cast(:v as text[]))"
                     f" on conflict ({key}) do update set {value} = excluded.{value}"),
                {"k": list(pairs), "v": list(pairs.values())})

    async def remember_schools(self, schools: dict[str, str]) -> None:
        """School id -> name as families know it."""
        await self.upsert_pairs("school_names", "school_id", "name", schools)

    async def known(self, staff_ids: list[str], programme_ids: list[str], school_ids: list[str] = ()) -> Known:
        """The names of these staff members, programmes and schools that are known, in one round trip."""
        if not staff_ids and not programme_ids and not school_ids:
            return Known()
        result = await self.session.execute(
            text("select 's', staff_id, name from staff where staff_id = any(cast(:s as text[])) and name is not null"
                 " union all select 'p', programme_id, name from programmes where programme_id = any(cast(:p as text[]))"
                 " union all select 'c', school_id, name from school_names where school_id = any(cast(:c as text[]))"),
            {"s": staff_ids, "p": programme_ids, "c": list(school_ids)})
        known = Known()
        for kind, key, name in result.all():
            {"s": known.staff, "p": known.programmes, "c": known.schools}[kind][key] = name
        return known

    # -- students and preferences ---------------------------------------------------------------
    async def student_names(self, student_ids: list[str]) -> dict[str, str]:
        """Names of these students that are known, in one round trip."""
        if not student_ids:
            return {}
        result = await self.session.execute(
            text("select student_id, name from students where student_id = any(cast(:ids as text[]))"),
            {"ids": student_ids})
        return {r[0]: r[1] for r in result.all()}

    async def remember_students(self, students: dict[str, tuple[str, str | None]]) -> None:
        """Students' names (and schools) by id, in one statement; a school left out keeps the known one."""
        if students:
            await self.session.execute(
                text("insert into students (student_id, name, school_id)"
                     " select * from unnest(cast(:s as text[]), cast(:n as text[]), cast(:sc as text[]))"
                     " on conflict (student_id) do update set name = excluded.name,"
                     " school_id = coalesce(excluded.school_id, students.school_id)"),
                {"s": list(students), "n": [n for n, _ in students.values()], "sc": [sc for _, sc in students.values()]})

    async def preferences(self, recipient_id: str) -> PreferenceRow | None:
        return await self.session.get(PreferenceRow, recipient_id)

    async def save_preferences(self, row: PreferenceRow) -> None:
        await self.session.merge(row)

    # -- messages -------------------------------------------------------------------------------
    async def add_messages(self, rows: list[Intent]) -> set[tuple[uuid.UUID, str]]:
        """Insert intents in one statement (one array per column); those whose (event, recipient) already
        has a message are skipped. Returns the (event, recipient) pairs whose message is new."""
        if not rows:
            return set()
        arrays = {c: [getattr(r, c) for r in rows] for c in MESSAGE_COLUMNS}
        arrays["params"] = [json.dumps(r.params, ensure_ascii=False) for r in rows]
        arrays["plan"] = [",".join(r.plan) for r in rows]
        select_list = ", ".join(
            "cast(v.params as jsonb)" if c == "params" else "string_to_array(v.plan, ',')" if c == "plan" else f"v.{c}"
            for c in MESSAGE_COLUMNS)
        sources = ", ".join(f"cast(:{c} as {COLUMN_TYPES.get(c, 'text')}[])" for c in MESSAGE_COLUMNS)
        result = await self.session.execute(
            text(f"insert into messages ({', '.join(MESSAGE_COLUMNS)}) select {select_list}"
                 f" from unnest({sources}) as v({', '.join(MESSAGE_COLUMNS)})"
                 f" on conflict (event_id, recipient_id) do nothing returning event_id, recipient_id, status"),
            arrays,
        )
        new = result.all()
        self._added_pending += sum(1 for r in new if r[2] == "pending")
        return {(r[0], r[1]) for r in new}

    async def awaiting(self, recipient_ids: list[str]) -> list[Waiting]:
        """Messages waiting for these recipients' contacts, locked, with the recipients' preferences."""
        result = await self.session.execute(
            text("select m.id, m.event_id, m.out_id, m.recipient_id, m.recipient_role, m.kind, m.template, m.params,"
                 " m.student_id, m.school_id, m.cause_event_type, m.event_at, m.correlation_id, m.urgent,"
                 " p.recipient_id as p_id, p.channels, p.quiet_start, p.quiet_end, p.locale as p_locale"
                 " from messages m left join preferences p on p.recipient_id = m.recipient_id"
                 " where m.recipient_id = any(cast(:ids as text[])) and m.status = 'awaiting_contact'"
                 " order by m.id for update of m"),
            {"ids": recipient_ids},
        )
        return [Waiting(r.id, Intent(event_id=r.event_id, out_id=r.out_id, recipient_id=r.recipient_id,
                                     recipient_role=r.recipient_role, kind=r.kind, template=r.template, params=r.params,
                                     student_id=r.student_id, school_id=r.school_id,
                                     cause_event_type=r.cause_event_type, event_at=r.event_at,
                                     correlation_id=r.correlation_id, urgent=r.urgent), preference_of(r))
                for r in result.all()]

    async def release(self, waiting: list[Waiting]) -> None:
        """Store what intake decided for messages that waited for their contact, in one statement."""
        if not waiting:
            return
        self._added_pending += sum(1 for w in waiting if w.msg.status == "pending")
        cols = {"id": "bigint", "status": "text", "plan": "text", "channel": "text", "locale": "text",
                "not_before": "timestamptz", "next_at": "timestamptz", "to_masked": "text", "body": "text"}
        values = {"id": [w.id for w in waiting], "status": [w.msg.status for w in waiting],
                  "plan": [",".join(w.msg.plan) for w in waiting], "channel": [w.msg.channel for w in waiting],
                  "locale": [w.msg.locale for w in waiting], "not_before": [w.msg.not_before for w in waiting],
                  "next_at": [w.msg.next_attempt_at for w in waiting], "to_masked": [w.msg.to_masked for w in waiting],
                  "body": [w.msg.body for w in waiting]}
        arrays = ", ".join(f"cast(:{c} as {t}[])" for c, t in cols.items())
        await self.session.execute(
            text(f"update messages m set status = v.status, plan = string_to_array(v.plan, ','), channel = v.channel,"
                 f" locale = v.locale, not_before = v.not_before, next_attempt_at = v.next_at,"
                 f" to_masked = v.to_masked, body = v.body"
                 f" from unnest({arrays}) as v({', '.join(cols)}) where m.id = v.id"),
            values)

    async def recent_messages(self, limit: int, recipient_id: str | None = None, status: str | None = None,
                              kind: str | None = None, recipient_prefix: str | None = None) -> list[MessageRow]:
        query = select(MessageRow).order_by(MessageRow.id.desc()).limit(limit)
        if recipient_id:
            query = query.where(MessageRow.recipient_id == recipient_id)
        if recipient_prefix:
            query = query.where(MessageRow.recipient_id.startswith(recipient_prefix, autoescape=True))
        if status:
            query = query.where(MessageRow.status == status)
        if kind:
            query = query.where(MessageRow.kind == kind)
        return list((await self.session.exec(query)).all())


# -- the sender's side: claim, look up, mark --------------------------------------------------------

class SenderUoW(NotificationUoW):
    """Statements of the delivery loop; each round is short transactions around the provider calls, on
    asyncpg alone (prepared statements over arrays, nothing for SQLAlchemy to compile or wrap per row)."""

    async def claim(self, limit: int, lease_seconds: float, token: uuid.UUID, day: date) -> list[Claimed]:
        """Take due messages (and those whose sender died mid-send: their lease ran out) for this round,
        with each recipient's sealed addresses and SMS count on `day`, in one statement. SKIP LOCKED lets
        several replicas claim side by side without waiting on each other."""
        rows = await (await self.connection()).fetch(_CLAIM, limit, token, lease_seconds, day)
        return [Claimed._make(r) for r in rows]

    async def renew(self, token: uuid.UUID, ids: list[int], lease_seconds: float) -> None:
        """Extend the lease of the messages a round still holds (it is still sending them)."""
        await (await self.connection()).execute(
            "update messages set lease_until = now() + make_interval(secs => $3::float8)"
            " where id = any($1::bigint[]) and claim_token = $2::uuid and status = 'sending'",
            ids, token, lease_seconds)

    async def remember_cids(self, token: uuid.UUID, cids: dict[int, str]) -> None:
        """Stored before the push is sent, so a resend after a crash reuses it and JPush drops the copy."""
        if cids:
            await (await self.connection()).execute(
                "update messages m set push_cid = v.cid from unnest($1::bigint[], $2::text[]) as v(id, cid)"
                " where m.id = v.id and m.claim_token = $3::uuid",
                list(cids), list(cids.values()), token)

    async def mark(self, token: uuid.UUID, updates: list[dict]) -> set[int]:
        """Apply the round's outcomes to the rows this round still holds; returns their ids."""
        if not updates:
            return set()
        rows = await (await self.connection()).fetch(
            _MARK, *([u[c] for u in updates] for c in _MARK_COLUMNS), token)
        return {r[0] for r in rows}

    async def count_sent(self, channel: str, day: date, recipient_ids: list[str]) -> None:
        if recipient_ids:
            await (await self.connection()).execute(
                "insert into send_counts (recipient_id, channel, day, count)"
                " select r, $1::text, $2::date, count(*) from unnest($3::text[]) as r group by r"
                " on conflict (recipient_id, channel, day) do update set count = send_counts.count + excluded.count",
                channel, day, recipient_ids)


# Two index scans, not one sort of the whole queue: claims whose lease ran out first, then due messages in
# queue order (urgent first) off messages_queue, so a round costs the same with a city's 557,000 enrollment
# messages waiting as with ten.
_CLAIM = (
    "with stale as (select id, status as was from messages where status = 'sending' and lease_until < now()"
    "  order by lease_until limit $1::int for update skip locked),"
    " fresh as (select id, status as was from messages where status = 'pending' and next_attempt_at <= now()"
    "  order by urgent desc, id limit $1::int for update skip locked),"
    " due as (select * from stale union all (select * from fresh limit $1::int - (select count(*) from stale))),"
    " claimed as (update messages m set status = 'sending', claim_token = $2::uuid, claimed_at = now(),"
    "  lease_until = now() + make_interval(secs => $3::float8), attempts = m.attempts + 1,"
    "  channel_attempts = m.channel_attempts + 1, in_doubt = m.in_doubt or due.was = 'sending'"
    f"  from due where m.id = due.id returning {CLAIMED_COLUMNS})"
    " select m.*, c.phone_sealed, c.push_token_sealed, coalesce(s.count, 0)"
    " from claimed m left join contacts c on c.recipient_id = m.recipient_id"
    " left join send_counts s on s.recipient_id = m.recipient_id and s.channel = 'sms' and s.day = $4::date"
    " order by m.urgent desc, m.id"
)

_MARK_TYPES = {"id": "bigint", "status": "text", "channel": "text", "provider": "text", "next_at": "timestamptz",
               "in_doubt": "boolean", "reset": "boolean", "pmid": "text", "err": "text", "delivered_at": "timestamptz"}
_MARK_COLUMNS = tuple(_MARK_TYPES)
_MARK = (
    "update messages m set status = v.status, channel = v.channel, provider = v.provider,"
    " next_attempt_at = v.next_at, in_doubt = v.in_doubt,"
    " provider_message_id = coalesce(v.pmid, m.provider_message_id), last_error = v.err,"
    " delivered_at = v.delivered_at, lease_until = null, claim_token = null,"
    " channel_attempts = case when v.reset then 0 else m.channel_attempts end,"
    " push_cid = case when v.reset then null else m.push_cid end"
    f" from unnest({', '.join(f'${i}::{t}[]' for i, t in enumerate(_MARK_TYPES.values(), 1))})"
    f" as v({', '.join(_MARK_COLUMNS)})"
    f" where m.id = v.id and m.claim_token = ${len(_MARK_TYPES) + 1}::uuid and m.status = 'sending' returning m.id"
)
