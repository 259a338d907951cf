"""Events the notification service publishes on notification.events; payload shapes only, no rules or I/O."""
from __future__ import annotations

import typing
import uuid
from typing import Any, ClassVar, Literal

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

# Version 2 of the receipts widens the vocabulary (a wider closed set is a new version, STYLE.md) by the
# emergency notice an official sends to a school, a district or the city (issue 16). Every message version 1
# can name is still receipted as version 1, so its readers keep working.
MessageKindV2 = Literal[MessageKind, "emergency_broadcast"]
KINDS_V1: frozenset[str] = frozenset(typing.get_args(MessageKind))

BroadcastScope = Literal["school", "district", "city"]

# Why a recipient was told (issue 16, R11-R13): as a guardian, an auditor, or for a staff duty.
AddressedAs = Literal["guardian", "auditor", "class_teacher", "programme_lead", "safety_contact"]


def _addressed_as() -> Any:
    return Field(default=None, examples=["class_teacher"],
                 description="Why the recipient was told: as a guardian or auditor, or for a staff duty (class teacher, "
                 "programme lead, safety contact; issue 16). Null in receipts from before it was recorded.")


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
    addressed_as: AddressedAs | None = _addressed_as()
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
    addressed_as: AddressedAs | None = _addressed_as()
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


class NotificationSentV2(NotificationSent):
    """A message was handed to the SMS gateway or push service for one recipient (R22, R23). Version 2 can
    also name an emergency broadcast's notice; the broadcast's id is the cause_event_id."""

    type_name: ClassVar[str] = "NotificationSent"
    version: ClassVar[int] = 2

    kind: MessageKindV2 = Field(description="What the message is about (R22, R23).", examples=["emergency_broadcast"])


class NotificationFailedV2(NotificationFailed):
    """A message could not be sent to a recipient; final says whether retries are over (R22). Version 2 can
    also name an emergency broadcast's notice."""

    type_name: ClassVar[str] = "NotificationFailed"
    version: ClassVar[int] = 2

    kind: MessageKindV2 = Field(description="What the message is about.", examples=["emergency_broadcast"])


class EmergencyBroadcastIssued(Event):
    """An official sent an urgent notice to every family (and staff contact) of a school, a district or the
    whole city (issue 16, 应急处置预案; R22, R27): who sent it, with which role, to whom and why. One per broadcast: a
    retried request publishes nothing more. Each recipient's message is receipted by NotificationSent v2."""

    type_name: ClassVar[str] = "EmergencyBroadcastIssued"
    version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATION_EVENTS
    key_field: ClassVar[str] = "broadcast_id"

    broadcast_id: str = Field(description="Broadcast id (a UUID); the cause_event_id of its messages' receipts.",
                              examples=["0b7e8f52-1c2d-4e3f-9a4b-5c6d7e8f9a0b"])
    scope: BroadcastScope = Field(description="Whose families hear it: one school, one district or the city.",
                                  examples=["school"])
    scope_id: str | None = Field(description="The school or district id; null for the city.", examples=["sch-0042"])
    title: str = Field(description="The notice's heading.", examples=["暴雨停课通知"])
    body: str = Field(description="The notice as families read it.", examples=["受暴雨影响，今日课后服务暂停，请家长按时接孩子。"])
    reason: str = Field(description="Why it was sent, for the record (R27).", examples=["市气象台暴雨红色预警"])
    issued_by: str = Field(description="Who sent it (R27).", examples=["usr-principal-0042"])
    issued_by_role: ActorRole = Field(description="Role of who sent it (R27).", examples=["principal"])
    issued_at: UtcDatetime = Field(description="When it was sent.", examples=["2025-09-12T07:30:00Z"])


EVENTS: tuple[type[Event], ...] = (NotificationSent, NotificationFailed, NotificationSentV2, NotificationFailedV2,
                                   EmergencyBroadcastIssued)
