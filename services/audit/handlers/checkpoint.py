"""Use case: integrate the entries appended since the last checkpoint into the Merkle tree, check each
school's books, sign a C2SP checkpoint and publish it (R24, R25, R26)."""
from __future__ import annotations

import base64
from datetime import datetime

from services.audit.db import AuditUoW, StoredCheckpoint
from services.audit.domain import read_signed_entry
from services.audit.domain.rules import check_books
from services.audit.handlers.findings import record_findings
from services.audit.ledger import books
from services.audit.ledger.checkpoint import Checkpoint, NoteSigner, format_checkpoint, open_checkpoint
from services.audit.ledger.merkle import MerkleAccumulator, leaf_hash
from services.audit.ledger.tree import Integrator
from shared.contracts.audit import LedgerCheckpointPublished


class LedgerIntegrityError(RuntimeError):
    """The stored ledger disagrees with itself; the service refuses to sign anything over it."""


def _resume(last: StoredCheckpoint | None, signer: NoteSigner) -> Integrator:
    """The compact range of the last checkpoint, after proving it is the one this key signed: a log
    must never sign a checkpoint inconsistent with one it signed before (C2SP tlog-checkpoint)."""
    if last is None:
        return Integrator()
    try:
        signed = open_checkpoint(last.signed_note, [signer.verifier])
        peaks_root = MerkleAccumulator.from_state(last.tree_size, last.peaks).root()
    except ValueError as exc:
        raise LedgerIntegrityError(f"the stored state of checkpoint {last.tree_size} is unusable: {exc}") from exc
    if (signed.size, signed.root_hash) != (last.tree_size, last.root_hash) or peaks_root != last.root_hash:
        raise LedgerIntegrityError(f"the stored state of checkpoint {last.tree_size} does not match what was signed")
    return Integrator(last.tree_size, last.peaks)


async def publish_checkpoint(uow: AuditUoW, signer: NoteSigner, origin: str, now: datetime,
                             *, chunk: int = 5000) -> StoredCheckpoint | None:
    """Sign a checkpoint over every entry appended so far; None if nothing was appended since the last.

    Costs O(new entries): the tree is extended from the last checkpoint's compact range, and only the
    new complete 256-leaf subtrees (and those above them) are hashed and stored.
    """
    await uow.lock("checkpoint")
    last = await uow.latest_checkpoint()
    start = last.tree_size if last else 0
    size = await uow.ledger_size()
    if size <= start:
        return None
    tree = _resume(last, signer)
    touched: dict[str, books.SchoolBooks] = {}
    findings = []
    async for rows in uow.entry_chunks(start, size, chunk):
        parsed = []
        for row in rows:
            body = bytes(row.body)
            h = leaf_hash(body)
            if h != bytes(row.leaf_hash) or row.seq != tree.size:
                raise LedgerIntegrityError(f"entry {row.seq} was changed or misplaced before it was signed")
            tree.append(h)
            parsed.append((row.seq, read_signed_entry(body, str(row.event_id))))
        missing = {e.school_id for _, e in parsed} - touched.keys()
        found = await uow.books_of(missing)
        touched.update({s: found.get(s, books.SchoolBooks()) for s in missing})
        for seq, entry in parsed:
            school = touched[entry.school_id]
            school.add(entry)
            findings.extend(check_books(seq, entry, school, size))
        await uow.insert_nodes(tree.take_completed())
    if tree.size != size:
        raise LedgerIntegrityError(f"the ledger should hold {size} entries but {tree.size} were read")
    root = tree.root()
    note = signer.sign_note(format_checkpoint(Checkpoint(origin, size, root)))
    envelope = uow.publish(LedgerCheckpointPublished(
        log_id=origin, tree_size=size, root_hash=base64.b64encode(root).decode("ascii"), signed_note=note,
        published_by="audit", published_by_role="platform", published_at=now))
    await uow.insert_checkpoint(size, root, tree.peaks, note, envelope.event_id, now)
    await uow.save_books(touched, size)
    await record_findings(uow, findings, ledger_tree_size=size, now=now)
    return StoredCheckpoint(size, root, tree.peaks, note, envelope.event_id, now)
