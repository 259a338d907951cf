"""Events the notification service publishes on notification.events; payload shapes only, no rules or I/O."""
from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.common import ActorRole, UtcDatetime
from shared.contracts.envelope import Event
from shared.contracts.topics import NOTIFICATION_EVENTS

Channel = Literal["sms", "push"]

# What a message is about (R22, R23); anomaly alerts go to auditors.
MessageKind = Literal[
    "check_in",
    "pickup",
    "absence",
    "extended_care",
    "extended_care_escalated",
    "unauthorised_pickup",
    "application_submitted",
    "application_approved",
    "application_rejected",
    "enrollment_filed",
    "enrollment_withdrawn",
    "fee_due",
    "payment_received",
    "fee_waived",
    "refund_issued",
    "programme_disclosure",
    "finance_disclosure",
    "anomaly_alert",
]


class NotificationSent(Event):
    """A message was handed to the SMS gateway or push service for one recipient (R22, R23). One
    per recipient, channel and causing event: redelivery of the cause sends nothing more."""

    type_name: ClassVar[str] = "NotificationSent"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATION_EVENTS
    key_field: ClassVar[str] = "recipient_id"

    notification_id: str = Field(description="Notification id.", examples=["ntf-00004242"])
    recipient_id: str = Field(description="Who the message is for (guardian, staff, auditor).", examples=["gdn-000456"])
    recipient_role: ActorRole = Field(description="Role of the recipient.", examples=["guardian"])
    channel: Channel = Field(description="Channel used (R22).", examples=["sms"])
    kind: MessageKind = Field(description="What the message is about (R22, R23).", examples=["pickup"])
    locale: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Language of the message.", examples=["zh-CN"])
    student_id: str | None = Field(default=None, description="Student the message is about, if any.", examples=["stu-000123"])
    school_id: str | None = Field(default=None, description="School the message is about, if any.", examples=["sch-0042"])
    cause_event_id: uuid.UUID = Field(
        description="event_id of the event that caused the message.", examples=["5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"]
    )
    cause_event_type: str = Field(description="Type of that event.", examples=["StudentCheckedOut"])
    provider_message_id: str | None = Field(
        default=None, description="Gateway's id for the message, for delivery receipts.", examples=["sms-20250912-8f3a"]
    )
    sent_by: str = Field(description="Who sent it (R27): the notification service.", examples=["notification"])
    sent_by_role: ActorRole = Field(description="Role of who sent it (R27).", examples=["platform"])
    sent_at: UtcDatetime = Field(description="When it was handed over for delivery.", examples=["2025-09-12T09:42:03Z"])


class NotificationFailed(Event):
    """A message could not be sent to a recipient; final says whether retries are over (R22)."""

    type_name: ClassVar[str] = "NotificationFailed"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATION_EVENTS
    key_field: ClassVar[str] = "recipient_id"

    notification_id: str = Field(description="Notification id.", examples=["ntf-00004242"])
    recipient_id: str = Field(description="Who the message was for.", examples=["gdn-000456"])
    recipient_role: ActorRole = Field(description="Role of the recipient.", examples=["guardian"])
    channel: Channel = Field(description="Channel tried.", examples=["sms"])
    kind: MessageKind = Field(description="What the message is about.", examples=["pickup"])
    student_id: str | None = Field(default=None, description="Student the message is about, if any.", examples=["stu-000123"])
    school_id: str | None = Field(default=None, description="School the message is about, if any.", examples=["sch-0042"])
    cause_event_id: uuid.UUID = Field(
        description="event_id of the event that caused the message.", examples=["5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"]
    )
    cause_event_type: str = Field(description="Type of that event.", examples=["StudentCheckedOut"])
    error_code: Literal[
        "no_consent", "no_contact", "invalid_number", "push_token_expired", "provider_rejected", "provider_unavailable", "other"
    ] = Field(description="Kind of failure.", examples=["provider_unavailable"])
    error: str = Field(description="Detail, with phone numbers masked.", examples=["gateway timeout after 5s"])
    attempts: int = Field(ge=1, description="Attempts made so far.", examples=[3])
    final: bool = Field(description="No more attempts will be made.", examples=[False])
    attempted_by: str = Field(description="Who attempted it (R27): the notification service.", examples=["notification"])
    attempted_by_role: ActorRole = Field(description="Role of who attempted it (R27).", examples=["platform"])
    failed_at: UtcDatetime = Field(description="When the attempt failed.", examples=["2025-09-12T09:42:08Z"])


EVENTS: tuple[type[Event], ...] = (NotificationSent, NotificationFailed)
