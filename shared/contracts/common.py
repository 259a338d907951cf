"""Vocabulary shared by several event modules (roles, activity tiers, UTC times); publishes nothing itself."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from shared.privacy import contains_personal_number, redact


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000 in UTC: a bad value, not a crash
        raise ValueError("the instant is outside the years 1-9999 once converted to UTC") from None


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character, which no text field may hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate: not valid Unicode") from None
    return value


# Text every store and every wire format accepts: no NUL (PostgreSQL refuses it) and no lone surrogate
# (not encodable as UTF-8), refused as the field's own error rather than failing a batch downstream.
Text = Annotated[str, AfterValidator(_storable)]


def _no_personal_number(value: str) -> str:
    if contains_personal_number(value):
        raise ValueError("a name may not hold a phone or ID number (it is shown in messages and records); "
                         "send the person's name alone")
    return value


# A person's name as a caller types it (a collector at the gate, a guardian, a pickup person, staff, a payee):
# names travel into events, messages to families and disclosures, so a mobile or resident ID number put in
# one is refused as the field's own error rather than carried everywhere (issue 15). For input boundaries
# only: published events keep their name fields as they were, so no stored event becomes unreadable.
# `NoPersonalNumber` adds the same refusal to a service's own text type.
NoPersonalNumber = AfterValidator(_no_personal_number)
PersonName = Annotated[str, AfterValidator(_storable), NoPersonalNumber]

# The name of who collected a child, as the gate recorded it: masked, not refused. The check-out is a fact
# about a child who has left; refusing the record over its name field would leave the child on site in the
# records (and raise the extended-care alarm) until the school system resent it (issue 15, R11).
CollectorName = Annotated[str, AfterValidator(_storable), AfterValidator(redact)]

# An integer as PostgreSQL's bigint holds it: a larger one (a route's size or index, say) is the caller's
# error, refused by name, rather than an overflow in the database driver. In a route parameter with a
# default, write `Annotated[Int64, Query(ge=1)] = 1`: a `= Query(...)` default would drop these bounds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]

# An instant: must carry an offset, and is normalised to UTC so equal instants compare and
# serialise equally whatever offset the producer used (school systems often send +08:00).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

# Who did something (R27). "school_system" is a school's own gate or student-information system
# (R15); "platform" is one of our services acting on a rule (a timer, a check), never a person.
ActorRole = Literal[
    "guardian",
    "school_staff",
    "outside_provider",
    "principal",
    "district_officer",
    "city_officer",
    "auditor",
    "school_system",
    "platform",
]

# R3: the whole child, in tiers (分层、分级、分类); collective classroom teaching is not a tier.
ActivityTier = Literal["homework_help", "tutoring", "extension", "sports", "arts", "science", "reading"]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# A wall-clock time of day at the school, Asia/Shanghai (a timetable, not an instant).
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

# What parents may be charged for (R16, R18): the labour of the staff who deliver the normal
# session and extended care. Anything else cannot be expressed, so cannot be charged.
FeeCategory = Literal["session", "extended_care"]

# The only things fee income may be spent on (R19). There is deliberately no "management fee".
ExpenseCategory = Literal["staff_remuneration", "extra_hours_operating", "group_accident_insurance"]


class Part(BaseModel):
    """Base of a structured value inside a payload; tolerant like the payload itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)
