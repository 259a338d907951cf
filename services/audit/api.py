"""Audit's HTTP routes: the ledger's size and Merkle root (proofs and checkpoints come with R26)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.audit.ledger.merkle import root

router = APIRouter(prefix="/v1", tags=["audit"])


class LedgerHead(BaseModel):
    size: int = Field(description="Entries in the ledger.")
    root_hash: str = Field(description="RFC 9162 Merkle tree root over all entries, hex.")


@router.get("/ledger/head", response_model=LedgerHead, summary="Size and Merkle root of the fee ledger.")
async def head(request: Request) -> LedgerHead:
    async with request.app.state.runtime.uow_factory() as uow:
        hashes = await uow.leaf_hashes()
    return LedgerHead(size=len(hashes), root_hash=root(hashes).hex())
