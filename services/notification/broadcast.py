"""Emergency broadcasts (issue 16, 应急处置预案): who may send an urgent notice to a school, a district or the
city, the record of who sent it and why, its fan-out into the message queue in chunks that survive a crash,
and its delivery report. It writes only broadcasts, school_districts and its own messages; delivery stays
the sender's (exactly once per broadcast and recipient, with receipts), and other handlers' rules stay theirs."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Column, DateTime, Integer, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from services.notification.db import Found, Intent, NotificationTable, NotificationUoW
from services.notification.domain.policy import intake
from services.notification.domain.templates import render
from services.notification.handlers import EVENT_IDS, REFUSED, Delivery, out_id, preferences_of, recipient_of
from shared.auth import Principal
from shared.contracts.notification import EmergencyBroadcastIssued, NotificationFailedV2
from shared.messaging.consumer import Item, batch_handler, is_batch_handler

log = logging.getLogger(__name__)

Scope = Literal["school", "district", "city"]
TEMPLATE = "emergency_broadcast"
KIND = "emergency_broadcast"
# Who is reached: every guardian of the scope, and every staff member with a contact there (contacts of role
# "staff" with their school, from StaffRegistered).
ROLES = ["guardian", "staff"]
# A staff contact is receipted as school staff (R27): the broadcast reaches them as staff, for no duty.
_ROLE = {"staff": "school_staff"}
# The R27 role an official acts in, by the token's role.
ISSUER_ROLES = {"school": "school_staff", "district": "district_officer", "city": "city_officer"}


# -- who may send what (no I/O) --------------------------------------------------------------------

class NotAllowed(Exception):
    """The caller may not broadcast to (or read the report of) this scope."""


def authorise(principal: Principal, scope: Scope, scope_id: str | None, district_of_school: str | None) -> None:
    """A school's officials reach their own school; a district's officers their district and its schools;
    the city bureau anyone (R27). Anyone else, or a scope outside the caller's reach, is refused."""
    if principal.role == "city":
        return
    if principal.role == "district" and principal.district_id:
        if scope == "district" and scope_id == principal.district_id:
            return
        if scope == "school" and district_of_school is not None and district_of_school == principal.district_id:
            return
    if principal.role == "school" and principal.school_id and scope == "school" and scope_id == principal.school_id:
        return
    raise NotAllowed(f"role {principal.role!r} may not broadcast to {scope} {scope_id or ''}".strip())


# -- tables ------------------------------------------------------------------------------------------

class BroadcastRow(NotificationTable, table=True):
    """One emergency notice: who sent it with which role, to whom, why; and how far its fan-out has come
    (recipients after `cursor`, by id, are still to be queued; `fanned_out_at` once all are)."""

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("issued_by", "idempotency_key"),)

    broadcast_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    idempotency_key: str
    scope: str
    scope_id: str | None = None
    title: str
    body: str
    reason: str
    issued_by: str
    issued_by_role: str
    issuer_school_id: str | None = None
    issuer_district_id: str | None = None
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    correlation_id: str | None = None
    cursor: str | None = Field(default=None, sa_column=Column(Text))
    fanned_out: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    fanned_out_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class SchoolDistrictRow(NotificationTable, table=True):
    """Which district a school belongs to, as enrollment's events state it: a district's broadcast reaches
    its schools' families, and a district officer may reach one of its schools."""

    __tablename__ = "school_districts"

    school_id: str = Field(primary_key=True)
    district_id: str


@dataclass(frozen=True)
class Notice:
    """A broadcast as the official asked for it."""

    scope: Scope
    scope_id: str | None
    title: str
    body: str
    reason: str


# -- recording a broadcast ------------------------------------------------------------------------------

class KeyReused(Exception):
    """The idempotency key (or broadcast id) was used before for a different notice."""


async def district_of(uow: NotificationUoW, school_id: str) -> str | None:
    result = await uow.session.execute(text("select district_id from school_districts where school_id = :s"),
                                       {"s": school_id})
    return result.scalar_one_or_none()


