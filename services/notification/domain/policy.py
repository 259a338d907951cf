"""Who gets a message, on which channel, when, and what happens after each attempt: preferences,
quiet hours with a safety bypass, push-to-SMS fallback, retries with backoff (R22). No I/O."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from shared.time import SCHOOL_TZ as SHANGHAI

ChannelName = Literal["sms", "push"]
ChannelPreference = Literal["push_then_sms", "sms_only", "push_only"]

# Messages about a child's safety reach the guardian at any hour: someone tried to collect the child
# without authorisation (R11), the child did not arrive (R12), or is still at school after extended
# care (R13). Critical audit alerts are urgent for auditors too.
SAFETY_KINDS = frozenset({"unauthorised_pickup", "extended_care_escalated", "absence"})


def is_urgent(kind: str, *, severity: str | None = None) -> bool:
    return kind in SAFETY_KINDS or (kind == "anomaly_alert" and severity == "critical")


@dataclass(frozen=True)
class Preferences:
    """A recipient's choices. Quiet hours are school-local wall-clock times; start > end spans midnight."""

    channels: ChannelPreference = "push_then_sms"
    quiet_start: time | None = time(21, 30)
    quiet_end: time | None = time(7, 0)
    locale: str | None = None


DEFAULT_PREFERENCES = Preferences()


@dataclass(frozen=True)
class Recipient:
    """What policy needs to know of a contact; never the number itself."""

    recipient_id: str
    role: Literal["guardian", "auditor", "staff"]
    locale: str
    consent: bool
    has_phone: bool
    has_push: bool


# -- staff answering for a child's safety (R11-R13, issue 16) --------------------------------------------

Duty = Literal["class_teacher", "programme_lead", "safety_contact"]
DUTIES: tuple[Duty, ...] = ("class_teacher", "programme_lead", "safety_contact")


def actor_role(recipient_role: str) -> str:
    """The R27 role of a message's recipient (a receipt's recipient_role): a staff contact, whatever duty
    they were told for, is school staff."""
    return "school_staff" if recipient_role == "staff" or recipient_role in DUTIES else recipient_role


def addressed_as(recipient_role: str) -> str | None:
    """Why the recipient was told, as a receipt records it (issue 16); None for anyone else."""
    return recipient_role if recipient_role in ("guardian", "auditor", *DUTIES) else None


@dataclass(frozen=True)
class StaffMember:
    """A staff member notification can reach (registered with a contact, not suspended or removed)."""

    staff_id: str
    school_id: str
    roles: tuple[str, ...]
    programme_ids: tuple[str, ...]


def responsible(duties: tuple[Duty, ...], staff: list[StaffMember], *, school_id: str, programme_id: str,
                class_teacher_id: str | None) -> list[tuple[str, Duty]]:
    """Who answers for this event, each once, as (staff id, the first of `duties` they hold): the class
    teacher the event names; the school's programme leads of this programme (or of all its programmes,
    when registered for none in particular); the school's safety contacts."""
    out: dict[str, Duty] = {}
    for duty in duties:
        for member in staff:
            if member.staff_id in out:
                continue
            if duty == "class_teacher":
                hit = member.staff_id == class_teacher_id
            elif duty == "programme_lead":
                hit = (member.school_id == school_id and duty in member.roles
                       and (programme_id in member.programme_ids or not member.programme_ids))
            else:
                hit = member.school_id == school_id and duty in member.roles
            if hit:
                out[member.staff_id] = duty
    return list(out.items())


def channel_plan(prefs: Preferences, recipient: Recipient, *, urgent: bool) -> tuple[ChannelName, ...]:
    """Channels to try, in order. Push falls back to SMS when the guardian has no app or push fails;
    a guardian who wants push only still gets an SMS for a safety message if push fails (R22)."""
    if prefs.channels == "sms_only":
        plan: tuple[ChannelName, ...] = ("sms",)
    elif not recipient.has_push:
        plan = ("sms",)
    elif prefs.channels == "push_only" and not urgent:
        plan = ("push",)
    else:
        plan = ("push", "sms")
    if not recipient.has_phone:
        plan = tuple(c for c in plan if c != "sms") or (("push",) if recipient.has_push else ())
    return plan


