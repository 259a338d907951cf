"""The ledger on real PostgreSQL (R24, R26): one gap-free entry per fee record however often it is
delivered, checkpoints that extend each other and equal a full rebuild, and proofs read from the
stored subtrees that verify against the signed checkpoints."""
from __future__ import annotations

import base64

from sqlalchemy import text

from services.audit.domain import opened_document
from services.audit.handlers.proofs import consistency_bundle, inclusion_proofs, receipt
from services.audit.ledger.bundles import verify_consistency_bundle, verify_receipt
from services.audit.ledger.checkpoint import open_checkpoint
from services.audit.ledger.merkle import root, verify_inclusion
from tests.unit.audit.harness import ORIGIN, TestLedger
from tests.unit.audit.money import School, envelope


async def _seqs(ledger: TestLedger) -> list[int]:
    async with ledger.uow() as uow:
        return [r.seq for r in (await uow.session.execute(text("select seq from ledger_entries order by seq"))).all()]


async def test_each_fee_record_becomes_exactly_one_entry_and_indexes_have_no_gaps(ledger: TestLedger) -> None:
    school = School("once")
    student = school.student()
    first = [envelope(school.payment(student, 100 + i)) for i in range(30)]
    second = [envelope(school.payment(student, 200 + i)) for i in range(30)]
    await ledger.feed(*first, *first[:10])  # the same event twice in one batch
    await ledger.feed(*second, *first)  # and again in a later batch
    await ledger.feed(*second[::-1])
    async with ledger.uow() as uow:
        found = await uow.find_entries(below=10**9, school_id=school.school_id, limit=500)
    assert sorted(str(e.event_id) for e in found) == sorted(str(e.event_id) for e in first + second)
    assert [str(e.event_id) for e in found] == [str(e.event_id) for e in first + second], "in the order consumed"
    seqs = await _seqs(ledger)
    assert seqs == list(range(len(seqs)))


async def test_checkpoints_extend_each_other_and_equal_a_full_rebuild(ledger: TestLedger) -> None:
    school = School("cp")
    student = school.student()
    sizes = []
    for batch in range(4):
        await ledger.feed(*[school.payment(student, 1 + batch * 1000 + i) for i in range(140)])
        cp = await ledger.checkpoint()
        assert cp is not None
        sizes.append(cp.tree_size)
    assert await ledger.checkpoint() is None, "nothing new, nothing signed"
    async with ledger.uow() as uow:
        hashes = [bytes(r.leaf_hash) for r in (await uow.session.execute(
            text("select leaf_hash from ledger_entries order by seq"))).all()]
        for size in sizes:
            stored = await uow.checkpoint_at(size)
            signed = open_checkpoint(stored.signed_note, [ledger.vkey], ORIGIN)
            assert signed.root_hash == stored.root_hash == root(hashes[:size])
        for old, new in zip(sizes, sizes[1:]):
            old_cp, new_cp = verify_consistency_bundle(await consistency_bundle(uow, old, new), [ledger.vkey])
            assert (old_cp.size, new_cp.size) == (old, new)
        last = sizes[-1]
        picks = [0, 1, 255, 256, 257, last // 2, last - 1]
        proofs = await inclusion_proofs(uow, picks, last)
        for i in picks:
            verify_inclusion(hashes[i], i, last, proofs[i], root(hashes[:last]))
        entry, issued = await receipt(uow, last - 1, None)
        verified = verify_receipt(issued, [ledger.vkey])
        assert verified.entry == entry.body and verified.opened == opened_document(entry.body, entry.opening)
        stored_nodes = (await uow.session.execute(text("select count(*) from ledger_nodes"))).scalar_one()
    assert stored_nodes == sum(last >> level for level in range(8, 64))


async def test_each_checkpoint_is_published_as_a_signed_event_and_the_schools_books_are_kept(
    ledger: TestLedger
) -> None:
    school = School("pub")
    await ledger.feed(school.subsidy(700), school.expense(300))
    cp = await ledger.checkpoint()
    event = next(e for e in await ledger.published("LedgerCheckpointPublished") if e["payload"]["tree_size"] == cp.tree_size)
    payload = event["payload"]
    assert payload["log_id"] == ORIGIN and payload["signed_note"] == cp.signed_note
    assert base64.b64decode(payload["root_hash"]) == cp.root_hash and event["event_id"] == str(cp.event_id)
    async with ledger.uow() as uow:
        books = (await uow.books_of([school.school_id]))[school.school_id]
    assert books.balanced and books.bank_fen == 400