async def issue(uow: NotificationUoW, principal: Principal, notice: Notice, key: str,
                broadcast_id: uuid.UUID | None, correlation_id: str | None, now: datetime) -> tuple[BroadcastRow, bool]:
    """Record the broadcast and publish EmergencyBroadcastIssued in one transaction; a retried request
    (same caller, same key) finds the broadcast it made and records nothing. Returns (row, created)."""
    bid = broadcast_id or EVENT_IDS(f"broadcast/{principal.subject}/{key}")
    values = dict(broadcast_id=bid, idempotency_key=key, scope=notice.scope, scope_id=notice.scope_id,
                  title=notice.title, body=notice.body, reason=notice.reason, issued_by=principal.subject,
                  issued_by_role=ISSUER_ROLES[principal.role], issuer_school_id=principal.school_id,
                  issuer_district_id=principal.district_id, issued_at=now, correlation_id=correlation_id)
    inserted = await uow.session.execute(
        text(f"insert into broadcasts ({', '.join(values)}) values ({', '.join(':' + k for k in values)})"
             " on conflict do nothing returning broadcast_id"), values)
    if inserted.scalar_one_or_none() is None:
        found = (await uow.session.execute(
            text("select * from broadcasts where (issued_by = :by and idempotency_key = :key) or broadcast_id = :id"),
            {"by": principal.subject, "key": key, "id": bid})).mappings().first()
        row = BroadcastRow.model_validate(dict(found)) if found else None
        if row is None or row.issued_by != principal.subject or Notice(
                row.scope, row.scope_id, row.title, row.body, row.reason) != notice:  # type: ignore[arg-type]
            raise KeyReused("this idempotency key or broadcast id was used for another broadcast")
        return row, False
    row = BroadcastRow(**values)
    uow.publish(EmergencyBroadcastIssued(
        broadcast_id=str(bid), scope=notice.scope, scope_id=notice.scope_id, title=notice.title, body=notice.body,
        reason=notice.reason, issued_by=principal.subject, issued_by_role=row.issued_by_role, issued_at=now,
    ), correlation_id=correlation_id, event_id=bid)
    return row, True


# -- fan-out -----------------------------------------------------------------------------------------

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


def messages_for(row: BroadcastRow, found: Found, delivery: Delivery, now: datetime) -> list[Intent]:
    """One urgent message per recipient: never held for quiet hours, and SMS backs up push even for
    those who chose push only (R22), as for a child's safety; no message without consent."""
    params = {"title": row.title, "body": row.body}
    out: list[Intent] = []
    for contact, pref in found:
        recipient = recipient_of(contact, delivery.push_enabled)
        taken = intake(recipient, preferences_of(pref, delivery.defaults), urgent=True, now=now)
        msg = Intent(event_id=row.broadcast_id, out_id=out_id(row.broadcast_id, contact.recipient_id),
                     recipient_id=contact.recipient_id, recipient_role=_ROLE.get(contact.role, contact.role), kind=KIND, template=TEMPLATE,
                     params=params, student_id=None, school_id=row.scope_id if row.scope == "school" else None,
                     cause_event_type="EmergencyBroadcastIssued", event_at=row.issued_at,
                     correlation_id=row.correlation_id, urgent=True, status=taken.status, locale=taken.locale,
                     plan=list(taken.plan), channel=taken.plan[0] if taken.plan else "sms",
                     next_attempt_at=now, to_masked=contact.phone_masked,
                     body=render(TEMPLATE, taken.locale, params))
        out.append(msg)
    return out


