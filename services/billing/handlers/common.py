"""What billing's use cases share: stable ids, who acted, school-local days; no rules, no SQL."""
from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ParamSpec, TypeVar

from services.billing.domain import Move
from shared.contracts.billing import Posting
from shared.ids import StableIds
from shared.time import SCHOOL_TZ as SHANGHAI
from shared.time import local_day

P = ParamSpec("P")
R = TypeVar("R")


def command(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A command handler commits its own unit of work when it returns; a refusal it raises commits
    nothing. Billing's one rule, as enrollment's: command handlers commit, routes never do, and for
    consumed events the kit's consumer commits the batch (handlers/events.py never commits)."""
    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = await handler(*args, **kwargs)
        uow: Any = kwargs.get("uow", args[0] if args else None)
        await uow.commit()
        return result
    return run


_EVENT_IDS = StableIds("5d1b7c52-3f0e-4c1a-9a57-2b8f0e6d4c31")

# Token roles (shared/auth.py) as the actor roles events record (R27).
_ACTOR_ROLES = {
    "guardian": "guardian",
    "school": "school_staff",
    "district": "district_officer",
    "city": "city_officer",
    "auditor": "auditor",
    "school_system": "school_system",
}


@dataclass(frozen=True)
class Actor:
    """Who runs a command, as recorded on every event it causes (R27)."""

    subject: str
    role: str  # an ActorRole of the contracts

    @classmethod
    def of(cls, subject: str, token_role: str) -> Actor:
        return cls(subject, _ACTOR_ROLES.get(token_role, "platform"))


PLATFORM = Actor("billing", "platform")


def stable_id(prefix: str, *parts: object) -> str:
    """A short id derived from what identifies the thing, so running a command again finds it."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).hexdigest()
    return f"{prefix}-{digest}"


def event_uuid(type_name: str, business_id: str) -> uuid.UUID:
    """The event id of the one event of this type about this thing: a retried run cannot publish
    it under a second id, and consumers deduplicate on it."""
    return _EVENT_IDS(f"{type_name}:{business_id}")


def local_midnight_utc(day: date) -> datetime:
    """The instant school-local `day` begins, in UTC."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def due_at(settled: datetime, days: int) -> datetime:
    """End of the school-local day `days` after settlement, in UTC (R22: fees due)."""
    return local_midnight_utc(local_day(settled) + timedelta(days=days + 1)) - timedelta(seconds=1)


def postings(moves: list[Move]) -> list[Posting]:
    return [Posting(debit=m.debit, credit=m.credit, amount_fen=m.amount_fen) for m in moves]
