"""The ledger's verification routes (R24, R26): signed checkpoints, the verifier key and consistency
proofs are public, as transparency logs publish them; proofs and receipts of entries, and the full
export, need an auditor's (or a scoped reader's) token."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from services.audit.api.deps import AuditorDep, Index, ReaderDep, Size, UowDep, may_see
from services.audit.api.tiles import SHORT_LIVED, published_checkpoint
from services.audit.db import AuditUoW, StoredEntry
from services.audit.handlers.proofs import (
    NotFound,
    checkpoint_for,
    consistency_bundle,
    disclosure_proof,
    export_lines,
    inclusion_proofs,
    receipt,
)
from services.audit.ledger.merkle import EMPTY_ROOT
from services.audit.settings import Context
from shared.auth import Principal, require
from shared.contracts.common import Int64
from shared.messaging.runtime import context_of

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

# A family reads the receipts of its own entries (issue 17 part 3): the salt in them opens its personal fields.
ReceiptReaderDep = Depends(require("auditor", "city", "district", "school", "guardian"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class LedgerHead(BaseModel):
    size: int = Field(description="Entries under the latest signed checkpoint.")
    root_hash: str = Field(description="RFC 9162 Merkle root of those entries, hex.")
    appended: int = Field(description="Entries appended so far; those past `size` are signed within seconds.")
    signed_note: str | None = Field(description="The latest checkpoint, a C2SP signed note.")


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Standard base64, as in the note.")
    signed_note: str
    published_at: datetime | None


class VerifierKey(BaseModel):
    origin: str = Field(description="The ledger's origin line.")
    vkey: str = Field(description="Ed25519 verifier key, <name>+<key id>+<base64>; check it out of band.")


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="SHA-256(0x00 || entry), base64.")
    proof: list[str] = Field(description="RFC 9162 audit path, leaf to root, base64 hashes.")
    signed_note: str = Field(description="The checkpoint the proof is against.")


@router.get("/head", response_model=LedgerHead, summary="Size and root of the latest signed checkpoint.")
async def head(db: AuditUoW = UowDep) -> LedgerHead:
    cp = await db.latest_checkpoint()
    appended = await db.ledger_size()
    if cp is None:
        return LedgerHead(size=0, root_hash=EMPTY_ROOT.hex(), appended=appended, signed_note=None)
    return LedgerHead(size=cp.tree_size, root_hash=cp.root_hash.hex(), appended=appended, signed_note=cp.signed_note)


@router.get("/checkpoint", response_class=PlainTextResponse, summary="A signed checkpoint (C2SP signed note).")
async def checkpoint(size: Size = None, db: AuditUoW = UowDep) -> PlainTextResponse:
    try:
        cp = await checkpoint_for(db, size)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return PlainTextResponse(cp.signed_note, media_type="text/plain; charset=utf-8")


@router.get("/checkpoints", response_model=list[CheckpointOut], summary="Signed checkpoints, oldest first.")
async def checkpoints(after: Annotated[Int64, Query(ge=0, description="Only checkpoints larger than this tree size.")] = 0,
                      limit: int = Query(100, ge=1, le=1000), db: AuditUoW = UowDep) -> list[CheckpointOut]:
    return [CheckpointOut(tree_size=c.tree_size, root_hash=_b64(c.root_hash), signed_note=c.signed_note,
                          published_at=c.published_at) for c in await db.checkpoints(after, limit)]


@router.get("/key", response_model=VerifierKey, summary="The key checkpoints are signed with.")
async def key(request: Request) -> VerifierKey:
    context = context_of(request, Context)
    return VerifierKey(origin=context.origin, vkey=context.signer.vkey)


@router.get("/consistency", summary="Proof that an older checkpoint is a prefix of a newer one (a bundle "
            "for `python -m services.audit.verifier consistency`).")
async def consistency(old: Annotated[Int64, Query(ge=0, description="Tree size of the older checkpoint.")],
                      new: Annotated[Int64 | None, Query(ge=1, description="Tree size of the newer; default the latest.")] = None,
                      db: AuditUoW = UowDep) -> dict:
    try:
        return await consistency_bundle(db, old, new)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/entries/{index}/proof", response_model=InclusionProof, summary="Inclusion proof of one entry.")
async def proof(index: Index, size: Size = None, principal: Principal = ReaderDep,
                db: AuditUoW = UowDep) -> InclusionProof:
    try:
        cp = await checkpoint_for(db, size)
        entry = await db.entry(index) if 0 <= index < cp.tree_size else None
        if entry is None:
            raise NotFound(f"entry {index} is not in the checkpoint of size {cp.tree_size}")
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    await may_see(principal, db, entry.school_id)
    path = (await inclusion_proofs(db, [index], cp.tree_size))[index]
    return InclusionProof(index=index, tree_size=cp.tree_size, leaf_hash=_b64(entry.leaf_hash),
                          proof=[_b64(h) for h in path], signed_note=cp.signed_note)


def _guardian_of(entry: StoredEntry) -> object:
    if entry.opening is None:
        return json.loads(entry.body).get("payload", {}).get("guardian_id")
    return json.loads(entry.opening)["values"].get("payload.guardian_id")


async def _may_read_receipt(principal: Principal, db: AuditUoW, entry: StoredEntry) -> None:
    if principal.role == "guardian":
        if _guardian_of(entry) != principal.subject:
            raise HTTPException(403, "a guardian may read only the receipts of the family's own entries")
    else:
        await may_see(principal, db, entry.school_id)


def _receipt_file(text: str, index: int) -> PlainTextResponse:
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="ledger-entry-{index}.tlog-proof"'})


@router.get("/entries/{index}/receipt", response_class=PlainTextResponse,
            summary="Receipt for one entry: a C2SP tlog-proof carrying the entry and, for the family and the "
                    "school's readers, the salt and values that open its commitments; verifiable offline.")
async def entry_receipt(index: Index, size: Size = None, principal: Principal = ReceiptReaderDep,
                        db: AuditUoW = UowDep) -> PlainTextResponse:
    try:
        entry, text = await receipt(db, index, size)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    await _may_read_receipt(principal, db, entry)
    return _receipt_file(text, index)


@router.get("/events/{event_id}/receipt", response_class=PlainTextResponse,
            summary="Receipt for the entry recording one event (a family's statement, found by the event id it "
                    "was published with), against the published checkpoint with its witnesses' cosignatures: "
                    "what the portal's Verify button checks in a parent's browser.")
async def event_receipt(event_id: uuid.UUID, request: Request, principal: Principal = ReceiptReaderDep,
                        db: AuditUoW = UowDep) -> PlainTextResponse:
    recorded = await db.recorded(event_id)
    if recorded is None:
        raise HTTPException(404, f"no ledger entry records event {event_id}")
    size, note = await published_checkpoint(request, db)
    index = recorded[0]
    if index >= size:
        raise HTTPException(404, f"event {event_id} is entry {index}, not yet under the published checkpoint of "
                                 f"size {size}; it will be within seconds")
    try:
        entry, text = await receipt(db, index, size)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    await _may_read_receipt(principal, db, entry)
    # The same proof against the same tree, with the note as published: cosigned by the witnesses' quorum.
    return _receipt_file(text.partition("\n\n")[0] + "\n\n" + note, index)


class DisclosureProof(BaseModel):
    disclosure_id: str
    school_id: str
    index: int = Field(description="The disclosure's leaf index in the ledger.")
    ledger_tree_size: int | None = Field(
        description="Ledger tree size its figures were computed at: the entries before it, which the verifier "
                    "recomputes them from (R21, R26).")
    entry_format: int = Field(description="1: the event as published; 2: personal fields committed (none in a "
                                          "disclosure, whose figures are the school's).")
    entry: str = Field(description="The entry's bytes, base64 (compact UTF-8 JSON); the leaf is SHA-256(0x00 || bytes).")
    leaf_hash: str = Field(description="Base64.")
    tree_size: int = Field(description="Size of the checkpoint the proof is against.")
    inclusion_proof: list[str] = Field(description="RFC 9162 audit path, leaf to root, base64 hashes.")
    checkpoint: str = Field(description="The checkpoint, a C2SP signed note with the witnesses' cosignature lines "
                                        "when witnesses are configured.")


@router.get("/disclosures/{disclosure_id}", response_model=DisclosureProof,
            summary="A school's disclosure (R21) as recorded in the ledger, with its inclusion proof against the "
                    "published (cosigned) checkpoint; public, for a browser's Verify button.")
async def disclosure(disclosure_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
                     db: AuditUoW = UowDep) -> JSONResponse:
    size, note = await published_checkpoint(request, db)
    try:
        found = await disclosure_proof(db, disclosure_id, size, note)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return JSONResponse(DisclosureProof(**found).model_dump(), headers={"Cache-Control": SHORT_LIVED})


@router.get("/export", summary="Every entry under a signed checkpoint, one line each (auditors only): export "
                               "format 2, a JSON line, a tab, then the entry's bytes as recorded (docs/audit.md).")
async def export(request: Request, size: Size = None, principal: Principal = AuditorDep) -> StreamingResponse:
    factory = request.app.state.runtime.uow_factory
    async with factory() as db:
        try:
            cp = await checkpoint_for(db, size)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
    # Not application/x-ndjson: a format-2 line is JSON, a tab, then the entry's own bytes.
    return StreamingResponse(export_lines(factory, cp.tree_size), media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="ledger-export-{cp.tree_size}.jsonl"'})