async def fan_out_chunk(uow: NotificationUoW, broadcast_id: uuid.UUID, size: int, delivery: Delivery) -> int | None:
    """Queue the next `size` recipients of a broadcast, by recipient id after its cursor, and move the cursor
    in the same transaction: a process killed mid-fan-out resumes where the last chunk committed, and the
    (broadcast, recipient) key keeps a chunk done twice from queuing anyone twice. Returns how many were
    queued, or None when another process holds the broadcast or it is fanned out."""
    found_row = (await uow.session.execute(
        text("select * from broadcasts where broadcast_id = :b and fanned_out_at is null for update skip locked"),
        {"b": broadcast_id})).mappings().first()
    if found_row is None:
        return None
    row = BroadcastRow.model_validate(dict(found_row))
    where, params = _audience(row)
    found = await uow.recipients(
        f"c.recipient_id in (select c.recipient_id from contacts c where {where} and c.recipient_id > :cursor"
        f" order by c.recipient_id limit :size)", {**params, "cursor": row.cursor or "", "size": size})
    now = delivery.clock()
    msgs = messages_for(row, found, delivery, now)
    new = await uow.add_messages(msgs)
    for msg in msgs:
        if msg.status in REFUSED and (msg.event_id, msg.recipient_id) in new:
            uow.publish(NotificationFailedV2(
                notification_id=f"ntf-{msg.out_id}", recipient_id=msg.recipient_id, recipient_role=msg.recipient_role,
                channel="sms", kind=KIND, school_id=msg.school_id, cause_event_id=msg.event_id,
                cause_event_type=msg.cause_event_type,
                error_code="no_consent" if msg.status == "suppressed_no_consent" else "no_contact",
                error="the recipient has not consented to messages" if msg.status == "suppressed_no_consent"
                else "no phone number or app on file",
                attempts=1, final=True, attempted_by="notification", attempted_by_role="platform", failed_at=now,
            ), correlation_id=msg.correlation_id, causation_id=msg.event_id,
                event_id=EVENT_IDS(f"{msg.out_id}:refused"))
    await uow.session.execute(
        text("update broadcasts set cursor = coalesce(:cursor, cursor), fanned_out = fanned_out + :n,"
             " fanned_out_at = case when :done then now() end where broadcast_id = :b"),
        {"cursor": found[-1][0].recipient_id if found else None, "n": len(found), "done": len(found) < size,
         "b": broadcast_id})
    return len(found)


# The sender claims urgent messages first, so a city's 557,000 notices queued at once would hold back every
# pickup message behind them; and a fan-out that refilled the queue as soon as a round had claimed would
# keep every round full of notices. So a chunk is half a sender round, queued only when no urgent message
# is due: each round leaves at least half its claims to the messages behind.
_URGENT_DUE = "select exists (select 1 from messages where status = 'pending' and urgent and next_attempt_at <= now())"


class FanOut:
    """One per process: queues open broadcasts chunk by chunk (`chunk`: half the sender's round) while the
    sender keeps up. Replicas share the work through the broadcast row's lock; a restarted process picks up
    open broadcasts from their cursor."""

    def __init__(self, uow_factory: Callable[[], NotificationUoW], chunk: int, *, delivery: Delivery,
                 poll_seconds: float = 1.0) -> None:
        self.uow_factory = uow_factory
        self.delivery = delivery
        self.chunk = chunk
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notification-broadcast-fan-out")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                state = await self.run_once()
            except Exception:
                log.exception("broadcast fan-out round failed; retrying")
                state = "idle"
            if state == "queued":
                continue
            # While the queue is full the sender is draining it: look again soon, not at the next poll.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds if state == "idle" else 0.05)

    async def run_once(self) -> Literal["queued", "full", "idle"]:
        """Queue one chunk of each open broadcast, oldest first, if the queue has room: "queued" if it
        queued any, "full" if open broadcasts wait for room, "idle" if none is open."""
        async with self.uow_factory() as uow:
            open_ids = list((await uow.session.execute(
                text("select broadcast_id from broadcasts where fanned_out_at is null order by issued_at"))).scalars())
            if not open_ids:
                return "idle"
            if (await uow.session.execute(text(_URGENT_DUE))).scalar_one():
                return "full"
        queued = False
        for bid in open_ids:
            async with self.uow_factory() as uow:
                n = await fan_out_chunk(uow, bid, self.chunk, self.delivery)
                await uow.commit()
            queued = queued or bool(n)
        return "queued" if queued else "idle"


