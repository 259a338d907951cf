"""The ledger's public read path, C2SP tlog-tiles (issue 17 part 2; R24, R26): the newest checkpoint and
the hash tiles, without an account, as immutable cacheable resources, so a parent's browser, an auditor's
script or a mirror verifies inclusion and consistency with any tlog client.

Tiles are read from what the ledger stores, never recomputed: a level-0 tile is 256 entries' leaf hashes
(ledger_entries.leaf_hash), a level-L tile (L >= 1) is 256 stored subtree hashes at tree height 8L
(ledger_nodes, every complete aligned subtree of 256 leaves or more is kept).

Entry bundles are public when every entry in them is of format 2 (issue 17 part 3): the leaf holds
salted commitments of the personal fields, never their values (services/audit/ledger/commitments.py).
A bundle holding a format-1 entry (the event as published, naming the student, R27) still needs an
auditor's or the city's token: its bytes are fixed by the hashes already signed, so it cannot be redacted.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text

from services.audit.api.deps import UowDep, auditors
from services.audit.db import AuditUoW
from services.audit.settings import Context
from shared.auth import current_principal
from shared.messaging.runtime import context_of

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "encode_bundle", "format_index", "parse_tile_path", "published_checkpoint",
           "tile_path", "tile_width_available", "router"]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_LIVED = "public, max-age=5"
"""Partial tiles and the checkpoint change as the ledger grows; a few seconds of caching spares the
service a city's refreshes without hiding a new checkpoint for long."""

router = APIRouter(tags=["tlog-tiles"])


def format_index(n: int) -> str:
    """The spec's tile index path: three-digit groups, all but the last prefixed by x (1234067 ->
    x001/x234/067)."""
    if n < 0:
        raise ValueError("a tile index is not negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int | str, n: int, width: int = TILE_WIDTH) -> str:
    """tile/<L>/<N>[.p/<W>]; level "entries" for entry bundles."""
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError("a tile holds 1 to 256 hashes")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{format_index(n)}{suffix}"


_INDEX = re.compile(r"^(?:x\d{3}/)*\d{3}$")


def parse_tile_path(rest: str) -> tuple[int, int]:
    """(N, W) from the part after tile/<L>/; ValueError for anything the spec does not write exactly
    (no leading x group of zeros, widths 1..255)."""
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not re.fullmatch(r"[1-9]\d{0,2}", w) or int(w) >= TILE_WIDTH:
            raise ValueError("a partial tile's width is 1 to 255")
        width = int(w)
    if not _INDEX.match(rest):
        raise ValueError("a tile index is three-digit groups, all but the last prefixed by x")
    groups = rest.split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError("a tile index has no leading zero group")
    n = 0
    for g in groups:
        n = n * 1000 + int(g.lstrip("x"))
    return n, width


def tile_width_available(level: int, n: int, tree_size: int) -> int:
    """How many hashes tile (level, n) holds in a tree of tree_size leaves (0: none yet)."""
    hashes_at_height = tree_size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, hashes_at_height - n * TILE_WIDTH))


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise ValueError("an entry in a bundle is at most 65535 bytes")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


async def _signed_size(db: AuditUoW) -> int:
    cp = await db.latest_checkpoint()
    return cp.tree_size if cp else 0


def _requested(level: int, rest: str, tree_size: int) -> tuple[int, int]:
    try:
        n, width = parse_tile_path(rest)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None
    if tile_width_available(level, n, tree_size) < width:
        raise HTTPException(404, "the ledger's signed tree does not hold that tile yet")
    return n, width


def _tile_response(body: bytes, width: int) -> Response:
    return Response(body, media_type="application/octet-stream",
                    headers={"Cache-Control": IMMUTABLE if width == TILE_WIDTH else SHORT_LIVED})


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The newest checkpoint (C2SP signed note), with the witnesses' cosignatures once their "
                    "quorum has cosigned; public.")
async def checkpoint(request: Request, db: AuditUoW = UowDep) -> PlainTextResponse:
    _, note = await published_checkpoint(request, db)
    return PlainTextResponse(note, headers={"Cache-Control": SHORT_LIVED})


async def published_checkpoint(request: Request, db: AuditUoW) -> tuple[int, str]:
    """(size, note) of the checkpoint the public verifies against: the newest the witnesses' quorum
    cosigned when witnesses are configured, else the newest signed; 404 until there is one."""
    workers = context_of(request, Context).workers
    if workers is not None and getattr(workers, "witness_quorum", 0):
        kept = await db.latest_cosigned()  # kept in the database: a restarted process serves it at once
    else:
        cp = await db.latest_checkpoint()
        kept = (cp.tree_size, cp.signed_note) if cp else None
    if kept is None:
        raise HTTPException(404, "no checkpoint has been signed (and cosigned by the witnesses' quorum) yet")
    return kept


@router.get("/tile/entries/{rest:path}", summary="An entry bundle: public when all its entries are of format 2 "
                                                 "(personal fields committed); else auditors and the city only.")
async def entry_bundle(rest: str, request: Request, db: AuditUoW = UowDep) -> Response:
    n, width = _requested(0, rest, await _signed_size(db))
    rows = await db.entry_range(n * TILE_WIDTH, n * TILE_WIDTH + width)
    if len(rows) != width:
        raise HTTPException(500, "the ledger is missing entries for this bundle")
    public = all(committed for _, committed in rows)
    if not public:  # a format-1 entry names its student: only for those who may read that (R27)
        await auditors(await current_principal(request))
    response = _tile_response(encode_bundle([body for body, _ in rows]), width)
    if not public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/tile/{level}/{rest:path}", summary="A hash tile (height 8), public.")
async def hash_tile(level: int, rest: str, db: AuditUoW = UowDep) -> Response:
    if level < 0 or level > 7:
        raise HTTPException(404, "tile levels are 0 to 7")
    n, width = _requested(level, rest, await _signed_size(db))
    first = n * TILE_WIDTH
    if level == 0:
        rows = (await db.session.execute(
            text("select leaf_hash as hash from ledger_entries where seq >= :a and seq < :b order by seq"),
            {"a": first, "b": first + width})).all()
    else:
        rows = (await db.session.execute(
            text("select hash from ledger_nodes where level = :l and idx >= :a and idx < :b order by idx"),
            {"l": TILE_HEIGHT * level, "a": first, "b": first + width})).all()
    if len(rows) != width:
        raise HTTPException(500, "the ledger is missing stored hashes for this tile")
    return _tile_response(b"".join(bytes(r.hash) for r in rows), width)
