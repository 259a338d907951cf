"""Notification's use cases: one handler per consumed event, plus the table of which takes which."""
from __future__ import annotations

from datetime import datetime, timezone

from shared.contracts.enrollment import ApplicationSubmitted, GuardianRegistered
from shared.contracts.envelope import Envelope
from shared.contracts.notification import NotificationSent
from services.notification.db import ContactRow, MessageRow, NotificationUoW
from services.notification.domain import Contact, delivery_status, render

# The embedded default channel: the message log itself is the local delivery sink that a person
# reads at /sink. Provider channels (SMS, push) plug in behind the same call.
CHANNEL = "sms"


def _deliver(uow: NotificationUoW, msg: MessageRow, contact: ContactRow) -> None:
    """Hand the message to the channel and record the receipt (NotificationSent) in the same transaction."""
    msg.body = render(msg.template, contact.locale, msg.params)
    msg.to_masked = contact.phone_masked
    msg.status = "sent"
    msg.delivered_at = datetime.now(timezone.utc)
    uow.publish(
        NotificationSent(
            notification_id=f"ntf-{msg.event_id}-{msg.channel}",
            recipient_id=msg.recipient_id,
            recipient_role="guardian",
            channel=msg.channel,
            kind=msg.template,
            locale=contact.locale,
            student_id=msg.params.get("student_id"),
            school_id=msg.params.get("school_id"),
            cause_event_id=msg.event_id,
            cause_event_type=msg.params["cause_event_type"],
            sent_by="notification",
            sent_by_role="platform",
            sent_at=msg.delivered_at,
        ),
        correlation_id=msg.correlation_id,
        causation_id=msg.event_id,
    )


async def notify(uow: NotificationUoW, envelope: Envelope, *, recipient_id: str, template: str, params: dict) -> None:
    """Exactly one message per (event, recipient, channel), across redeliveries (R22)."""
    row = await uow.contact(recipient_id)
    contact = Contact(row.guardian_id, row.locale, row.phone_masked, row.consent) if row else None
    msg = MessageRow(event_id=envelope.event_id, recipient_id=recipient_id, channel=CHANNEL, template=template,
                     params=params, status=delivery_status(contact), correlation_id=envelope.correlation_id)
    if msg.status == "sent":
        _deliver(uow, msg, row)
    await uow.add_message(msg)


async def record_contact(uow: NotificationUoW, envelope: Envelope, event: GuardianRegistered) -> None:
    """Keep the guardian's contact (still sealed); send what was waiting for it."""
    row = ContactRow(guardian_id=event.guardian_id, locale=event.locale, phone_sealed=event.phone_sealed,
                     phone_masked=event.phone_masked, push_token_sealed=event.push_token_sealed,
                     consent=event.consent, student_ids=list(event.student_ids))
    await uow.upsert_contact(row)
    for msg in await uow.awaiting(event.guardian_id):
        if row.consent:
            _deliver(uow, msg, row)
        else:
            msg.status = "suppressed_no_consent"
        uow.session.add(msg)


async def notify_application_submitted(uow: NotificationUoW, envelope: Envelope, event: ApplicationSubmitted) -> None:
    await notify(uow, envelope, recipient_id=event.guardian_id, template="application_submitted",
                 params={"student_name": event.student_name, "programme_id": event.programme_id,
                         "student_id": event.student_id, "school_id": event.school_id,
                         "cause_event_type": envelope.type})


HANDLERS = {
    "GuardianRegistered": record_contact,
    "ApplicationSubmitted": notify_application_submitted,
}
