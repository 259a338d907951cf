"""The auditor's read-only routes (R26, R29): entries by school, district, student, period and
category, each with its inclusion proof against a signed checkpoint; anomalies; monthly and annual
fee reports that cite the checkpoint they were computed from."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from services.audit.api.deps import Index, ReaderDep, Size, UowDep, may_see, scope_of
from services.audit.db import AuditUoW, StoredEntry
from services.audit.domain import opened_document, recorded_opening
from services.audit.handlers.proofs import NotFound, Scope, checkpoint_for, fee_report, inclusion_proofs
from shared.auth import Principal
from shared.contracts.common import Int64

router = APIRouter(prefix="/v1/audit", tags=["auditor"])

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CATEGORIES = ("charge", "waiver", "subsidy", "payment", "settlement", "refund", "payout", "expense", "fee_schedule",
              "disclosure")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class CheckpointRef(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Hex.")
    signed_note: str


class ProvenEntry(BaseModel):
    index: int = Field(description="Leaf index in the ledger's Merkle tree.")
    event_id: str
    event_type: str
    school_id: str
    district_id: str | None
    student_id: str | None
    category: str
    subcategory: str | None
    period: str = Field(description="School-local month the money moved, YYYY-MM.")
    amount_fen: int | None
    recorded_at: datetime | None
    entry: dict[str, Any] = Field(description="The event exactly as published.")
    entry_b64: str = Field(description="The entry's bytes, base64: the leaf is SHA-256(0x00 || bytes). Format 1: "
                                       "the event as published, compact UTF-8 JSON; format 2: the event with its "
                                       "personal fields as salted commitments (docs/audit.md).")
    entry_format: int = Field(description="1 or 2.", examples=[2])
    opening: dict[str, Any] | None = Field(
        default=None, description="Format 2: the salt (base64) and the committed values, by name, that open the "
                                  "entry's commitments; null for format 1.")
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path to the checkpoint's root, base64.")


class EntryPage(BaseModel):
    checkpoint: CheckpointRef
    entries: list[ProvenEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


class AnomalyOut(BaseModel):
    anomaly_id: str
    check: str
    severity: str
    school_id: str
    district_id: str | None
    student_id: str | None
    period: str | None
    amount_fen: int | None
    subject_event_ids: list[str]
    ledger_indexes: list[int]
    ledger_tree_size: int | None
    detail: str
    evidence: dict[str, Any]
    detected_at: datetime


def _proven(e: StoredEntry, proof: list[bytes]) -> ProvenEntry:
    return ProvenEntry(index=e.seq, event_id=str(e.event_id), event_type=e.event_type, school_id=e.school_id,
                       district_id=e.district_id, student_id=e.student_id, category=e.category,
                       subcategory=e.subcategory, period=e.period, amount_fen=e.amount_fen, recorded_at=e.recorded_at,
                       entry=opened_document(e.body, e.opening), entry_b64=_b64(e.body),
                       entry_format=1 if e.opening is None else 2, opening=recorded_opening(e.opening),
                       inclusion_proof=[_b64(h) for h in proof])


def _ref(cp: Any) -> CheckpointRef:
    return CheckpointRef(tree_size=cp.tree_size, root_hash=cp.root_hash.hex(), signed_note=cp.signed_note)


@router.get("/entries", response_model=EntryPage, summary="Ledger entries, filtered, each with its proof.")
async def entries(
    school_id: str | None = Query(None, min_length=1),
    district_id: str | None = Query(None, min_length=1),
    student_id: str | None = Query(None, min_length=1),
    period: str | None = Query(None, pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$", description="YYYY-MM or YYYY."),
    category: str | None = Query(None, description=f"One of {', '.join(CATEGORIES)}, or a sub-category "
                                 "(e.g. group_accident_insurance, hardship)."),
    after: Annotated[Int64, Query(ge=-1, description="Only entries with a larger index (paging).")] = -1,
    limit: int = Query(100, ge=1, le=500),
    size: Size = None,
    principal: Principal = ReaderDep,
    db: AuditUoW = UowDep,
) -> EntryPage:
    scope = await scope_of(principal, db, school_id=school_id, district_id=district_id)
    try:
        cp = await checkpoint_for(db, size)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    found = await db.find_entries(below=cp.tree_size, school_id=school_id, district_id=district_id,
                                  student_id=student_id, period=period, category=category, schools=scope.schools,
                                  after=after, limit=limit)
    proofs = await inclusion_proofs(db, [e.seq for e in found], cp.tree_size)
    return EntryPage(checkpoint=_ref(cp), entries=[_proven(e, proofs[e.seq]) for e in found],
                     next_after=found[-1].seq if len(found) == limit else None)


@router.get("/entries/{index}", response_model=EntryPage, summary="One ledger entry with its proof.")
async def entry(index: Index, size: Size = None, principal: Principal = ReaderDep,
                db: AuditUoW = UowDep) -> EntryPage:
    try:
        cp = await checkpoint_for(db, size)
        e = await db.entry(index) if 0 <= index < cp.tree_size else None
        if e is None:
            raise NotFound(f"entry {index} is not in the checkpoint of size {cp.tree_size}")
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    await may_see(principal, db, e.school_id)
    proofs = await inclusion_proofs(db, [index], cp.tree_size)
    return EntryPage(checkpoint=_ref(cp), entries=[_proven(e, proofs[index])], next_after=None)


@router.get("/anomalies", response_model=list[AnomalyOut], summary="What the checks found (R25), newest first.")
async def anomalies(
    school_id: str | None = Query(None, min_length=1),
    district_id: str | None = Query(None, min_length=1),
    check: str | None = Query(None, min_length=1),
    period: str | None = Query(None, pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$"),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = ReaderDep,
    db: AuditUoW = UowDep,
) -> list[AnomalyOut]:
    scope = await scope_of(principal, db, school_id=school_id, district_id=district_id)
    rows = await db.find_anomalies(school_id=school_id, district_id=district_id, check=check, period=period,
                                   schools=scope.schools, limit=limit)
    return [AnomalyOut(anomaly_id=r.anomaly_id, check=r.check_name, severity=r.severity, school_id=r.school_id,
                       district_id=r.district_id, student_id=r.student_id, period=r.period, amount_fen=r.amount_fen,
                       subject_event_ids=[str(i) for i in r.subject_event_ids], ledger_indexes=list(r.ledger_indexes),
                       ledger_tree_size=r.ledger_tree_size, detail=r.detail, evidence=r.evidence,
                       detected_at=r.detected_at) for r in rows]


async def _report(prefix: str, school_id: str | None, district_id: str | None, size: int | None,
                  principal: Principal, db: AuditUoW) -> dict:
    scope = await scope_of(principal, db, school_id=school_id, district_id=district_id)
    asked: tuple[str, ...] | None = None
    if school_id:
        asked = (school_id,)
    elif district_id:
        asked = tuple(await db.schools_of_district(district_id))
    # A filter only narrows the caller's scope, never replaces it (R27): a school's `district_id` or a
    # district's `school_id` in another district reaches outside, and is refused.
    if (asked is not None and scope.schools is not None and not set(asked) <= set(scope.schools)) or (
            principal.role == "school" and district_id and district_id != principal.district_id):
        raise HTTPException(403, f"role {principal.role!r} may read only the fee reports of its own "
                                 f"{'school' if principal.role == 'school' else 'schools'}")
    schools = scope.schools if asked is None else asked
    try:
        return await fee_report(db, prefix, Scope(schools), size)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/reports/monthly", summary="Monthly fee review per school (月调度, R29), citing its checkpoint.")
async def monthly(period: str = Query(..., pattern=MONTH, description="YYYY-MM"),
                  school_id: str | None = Query(None, min_length=1), district_id: str | None = Query(None, min_length=1),
                  size: Size = None, principal: Principal = ReaderDep,
                  db: AuditUoW = UowDep) -> dict:
    return await _report(period, school_id, district_id, size, principal, db)


@router.get("/reports/annual", summary="Annual fee report per school (年报告, R29), citing its checkpoint.")
async def annual(year: str = Query(..., pattern=r"^[0-9]{4}$", description="YYYY"),
                 school_id: str | None = Query(None, min_length=1), district_id: str | None = Query(None, min_length=1),
                 size: Size = None, principal: Principal = ReaderDep,
                 db: AuditUoW = UowDep) -> dict:
    return await _report(year, school_id, district_id, size, principal, db)
