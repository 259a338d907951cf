"""The statements of emergency broadcasts (issue 16), a part of notification's unit of work: record one
(once per caller and key), find the contacts it reaches after its cursor, move its cursor, list the open
ones, its delivery counts, the broadcasts a caller may read, and which district each school is in."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.db.tables import BroadcastRow, Found

# Who is reached: every guardian of the scope, and every staff member with a contact there (contacts of role
# "staff" with their school, from StaffRegistered).
ROLES = ["guardian", "staff"]


def _audience(row: BroadcastRow) -> tuple[str, dict]:
    """The contacts a broadcast reaches, as a condition over contacts c."""
    # A suspended or removed staff member hears nothing from the school (R28), as for safety alerts.
    roles = ("c.role = any(cast(:roles as text[])) and (c.role <> 'staff' or not exists (select 1 from staff st"
             " where st.staff_id = c.recipient_id and coalesce(st.admission, 'admitted') <> 'admitted'))")
    if row.scope == "school":
        return f"{roles} and c.school_id = :scope_id", {"roles": ROLES, "scope_id": row.scope_id}
    if row.scope == "district":
        return (f"{roles} and c.school_id in (select school_id from school_districts where district_id = :scope_id)",
                {"roles": ROLES, "scope_id": row.scope_id})
    return roles, {"roles": ROLES}


def _visible(role: str, school_id: str | None, district_id: str | None) -> tuple[str, dict]:
    """Broadcasts a caller may read, as a condition over broadcasts b: the city all; a district those to it
    or its schools and those its officers sent; a school those to it and those it sent."""
    if role == "city":
        return "true", {}
    if role == "district" and district_id:
        return ("((b.scope = 'district' and b.scope_id = :d) or (b.scope = 'school' and b.scope_id in"
                " (select school_id from school_districts where district_id = :d)) or b.issuer_district_id = :d)",
                {"d": district_id})
    if role == "school" and school_id:
        return "((b.scope = 'school' and b.scope_id = :s) or b.issuer_school_id = :s)", {"s": school_id}
    return "false", {}


# Whether an urgent message is due: the fan-out queues a chunk only when none is (see fan_out.py).
_URGENT_DUE = "select exists (select 1 from messages where status = 'pending' and urgent and next_attempt_at <= now())"


class BroadcastStore:
    session: AsyncSession

    async def district_of(self, school_id: str) -> str | None:
        result = await self.session.execute(text("select district_id from school_districts where school_id = :s"),
                                            {"s": school_id})
        return result.scalar_one_or_none()

    async def insert_broadcast(self, values: Mapping[str, Any]) -> bool:
        """Record a broadcast unless its id, or its caller's key, was recorded before; True if recorded."""
        inserted = await self.session.execute(
            text(f"insert into broadcasts ({', '.join(values)}) values ({', '.join(':' + k for k in values)})"
                 " on conflict do nothing returning broadcast_id"), dict(values))
        return inserted.scalar_one_or_none() is not None

    async def broadcast_by_key(self, issued_by: str, key: str, broadcast_id: uuid.UUID) -> BroadcastRow | None:
        found = (await self.session.execute(
            text("select * from broadcasts where (issued_by = :by and idempotency_key = :key) or broadcast_id = :id"),
            {"by": issued_by, "key": key, "id": broadcast_id})).mappings().first()
        return BroadcastRow.model_validate(dict(found)) if found else None

    async def lock_open_broadcast(self, broadcast_id: uuid.UUID) -> BroadcastRow | None:
        """The broadcast, locked for this transaction, if it is still being fanned out and no other process
        holds it."""
        found = (await self.session.execute(
            text("select * from broadcasts where broadcast_id = :b and fanned_out_at is null for update skip locked"),
            {"b": broadcast_id})).mappings().first()
        return BroadcastRow.model_validate(dict(found)) if found else None

    async def audience_after(self, row: BroadcastRow, size: int) -> Found:
        """The next `size` contacts the broadcast reaches, by recipient id after its cursor, with preferences."""
        where, params = _audience(row)
        return await self.recipients(  # type: ignore[attr-defined]  # NotificationUoW's
            f"c.recipient_id in (select c.recipient_id from contacts c where {where} and c.recipient_id > :cursor"
            f" order by c.recipient_id limit :size)", {**params, "cursor": row.cursor or "", "size": size})

    async def advance_broadcast(self, broadcast_id: uuid.UUID, cursor: str | None, queued: int, done: bool) -> None:
        await self.session.execute(
            text("update broadcasts set cursor = coalesce(:cursor, cursor), fanned_out = fanned_out + :n,"
                 " fanned_out_at = case when :done then now() end where broadcast_id = :b"),
            {"cursor": cursor, "n": queued, "done": done, "b": broadcast_id})

    async def open_broadcasts(self) -> list[uuid.UUID]:
        """Broadcasts not yet fanned out, oldest first."""
        return list((await self.session.execute(
            text("select broadcast_id from broadcasts where fanned_out_at is null order by issued_at"))).scalars())

    async def urgent_due(self) -> bool:
        return bool((await self.session.execute(text(_URGENT_DUE))).scalar_one())

    async def broadcast_counts(self, broadcast_id: uuid.UUID) -> list[tuple[str, str, int]]:
        """(channel, status, messages) of a broadcast."""
        result = await self.session.execute(
            text("select channel, status, count(*) from messages where event_id = :b group by channel, status"),
            {"b": broadcast_id})
        return [(channel, status, n) for channel, status, n in result.all()]

    async def broadcasts_visible(self, role: str, school_id: str | None, district_id: str | None,
                                 broadcast_id: uuid.UUID | None = None, limit: int = 100) -> list[BroadcastRow]:
        where, params = _visible(role, school_id, district_id)
        if broadcast_id is not None:
            where, params = f"{where} and b.broadcast_id = :id", {**params, "id": broadcast_id}
        result = await self.session.execute(
            text(f"select b.* from broadcasts b where {where} order by b.issued_at desc limit :limit"),
            {**params, "limit": limit})
        return [BroadcastRow.model_validate(dict(r)) for r in result.mappings().all()]

    async def remember_school_districts(self, pairs: Mapping[str, str]) -> None:
        await self.session.execute(
            text("insert into school_districts (school_id, district_id)"
                 " select * from unnest(cast(:s as text[]), cast(:d as text[]))"
                 # Every filed enrollment names its school's district; rewrite the row only when it changed.
                 " on conflict (school_id) do update set district_id = excluded.district_id"
                 " where school_districts.district_id is distinct from excluded.district_id"),
            {"s": list(pairs), "d": list(pairs.values())})
