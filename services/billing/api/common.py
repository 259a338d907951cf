"""What billing's routes share: the unit of work, the clock, who may see or act for a school (R27),
and retrying a command that lost a deadlock."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import HTTPException, Request
from pydantic import Field
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.billing.db import BillingUoW
from services.billing.handlers.common import Actor
from services.billing.settings import Settings
from shared.auth import Principal
from shared.contracts.common import Text
from shared.messaging.consumer import is_transient

T = TypeVar("T")

# Money in requests is whole fen; 12.5 or "12" is refused rather than guessed at.
Fen = Annotated[int, Field(strict=True, ge=1, le=10**12, description="Amount in fen (integer).", examples=[30000])]
RateFen = Annotated[int, Field(strict=True, ge=0, le=10**9, description="Amount per unit in fen (integer).", examples=[1500])]
# Years from 1000: the months around a period (the one before, the one after) are dates too.
Period = Annotated[str, Field(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", description="Month, YYYY-MM.", examples=["2025-09"])]
Id = Annotated[Text, Field(min_length=1, max_length=120, pattern=r"^[^\s,]+$", examples=["sch-0042"])]


def uow(request: Request) -> BillingUoW:
    return request.app.state.runtime.uow_factory()


def settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


def now() -> datetime:
    return datetime.now(UTC)


def actor(principal: Principal) -> Actor:
    return Actor.of(principal.subject, principal.role)


async def district_of(request: Request, school_id: str) -> str | None:
    async with uow(request) as u:
        return await u.district_of(school_id)


async def ensure_may_see(request: Request, principal: Principal, school_id: str) -> None:
    """Schools see themselves, districts their schools, the city and auditors all (R27)."""
    district = await district_of(request, school_id) if principal.role == "district" else None
    if principal.role not in ("school", "district", "city", "auditor") or not principal.may_see_school(school_id, district):
        raise HTTPException(403, f"{principal.role} {principal.subject} may not see school {school_id}")


async def ensure_may_act(request: Request, principal: Principal, school_id: str, *roles: str) -> None:
    """Like ensure_may_see, for roles that may act; an auditor reads only."""
    if principal.role not in roles:
        raise HTTPException(403, f"role {principal.role!r} may not do this; needs one of {', '.join(roles)}")
    district = await district_of(request, school_id) if principal.role == "district" else None
    if not principal.may_see_school(school_id, district):
        raise HTTPException(403, f"{principal.role} {principal.subject} may not act for school {school_id}")


async def retry_on_conflict(call: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """A command that lost a race is run again from the start: after a deadlock or serialisation
    failure it may now succeed; after a unique-key violation the winner has committed, and the
    command (idempotent by its reference) finds the winner's result instead of failing with a 500."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except IntegrityError:
            continue
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
    return await call()
