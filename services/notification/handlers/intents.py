"""Recording messages as intents in the consumer's transaction: one per event and recipient, its course
decided by intake (pending, held for quiet hours, waiting for a contact, refused with a receipt); the
sender delivers them (R22, R23). Knows nothing of which event says what (messages.py)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from services.notification.db import Contact, Intent, NewContact, NotificationUoW, PreferenceRow, Waiting
from services.notification.domain.policy import (
    DEFAULT_PREFERENCES,
    Duty,
    Intake,
    Preferences,
    Recipient,
    actor_role,
    addressed_as,
    intake,
    is_urgent,
)
from services.notification.domain.templates import render, template
from shared.contracts.envelope import Envelope
from shared.contracts.notification import NotificationFailed
from shared.ids import StableIds
from shared.time import parse_hhmm as school_time
from shared.time import utc_now

# Ids derived from (event, recipient) are the same on every redelivery and replica.
NAMESPACE = uuid.UUID("6f1c2a52-7b1e-4f7e-9a53-3c1d0b2e8a11")
EVENT_IDS = StableIds(NAMESPACE)

Found = list[tuple[Contact, PreferenceRow | None]]


def out_id(event_id: uuid.UUID, recipient_id: str) -> str:
    """Our id for the message at the provider (Aliyun OutId, Tencent SessionContext): the hex of
    uuid5(NAMESPACE, "<event id>/<recipient id>"), computed without building UUID objects, since a term
    start records one per enrollment."""
    return EVENT_IDS.hex(f"{event_id}/{recipient_id}")


def parse_hhmm(value: str | None) -> time | None:
    """A preference's HH:MM, or None when it is not set."""
    return school_time(value) if value else None


def preferences_of(row: PreferenceRow | None, defaults: Preferences) -> Preferences:
    if row is None:
        return defaults
    quiet = (parse_hhmm(row.quiet_start), parse_hhmm(row.quiet_end)) if row.quiet_start or row.quiet_end else (None, None)
    return Preferences(row.channels, quiet[0], quiet[1], row.locale)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Delivery:
    """What the handlers take from the settings, and the clock: built by the composition root (it is
    Context.delivery) and handed to the handlers by the table, never read off the unit of work."""

    defaults: Preferences = DEFAULT_PREFERENCES  # the channels and quiet hours of one who set none (R22)
    push_enabled: bool = True  # False with no push provider: a guardian with the app is reached by SMS at once
    portal_url: str | None = None  # where disclosure and programme messages link to (R23)
    clock: Callable[[], datetime] = utc_now


def recipient_of(contact: Contact, push_enabled: bool) -> Recipient:
    push = contact.has_push and push_enabled
    return Recipient(contact.recipient_id, contact.role, contact.locale, contact.consent,  # type: ignore[arg-type]
                     has_phone=contact.has_phone, has_push=push)


def contact_of(row: NewContact) -> Contact:
    return Contact(row.recipient_id, row.role, row.locale, row.phone_masked, row.consent,
                   bool(row.phone_sealed), bool(row.push_token_sealed))


def _apply(msg: Intent, taken: Intake, contact: Contact | None, now: datetime) -> None:
    msg.status = taken.status
    msg.plan = list(taken.plan)
    msg.channel = taken.plan[0] if taken.plan else "sms"
    msg.locale = taken.locale
    msg.not_before = taken.not_before
    msg.next_attempt_at = taken.not_before or now
    msg.to_masked = contact.phone_masked if contact else None
    msg.body = render(msg.template, taken.locale, msg.params) if contact else None


def _refusal(uow: NotificationUoW, msg: Intent, now: datetime) -> None:
    """A receipt for a message that will never be sent: no consent, or no way to reach the person."""
    no_consent = msg.status == "suppressed_no_consent"
    uow.publish(
        NotificationFailed(
            notification_id=f"ntf-{msg.out_id}", recipient_id=msg.recipient_id,
            recipient_role=actor_role(msg.recipient_role),  # type: ignore[arg-type]
            addressed_as=addressed_as(msg.recipient_role),  # type: ignore[arg-type]
            channel="sms", kind=msg.kind, student_id=msg.student_id, school_id=msg.school_id,
            cause_event_id=msg.event_id, cause_event_type=msg.cause_event_type,
            error_code="no_consent" if no_consent else "no_contact",
            error="the recipient has not consented to messages" if no_consent else "no phone number or app on file",
            attempts=1, final=True, attempted_by="notification", attempted_by_role="platform",
            failed_at=now,
        ),
        correlation_id=msg.correlation_id, causation_id=msg.event_id,
        event_id=EVENT_IDS(f"{msg.out_id}:refused"),
    )


def intents(envelope: Envelope, delivery: Delivery, now: datetime, *, found: Found, template_name: str, params: dict,
            student_id: str | None = None, school_id: str | None = None, missing: tuple[str, ...] = (),
            role: str = "guardian", severity: str | None = None, duty: Duty | None = None) -> list[Intent]:
    """One message per recipient for this event: pending (the sender delivers it), waiting for a contact
    not yet known, or refused for want of consent. `duty` records why a staff member is told
    (class_teacher, programme_lead, safety_contact) as the message's recipient role."""
    kind = template(template_name).kind
    urgent = is_urgent(kind, severity=severity)
    rows: list[Intent] = []
    for contact, pref in [*found, *((None, None) for _ in missing)]:
        recipient_id = contact.recipient_id if contact else missing[len(rows) - len(found)]
        msg = Intent(
            event_id=envelope.event_id, out_id=out_id(envelope.event_id, recipient_id), recipient_id=recipient_id,
            recipient_role=duty or (contact.role if contact else role), kind=kind, template=template_name, params=params,
            student_id=student_id, school_id=school_id, cause_event_type=envelope.type, event_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id, urgent=urgent,
        )
        recipient = recipient_of(contact, delivery.push_enabled) if contact else None
        _apply(msg, intake(recipient, preferences_of(pref, delivery.defaults), urgent=urgent, now=now), contact, now)
        rows.append(msg)
    return rows


REFUSED = ("suppressed_no_consent", "no_channel")


async def record(uow: NotificationUoW, rows: list[Intent], now: datetime) -> None:
    """Insert a run's messages in one statement; a message already recorded (a redelivered event) adds
    nothing, and each new one that will never be sent gets its refusal receipt."""
    new = await uow.add_messages(rows)
    for msg in rows:
        if msg.status in REFUSED and (msg.event_id, msg.recipient_id) in new:
            new.discard((msg.event_id, msg.recipient_id))  # an event twice in one run is recorded once
            _refusal(uow, msg, now)


async def release_waiting(uow: NotificationUoW, contacts: dict[str, NewContact], delivery: Delivery,
                          now: datetime) -> None:
    """Messages that waited for these contacts (R22) take their course now: pending, held for quiet
    hours, or refused with a receipt, as if the contact had been known when they were recorded."""
    waiting: list[Waiting] = await uow.awaiting(sorted(contacts))
    if not waiting:
        return
    for item in waiting:
        msg = item.msg
        contact = contact_of(contacts[msg.recipient_id])
        _apply(msg, intake(recipient_of(contact, delivery.push_enabled), preferences_of(item.preference, delivery.defaults),
                           urgent=msg.urgent, now=now), contact, now)
        if msg.status in REFUSED:
            _refusal(uow, msg, now)
    await uow.release(waiting)
