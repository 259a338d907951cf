"""Read use cases for auditors (R26, R29): inclusion and consistency proofs against signed checkpoints,
receipts, the export, and monthly and annual reports that cite the checkpoint they were computed at."""
from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from services.audit.db import AuditUoW, StoredCheckpoint, StoredEntry
from services.audit.domain import recorded_opening
from services.audit.ledger import books
from services.audit.ledger.bundles import (
    Receipt,
    export_header,
    export_line,
    format_consistency,
    format_receipt,
    receipt_extra,
)
from services.audit.ledger.tree import ProofPlan


class NotFound(LookupError):
    """What was asked for does not exist (yet); str() says what."""


async def checkpoint_for(uow: AuditUoW, size: int | None) -> StoredCheckpoint:
    """The checkpoint of that size, or the latest one."""
    cp = await (uow.checkpoint_at(size) if size is not None else uow.latest_checkpoint())
    if cp is None:
        raise NotFound(f"no signed checkpoint of size {size}" if size is not None else "no checkpoint signed yet")
    return cp


async def inclusion_proofs(uow: AuditUoW, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """RFC 9162 inclusion proofs of several entries in the tree of `size`, in two round trips."""
    plan = ProofPlan()
    for index in indexes:
        plan.want_inclusion(index, size)
    await plan.fetch(uow.fetch_nodes, uow.fetch_leaves)
    return {index: plan.inclusion(index, size) for index in indexes}


async def consistency_bundle(uow: AuditUoW, old_size: int, new_size: int | None) -> dict[str, Any]:
    """Proof that the checkpoint of old_size is a prefix of the newer one, with both signed notes."""
    new = await checkpoint_for(uow, new_size)
    if old_size > new.tree_size:
        raise ValueError(f"old size {old_size} is larger than the new checkpoint's {new.tree_size}")
    if old_size == 0:  # the empty tree is a prefix of every tree: no old checkpoint, an empty proof
        return format_consistency(None, new.signed_note, [])
    old = await checkpoint_for(uow, old_size)
    proof = await consistency_proof(uow, old.tree_size, new.tree_size)
    return format_consistency(old.signed_note, new.signed_note, proof)


async def consistency_proof(uow: AuditUoW, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof between the trees of two sizes (empty from 0 or to the same size),
    as sent to a witness with a new checkpoint (C2SP tlog-witness)."""
    if not 0 < old_size < new_size:
        return []
    plan = ProofPlan()
    plan.want_consistency(old_size, new_size)
    await plan.fetch(uow.fetch_nodes, uow.fetch_leaves)
    return plan.consistency(old_size, new_size)


async def receipt(uow: AuditUoW, index: int, size: int | None,
                  may_open: Callable[[StoredEntry], bool] = lambda e: True) -> tuple[StoredEntry, str]:
    """The entry and its receipt: a C2SP tlog-proof carrying the entry, against a signed checkpoint. For
    whom `may_open` allows it (the family, a reader of the school), a format-2 entry travels with the
    salt and values that open its commitments (bundles.receipt_extra)."""
    cp = await checkpoint_for(uow, size)
    entry = await uow.entry(index)
    if entry is None or index >= cp.tree_size:
        raise NotFound(f"entry {index} is not in the checkpoint of size {cp.tree_size}")
    proof = (await inclusion_proofs(uow, [index], cp.tree_size))[index]
    extra = receipt_extra(entry.body, recorded_opening(entry.opening) if may_open(entry) else None)
    return entry, format_receipt(Receipt(index, tuple(proof), cp.signed_note, extra))


async def disclosure_proof(uow: AuditUoW, disclosure_id: str, size: int, note: str) -> dict[str, Any]:
    """A disclosure's ledger entry (R21), public: its bytes (school-level figures only; a format-2 entry
    also commits to anything personal), the tree size its figures were computed at, and its RFC 9162
    inclusion proof against the checkpoint of `size` whose (cosigned) note is given, for a browser's
    "Verify" button (issue 17 part 4)."""
    entry = await uow.disclosure_entry(disclosure_id)
    if entry is None:
        raise NotFound(f"no disclosure {disclosure_id} is recorded in the ledger")
    if entry.seq >= size:
        raise NotFound(f"disclosure {disclosure_id} is entry {entry.seq}, not yet under the published checkpoint "
                       f"of size {size}; it will be within seconds")
    proof = (await inclusion_proofs(uow, [entry.seq], size))[entry.seq]
    recorded = json.loads(entry.body)
    return {
        "disclosure_id": disclosure_id,
        "school_id": entry.school_id,
        "index": entry.seq,
        "ledger_tree_size": next((n for n in (recorded["payload"].get("ledger_tree_size"),
                                              recorded.get("ledger_tree_size")) if n is not None), None),
        "entry_format": 1 if entry.opening is None else 2,
        "entry": _b64(entry.body),
        "leaf_hash": _b64(entry.leaf_hash),
        "tree_size": size,
        "inclusion_proof": [_b64(h) for h in proof],
        "checkpoint": note,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def entry_columns(e: StoredEntry) -> dict[str, Any]:
    """The database's index columns of an entry, as the verifier compares them with the bytes."""
    return {"event_id": str(e.event_id), "event_type": e.event_type, "school_id": e.school_id,
            "student_id": e.student_id, "category": e.category, "period": e.period, "amount_fen": e.amount_fen}


async def export_lines(uow_factory: Callable[[], AbstractAsyncContextManager[AuditUoW]], size: int | None,
                       chunk: int = 2000) -> AsyncIterator[str]:
    """The export at a checkpoint (export format 2): a header with the signed checkpoint, then one line per
    entry, its bytes beside the line's JSON (bundles.export_line). Read in short transactions by index:
    entries never change, so the pages fit together."""
    async with uow_factory() as uow:
        cp = await checkpoint_for(uow, size)
    yield export_header(cp.signed_note, cp.tree_size) + "\n"
    after = -1
    while after + 1 < cp.tree_size:
        async with uow_factory() as uow:
            rows = await uow.export_rows(after, cp.tree_size, chunk)
        if not rows:
            return
        yield "".join(export_line(r.seq, r.body, r.leaf_hash, entry_columns(r), recorded_opening(r.opening),
                                  beside=True) + "\n" for r in rows)
        after = rows[-1].seq


@dataclass(frozen=True)
class Scope:
    """The schools a caller may see: None = all (R27)."""

    schools: tuple[str, ...] | None


_REPORT_FIELDS = ("charged_fen", "waived_fen", "subsidy_income_fen", "fee_income_fen", "refunded_fen", "payouts_fen",
                  "staff_remuneration_fen", "extra_hours_operating_fen", "group_accident_insurance_fen", "balance_fen")


async def fee_report(uow: AuditUoW, period_prefix: str, scope: Scope, size: int | None) -> dict[str, Any]:
    """Per-school fee figures of a month (YYYY-MM) or a year (YYYY) over a signed checkpoint, on a cash
    basis like the disclosures (R21, R29), with the anomalies found in that period."""
    cp = await checkpoint_for(uow, size)
    rows = await uow.totals_by_school(below=cp.tree_size, period_prefix=period_prefix, schools=scope.schools)
    counts = await uow.anomaly_counts(period_prefix=period_prefix, schools=scope.schools)
    schools: dict[str, dict[str, Any]] = {}

    def school(sid: str) -> dict[str, Any]:
        return schools.setdefault(sid, {"school_id": sid, **{f: 0 for f in _REPORT_FIELDS}, "entries": 0,
                                        "students_charged": 0, "anomalies": {}})

    for r in rows:
        s = school(r.school_id)
        s["entries"] += r.entries
        amount = int(r.amount_fen)
        if r.category == "charge":
            s["charged_fen"] += amount
        kind = {"waiver": "waived_fen", "subsidy": "subsidy_income_fen", "payment": "fee_income_fen",
                "refund": "refunded_fen", "payout": "payouts_fen"}.get(r.category)
        if r.category == "expense" and r.subcategory in books.EXPENSE_ACCOUNTS:
            kind = f"{r.subcategory}_fen"
        if kind:
            s[kind] += amount
            if kind in ("fee_income_fen", "subsidy_income_fen"):
                s["balance_fen"] += amount
            elif kind != "waived_fen":
                s["balance_fen"] -= amount
    for r in counts:
        school(r.school_id)["anomalies"][r.check_name] = int(r.n)
    for sid, n in (await uow.students_charged(below=cp.tree_size, period_prefix=period_prefix,
                                              schools=scope.schools)).items():
        school(sid)["students_charged"] = n
    districts = await uow.districts_of(schools)
    for sid, s in schools.items():
        s["district_id"] = districts.get(sid)
    totals = {f: sum(s[f] for s in schools.values()) for f in _REPORT_FIELDS}
    return {
        "period": period_prefix,
        "basis": "cash: each amount counts in the school-local month the money moved",
        "checkpoint": {"tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(), "signed_note": cp.signed_note},
        "totals": totals,
        "schools": [schools[k] for k in sorted(schools)],
    }
