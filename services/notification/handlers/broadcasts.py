"""Emergency broadcasts (issue 16, 应急处置预案): who may send an urgent notice to a school, a district or the
city, the record of who sent it and why, its fan-out into the message queue in chunks that survive a crash,
and its delivery report (the loop that fans out is services/notification/fan_out.py; the statements are the
unit of work's, db/broadcasts.py). It writes only broadcasts, school_districts and its own messages; delivery stays
the sender's (exactly once per broadcast and recipient, with receipts), and other handlers' rules stay theirs."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.notification.db import BroadcastRow, Found, Intent, NotificationUoW
from services.notification.domain.policy import intake
from services.notification.domain.templates import render
from services.notification.handlers import EVENT_IDS, REFUSED, Delivery, out_id, preferences_of, recipient_of
from shared.auth import Principal
from shared.contracts.notification import EmergencyBroadcastIssued, NotificationFailedV2
from shared.messaging.consumer import Item, batch_handler, is_batch_handler

Scope = Literal["school", "district", "city"]
TEMPLATE = "emergency_broadcast"
KIND = "emergency_broadcast"
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


async def issue(uow: NotificationUoW, principal: Principal, notice: Notice, key: str,
                broadcast_id: uuid.UUID | None, correlation_id: str | None, now: datetime) -> tuple[BroadcastRow, bool]:
    """Record the broadcast and publish EmergencyBroadcastIssued in one transaction; a retried request
    (same caller, same key) finds the broadcast it made and records nothing. Returns (row, created)."""
    bid = broadcast_id or EVENT_IDS(f"broadcast/{principal.subject}/{key}")
    values = dict(broadcast_id=bid, idempotency_key=key, scope=notice.scope, scope_id=notice.scope_id,
                  title=notice.title, body=notice.body, reason=notice.reason, issued_by=principal.subject,
                  issued_by_role=ISSUER_ROLES[principal.role], issuer_school_id=principal.school_id,
                  issuer_district_id=principal.district_id, issued_at=now, correlation_id=correlation_id)
    if not await uow.insert_broadcast(values):
        row = await uow.broadcast_by_key(principal.subject, key, bid)
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
    row = await uow.lock_open_broadcast(broadcast_id)
    if row is None:
        return None
    found = await uow.audience_after(row, size)
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
    await uow.advance_broadcast(broadcast_id, found[-1][0].recipient_id if found else None, len(found),
                                done=len(found) < size)
    return len(found)


# -- the report ----------------------------------------------------------------------------------------

QUEUED = ("pending", "sending", "awaiting_contact")
FAILED = ("failed", *REFUSED)


async def tally(uow: NotificationUoW, broadcast_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Messages of a broadcast by channel and outcome: queued (not yet handed over), handed_over, failed."""
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in await uow.broadcast_counts(broadcast_id):
        outcome = "handed_over" if status == "sent" else "failed" if status in FAILED else "queued"
        counts = out.setdefault(channel, {"queued": 0, "handed_over": 0, "failed": 0})
        counts[outcome] += n
    return out


async def read(uow: NotificationUoW, principal: Principal, broadcast_id: uuid.UUID | None = None,
               limit: int = 100) -> list[BroadcastRow]:
    """Broadcasts a caller may read: the city all; a district those to it or its schools and those its officers
    sent; a school those to it and those it sent."""
    return await uow.broadcasts_visible(principal.role, principal.school_id, principal.district_id, broadcast_id,
                                        limit)


# -- which district a school belongs to, learnt from enrollment's events ------------------------------

async def remember_districts(uow: NotificationUoW, items: Sequence[Item]) -> None:
    pairs = {e.school_id: e.district_id for e in (i.event for i in items)
             if isinstance(getattr(e, "school_id", None), str) and isinstance(getattr(e, "district_id", None), str)}
    if pairs:
        await uow.remember_school_districts(pairs)


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