# -- the report ----------------------------------------------------------------------------------------

QUEUED = ("pending", "sending", "awaiting_contact")
FAILED = ("failed", *REFUSED)


async def tally(uow: NotificationUoW, broadcast_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Messages of a broadcast by channel and outcome: queued (not yet handed over), handed_over, failed."""
    result = await uow.session.execute(
        text("select channel, status, count(*) from messages where event_id = :b group by channel, status"),
        {"b": broadcast_id})
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in result.all():
        outcome = "handed_over" if status == "sent" else "failed" if status in FAILED else "queued"
        counts = out.setdefault(channel, {"queued": 0, "handed_over": 0, "failed": 0})
        counts[outcome] += n
    return out


def visible_to(principal: Principal) -> tuple[str, dict]:
    """Broadcasts a caller may read, as a condition over broadcasts b: the city all; a district those to it
    or its schools and those its officers sent; a school those to it and those it sent."""
    if principal.role == "city":
        return "true", {}
    if principal.role == "district" and principal.district_id:
        return ("((b.scope = 'district' and b.scope_id = :d) or (b.scope = 'school' and b.scope_id in"
                " (select school_id from school_districts where district_id = :d)) or b.issuer_district_id = :d)",
                {"d": principal.district_id})
    if principal.role == "school" and principal.school_id:
        return "((b.scope = 'school' and b.scope_id = :s) or b.issuer_school_id = :s)", {"s": principal.school_id}
    return "false", {}


async def read(uow: NotificationUoW, principal: Principal, broadcast_id: uuid.UUID | None = None,
               limit: int = 100) -> list[BroadcastRow]:
    where, params = visible_to(principal)
    if broadcast_id is not None:
        where, params = f"{where} and b.broadcast_id = :id", {**params, "id": broadcast_id}
    result = await uow.session.execute(
        text(f"select b.* from broadcasts b where {where} order by b.issued_at desc limit :limit"),
        {**params, "limit": limit})
    return [BroadcastRow.model_validate(dict(r)) for r in result.mappings().all()]


# -- which district a school belongs to, learnt from enrollment's events ------------------------------

async def remember_districts(uow: NotificationUoW, items: Sequence[Item]) -> None:
    pairs = {e.school_id: e.district_id for e in (i.event for i in items)
             if isinstance(getattr(e, "school_id", None), str) and isinstance(getattr(e, "district_id", None), str)}
    if pairs:
        await uow.session.execute(
            text("insert into school_districts (school_id, district_id)"
                 " select * from unnest(cast(:s as text[]), cast(:d as text[]))"
                 # Every filed enrollment names its school's district; rewrite the row only when it changed.
                 " on conflict (school_id) do update set district_id = excluded.district_id"
                 " where school_districts.district_id is distinct from excluded.district_id"),
            {"s": list(pairs), "d": list(pairs.values())})


def learning_districts(handlers: dict) -> dict:
    """The handler table with the handlers of events that name a school's district (ProgrammePublished,
    EnrollmentFiled) also remembering it. Each handler is wrapped once, so runs of events that shared a
    handler still share it and are still applied together."""
    wrapped: dict[int, Callable] = {}

    def wrap(fn: Callable) -> Callable:
        @batch_handler
        async def remembering(uow: NotificationUoW, items: Sequence[Item]) -> None:
            await remember_districts(uow, items)
            await fn(uow, items)
        remembering.__name__ = getattr(fn, "__name__", "handler")
        return remembering

    targets = {id(handlers[t]) for t in ("ProgrammePublished", "EnrollmentFiled")
               if t in handlers and is_batch_handler(handlers[t])}
    out = {}
    for type_name, fn in handlers.items():
        if id(fn) in targets:
            fn = wrapped.setdefault(id(fn), wrap(fn))
        out[type_name] = fn
    return out
