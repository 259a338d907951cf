"""Notification's tables (contacts, student links, students, preferences, the message log that doubles as the
local delivery sink, staff and programme names, per-number daily counts, emergency broadcasts and which
district each school is in) and the rows its unit of work hands out (intents, contacts, names known, claimed
messages)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class NotificationTable(SQLModel, registry=registry()):
    """Base of notification's tables. Its own registry (and MetaData) keeps names such as "students" from
    colliding with other services' tables when several services are imported in one process."""


class ContactRow(NotificationTable, table=True):
    """A guardian (from GuardianRegistered) or an auditor (registered over HTTP). The phone number and
    push token stay sealed at rest; only the sender opens them, at send time."""

    __tablename__ = "contacts"

    recipient_id: str = Field(primary_key=True)
    role: str = "guardian"
    locale: str = "zh-CN"
    name: str | None = None
    school_id: str | None = None
    district_id: str | None = None
    phone_sealed: str | None = None
    phone_masked: str | None = None
    push_token_sealed: str | None = None
    consent: bool = False


class StudentGuardianRow(NotificationTable, table=True):
    """Which guardians hear about which student: attendance events name the student only."""

    __tablename__ = "student_guardians"

    student_id: str = Field(primary_key=True)
    guardian_id: str = Field(primary_key=True)


class StudentRow(NotificationTable, table=True):
    """A student's name for messages, learnt from applications and enrollments."""

    __tablename__ = "students"

    student_id: str = Field(primary_key=True)
    name: str
    school_id: str | None = None


class PreferenceRow(NotificationTable, table=True):
    __tablename__ = "preferences"

    recipient_id: str = Field(primary_key=True)
    channels: str = "push_then_sms"
    quiet_start: str | None = None
    quiet_end: str | None = None
    locale: str | None = None
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))


class MessageRow(NotificationTable, table=True):
    """One message per (triggering event, recipient): the unique key makes redelivery harmless. The
    consumer writes it as an intent; the sender claims it, hands it to a channel, and marks it."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("event_id", "recipient_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    out_id: str  # our id at the provider (Aliyun OutId, Tencent SessionContext), stable across retries
    recipient_id: str
    recipient_role: str = "guardian"
    kind: str
    template: str
    params: dict = Field(sa_column=Column(JSONB, nullable=False))
    locale: str = "zh-CN"
    student_id: str | None = None
    school_id: str | None = None
    cause_event_type: str
    event_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    correlation_id: str | None = None
    urgent: bool = False
    plan: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    channel: str = "sms"
    provider: str | None = None
    status: str
    not_before: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    channel_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    in_doubt: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    claim_token: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    push_cid: str | None = None
    provider_message_id: str | None = None
    to_masked: str | None = None
    body: str | None = None
    last_error: str | None = None
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), server_default=func.now()))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class StaffRow(NotificationTable, table=True):
    """A staff member's duties (StaffRegistered) and the district's latest decision on them
    (StaffAdmissionChanged, by effective time); their sealed contact is a ContactRow of role "staff"."""

    __tablename__ = "staff"

    staff_id: str = Field(primary_key=True)
    school_id: str
    name: str | None = None
    roles: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    class_ids: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    programme_ids: list[str] = Field(default_factory=list,
                                     sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    admission: str | None = None
    admission_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ProgrammeRow(NotificationTable, table=True):
    """A programme's name as families know it (ProgrammePublished), for messages about it."""

    __tablename__ = "programmes"

    programme_id: str = Field(primary_key=True)
    school_id: str
    name: str


class SchoolNameRow(NotificationTable, table=True):
    """A school's name as families know it (ProgrammePublished.school_name), for messages about it."""

    __tablename__ = "school_names"

    school_id: str = Field(primary_key=True)
    name: str


class SendCountRow(NotificationTable, table=True):
    """Messages handed to a provider per recipient, channel and China day, for per-number daily limits."""

    __tablename__ = "send_counts"

    recipient_id: str = Field(primary_key=True)
    channel: str = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    count: int = 0


@dataclass
class Intent:
    """A new message as the consumer records it: a plain object, since thousands are built per batch at
    the evening pickup peak and table models cost far more to construct."""

    event_id: uuid.UUID
    out_id: str
    recipient_id: str
    recipient_role: str
    kind: str
    template: str
    params: dict
    student_id: str | None
    school_id: str | None
    cause_event_type: str
    event_at: datetime
    correlation_id: str | None
    urgent: bool
    status: str = "pending"
    locale: str = "zh-CN"
    plan: list[str] = field(default_factory=list)
    channel: str = "sms"
    not_before: datetime | None = None
    next_attempt_at: datetime | None = None
    to_masked: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Contact:
    """A contact as policy reads it (still sealed), without the cost of a table model."""

    recipient_id: str
    role: str
    locale: str
    phone_masked: str | None
    consent: bool
    has_phone: bool
    has_push: bool


@dataclass(slots=True)
class NewContact:
    """A guardian's contact as GuardianRegistered states it, written with the rest of its run of events."""

    recipient_id: str
    role: str
    locale: str
    name: str | None
    school_id: str | None
    phone_sealed: str | None
    phone_masked: str | None
    push_token_sealed: str | None
    consent: bool
    student_ids: list[str]


@dataclass(frozen=True)
class Known:
    """Names learnt from earlier events for this run's messages (issue 16: messages spoke in ids)."""

    staff: dict[str, str] = field(default_factory=dict)
    programmes: dict[str, str] = field(default_factory=dict)
    schools: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Waiting:
    """A message that waited for its recipient's contact, with the recipient's preferences."""

    id: int
    msg: Intent
    preference: PreferenceRow | None


class Claimed(NamedTuple):
    """A message claimed by a sender round, with what sending it needs (the sealed addresses and the
    recipient's SMS count today): a plain tuple, since table models cost far more to build per row."""

    id: int
    event_id: uuid.UUID
    out_id: str
    recipient_id: str
    recipient_role: str
    kind: str
    template: str
    params: dict
    locale: str
    student_id: str | None
    school_id: str | None
    cause_event_type: str
    event_at: datetime
    correlation_id: str | None
    urgent: bool
    plan: list[str]
    channel: str
    attempts: int
    channel_attempts: int
    in_doubt: bool
    push_cid: str | None
    to_masked: str | None
    body: str | None
    claimed_at: datetime | None
    phone_sealed: str | None
    push_token_sealed: str | None
    sms_today: int


CLAIMED_COLUMNS = ", ".join(f"m.{c}" for c in Claimed._fields[:-3])

CONTACT_COLUMNS = ("recipient_id", "role", "locale", "name", "school_id", "phone_sealed", "phone_masked",
                    "push_token_sealed", "consent")

MESSAGE_COLUMNS = ("event_id", "out_id", "recipient_id", "recipient_role", "kind", "template", "params", "locale",
                    "student_id", "school_id", "cause_event_type", "event_at", "correlation_id", "urgent", "plan",
                    "channel", "status", "not_before", "next_attempt_at", "to_masked", "body")


Found = list[tuple["Contact", "PreferenceRow | None"]]


def preference_of(r) -> PreferenceRow | None:
    if r.p_id is None:
        return None
    return PreferenceRow.model_construct(recipient_id=r.p_id, channels=r.channels, quiet_start=r.quiet_start,
                                         quiet_end=r.quiet_end, locale=r.p_locale)

COLUMN_TYPES = {"event_id": "uuid", "event_at": "timestamptz", "urgent": "boolean", "not_before": "timestamptz",
                 "next_attempt_at": "timestamptz"}


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