def in_quiet_hours(at: datetime, prefs: Preferences) -> bool:
    if prefs.quiet_start is None or prefs.quiet_end is None or prefs.quiet_start == prefs.quiet_end:
        return False
    local = at.astimezone(SHANGHAI).time()
    if prefs.quiet_start < prefs.quiet_end:
        return prefs.quiet_start <= local < prefs.quiet_end
    return local >= prefs.quiet_start or local < prefs.quiet_end


def not_before(at: datetime, prefs: Preferences, *, urgent: bool) -> datetime | None:
    """When a message may be sent: now, or the end of the recipient's quiet hours. Safety messages
    are never held back."""
    if urgent or not in_quiet_hours(at, prefs):
        return None
    local = at.astimezone(SHANGHAI)
    end = local.replace(hour=prefs.quiet_end.hour, minute=prefs.quiet_end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def next_local_midnight(at: datetime) -> datetime:
    """Providers' per-number daily limits reset at midnight China time."""
    local = at.astimezone(SHANGHAI)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


def local_day(at: datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


@dataclass(frozen=True)
class Intake:
    """What becomes of a new message for one recipient when its cause arrives."""

    status: Literal["pending", "awaiting_contact", "suppressed_no_consent", "no_channel"]
    plan: tuple[ChannelName, ...] = ()
    not_before: datetime | None = None
    locale: str = "zh-CN"


def intake(recipient: Recipient | None, prefs: Preferences, *, urgent: bool, now: datetime) -> Intake:
    """No message without consent; a message for someone not yet known waits for their contact."""
    if recipient is None:
        return Intake("awaiting_contact")
    locale = prefs.locale or recipient.locale
    if not recipient.consent:
        return Intake("suppressed_no_consent", locale=locale)
    plan = channel_plan(prefs, recipient, urgent=urgent)
    if not plan:
        return Intake("no_channel", locale=locale)
    return Intake("pending", plan, not_before(now, prefs, urgent=urgent), locale)


# -- after an attempt ----------------------------------------------------------------------------

Outcome = Literal["sent", "retry", "unknown", "invalid_address", "rejected", "daily_limit"]


@dataclass(frozen=True)
class Retry:
    """Bounded exponential backoff with full jitter, so a provider outage is not hammered in step."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, attempt: int, rand: float | None = None) -> float:
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        r = random.random() if rand is None else rand
        return ceiling / 2 + r * ceiling / 2


@dataclass(frozen=True)
class Decision:
    action: Literal["sent", "retry", "fallback", "defer", "fail"]
    channel: ChannelName
    at: datetime | None = None  # when to try next (retry, fallback, defer)
    final: bool = False  # for a failure receipt: no more attempts will be made
    in_doubt: bool = False  # the provider may have the message: look it up before sending again


def decide(outcome: Outcome, *, channel: ChannelName, plan: tuple[str, ...], channel_attempts: int, urgent: bool,
           now: datetime, retry: Retry, retry_after: float | None = None, rand: float | None = None) -> Decision:
    """The next step for a message after one attempt on `channel` (R22)."""
    if outcome == "sent":
        return Decision("sent", channel, final=True)
    later = [c for c in plan[plan.index(channel) + 1:]] if channel in plan else []
    fallback = Decision("fallback", later[0], now) if later else None
    if outcome in ("retry", "unknown"):
        if channel_attempts < retry.max_attempts:
            wait = max(retry.delay(channel_attempts, rand), retry_after or 0.0)
            return Decision("retry", channel, now + timedelta(seconds=wait), in_doubt=outcome == "unknown")
        if outcome == "unknown" and fallback is None and channel_attempts < 2 * retry.max_attempts:
            # The provider may have it: keep looking it up (and resending only what it lacks) a while longer
            # rather than give up on the last channel.
            return Decision("retry", channel, now + timedelta(seconds=retry.max_seconds), in_doubt=True)
        return fallback or Decision("fail", channel, final=True)
    if outcome == "daily_limit":
        if fallback:
            return fallback
        # A safety message held until tomorrow would be useless: report it now (R12, R13).
        return Decision("fail", channel, final=True) if urgent else Decision("defer", channel, next_local_midnight(now))
    # invalid_address (no such number, push token expired) or rejected: another try cannot help.
    return fallback or Decision("fail", channel, final=True)
