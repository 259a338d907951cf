"""What every audit route shares: the unit of work, who may read which school's money (R26, R27),
and how a missing checkpoint or entry becomes a 404 with its reason."""
from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, HTTPException, Request

from shared.auth import Principal, require
from services.audit.db import AuditUoW
from services.audit.handlers.proofs import Scope

# Auditors and the city bureau read everything; a district its own schools; a school itself (R27).
readers = require("auditor", "city", "district", "school")
auditors = require("auditor", "city")


async def uow(request: Request) -> AsyncIterator[AuditUoW]:
    async with request.app.state.runtime.uow_factory() as unit:
        yield unit


async def scope_of(principal: Principal, db: AuditUoW, *, school_id: str | None = None,
                   district_id: str | None = None) -> Scope:
    """The schools the caller may see within the filters asked for; 403 when a filter reaches outside."""
    if principal.role in ("auditor", "city"):
        return Scope(None)
    if principal.role == "school":
        if not principal.school_id or (school_id and school_id != principal.school_id):
            raise HTTPException(403, "a school may read only its own ledger entries")
        return Scope((principal.school_id,))
    if not principal.district_id or (district_id and district_id != principal.district_id):
        raise HTTPException(403, "a district may read only its own schools' ledger entries")
    return Scope(tuple(await db.schools_of_district(principal.district_id)))


async def may_see(principal: Principal, db: AuditUoW, school_id: str) -> None:
    district = (await db.districts_of([school_id])).get(school_id)
    if not principal.may_see_school(school_id, district):
        raise HTTPException(403, f"role {principal.role!r} may not read the entries of {school_id}")


ReaderDep = Depends(readers)
AuditorDep = Depends(auditors)
UowDep = Depends(uow)
