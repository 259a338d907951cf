"""What every audit route shares: the unit of work, who may read which school's money (R26, R27),
and how a missing checkpoint or entry becomes a 404 with its reason."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request

from services.audit.db import AuditUoW
from services.audit.handlers.proofs import Scope
from shared.auth import Principal, require
from shared.contracts.common import Int64

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


# Sizes and indexes are bigints: one past int64 is the caller's 422, not the driver's overflow (a 500).
Size = Annotated[Int64 | None, Query(ge=1, description="Tree size of a signed checkpoint; default the latest.")]
Index = Annotated[Int64, Path(ge=0, description="Leaf index in the ledger's Merkle tree.")]

ReaderDep = Depends(readers)
AuditorDep = Depends(auditors)
UowDep = Depends(uow)
