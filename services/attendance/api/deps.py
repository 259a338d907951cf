"""What attendance's routes share: the unit of work and policy of the request, who may submit or read a
school's records (R15, R27), the school-local day asked for, and the OpenAPI inliner of the record format."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, Field

from services.attendance import handlers as h
from services.attendance.db import AttendanceUoW
from services.attendance.domain import (
    local_day,
    submission_refusal,
)
from services.attendance.settings import Context
from shared.auth import Principal, current_principal
from shared.contracts.common import Text
from shared.messaging.runtime import context_of

ID = Annotated[Text, Field(min_length=1, max_length=128)]


# -- who may do what ------------------------------------------------------------------------------------
def uow_of(request: Request) -> AttendanceUoW:
    return request.app.state.runtime.uow_factory()


def policy_of(request: Request) -> h.Policy:
    return context_of(request, Context).policy


async def school_system_of(school_id: str, principal: Principal = Depends(current_principal)) -> Principal:
    """Only a school system, and only for its own school's students (R15, R27): the rule the attendance.ingest
    topic applies to each record's token too."""
    refusal = submission_refusal(principal.role, principal.school_id, school_id)
    if refusal is not None:
        raise HTTPException(403, refusal)
    return principal


async def school_or_system_of(school_id: str, principal: Principal = Depends(current_principal)) -> Principal:
    if principal.role not in ("school", "school_system") or principal.school_id != school_id:
        raise HTTPException(403, f"only school {school_id} itself (role school or school_system) may do this")
    return principal


async def reader_of(school_id: str, request: Request, principal: Principal = Depends(current_principal)) -> Principal:
    """The school itself, its school system, its district, the city and auditors may read (R27)."""
    if principal.role not in ("school", "school_system", "district", "city", "auditor"):
        raise HTTPException(403, f"role {principal.role!r} may not read a school's attendance")
    district = None
    if principal.role == "district":
        async with uow_of(request) as uow:
            district = await uow.district_of(school_id)
    if not principal.may_see_school(school_id, district):
        scope = principal.school_id or principal.district_id
        raise HTTPException(403, f"{principal.role} {scope} may not read school {school_id}")
    return principal


def day_asked(request: Request, value: date | None) -> date:
    return value or local_day(policy_of(request).clock())


def inlined(model: type[BaseModel]) -> dict:
    """The model's JSON Schema with its $defs substituted in place, to sit inside an OpenAPI request body."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: object) -> object:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            # A discriminator mapping names $defs too; with the variants inlined, the property name suffices.
            return {k: walk(v) for k, v in node.items() if not (k == "discriminator" and isinstance(v, dict))}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[return-value]
