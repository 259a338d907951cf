"""Tampering with the ledger on real PostgreSQL (R24): the service's own role cannot change it, and
whatever a superuser changes behind every guard (a flipped byte, a deleted, reordered or inserted
entry, a rewritten tail with recomputed hashes and even a re-signed checkpoint) is caught by the
offline verifier against a checkpoint the auditor saved earlier."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.audit.db import writer_url
from services.audit.handlers import LedgerIntegrityError
from services.audit.handlers.proofs import consistency_proof, receipt
from services.audit.ledger.bundles import BundleError, verify_receipt
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint
from services.audit.ledger.merkle import leaf_hash, root
from services.audit.ledger.witness import with_cosignatures
from services.audit.verifier import EXIT_FAILED, EXIT_OK
from services.audit.verifier import main as verify
from services.audit.witnesses import Witness, WitnessRefused, collect
from shared.contracts.registry import encode
from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import School, envelope

pytestmark = pytest.mark.integration


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[TestLedger]:
    """A fresh ledger per test (tampering is permanent): 300 entries under two signed checkpoints."""
    lg = await TestLedger.create(database_url, "tamper")
    school = School("tmp")
    student = school.student()
    await lg.feed(*[school.payment(student, 100 + i) for i in range(200)])
    lg.first = await lg.checkpoint()  # type: ignore[attr-defined]
    await lg.feed(*[school.payment(student, 1000 + i) for i in range(100)])
    lg.second = await lg.checkpoint()  # type: ignore[attr-defined]
    yield lg
    await lg.close()


def _audit(export: Path, ledger: TestLedger, *saved: str, tmp_path: Path) -> tuple[int, dict]:
    args = ["audit", str(export), "--key", ledger.vkey, "--json"]
    for i, note in enumerate(saved):
        path = tmp_path / f"saved-{i}.checkpoint"
        path.write_text(note, encoding="utf-8")
        args += ["--checkpoint", str(path)]
    out = io.StringIO()
    code = verify(args, out)
    return code, json.loads(out.getvalue())


async def _export(ledger: TestLedger, tmp_path: Path, name: str = "export.jsonl") -> Path:
    return await ledger.export_to(tmp_path / name)


async def test_an_untouched_ledger_verifies_against_every_saved_checkpoint(ledger: TestLedger, tmp_path: Path) -> None:
    code, report = _audit(await _export(ledger, tmp_path), ledger, ledger.first.signed_note, ledger.second.signed_note,
                          tmp_path=tmp_path)
    assert code == EXIT_OK, report
    assert report["entries"] == 300 and [c["consistent"] for c in report["saved_checkpoints"]] == [True, True]


async def test_the_service_role_may_not_update_delete_or_truncate_the_ledger(ledger: TestLedger) -> None:
    conn = await asyncpg.connect(writer_url(ledger.settings).replace("+asyncpg", ""))
    try:
        await conn.execute(f'set search_path to "{ledger.schema}"')
        assert await conn.fetchval("select current_user") == "audit_writer"
        for statement in (
            "update ledger_entries set amount_fen = 1 where seq = 3",
            "delete from ledger_entries where seq = 3",
            "truncate ledger_entries",
            "update ledger_checkpoints set signed_note = 'x'",
            "delete from ledger_nodes",
            "truncate anomalies",
            "alter table ledger_entries disable trigger ledger_entries_no_change",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        assert await conn.fetchval("select count(*) from ledger_entries") == 300
    finally:
        await conn.close()


async def test_even_the_superuser_is_stopped_by_the_triggers_unless_it_switches_them_off(ledger: TestLedger) -> None:
    conn = await asyncpg.connect(ledger.database_url)
    try:
        await conn.execute(f'set search_path to "{ledger.schema}"')
        for statement in ("update ledger_entries set amount_fen = 1 where seq = 3",
                          "delete from ledger_entries where seq = 3", "truncate ledger_entries"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_flipping_any_byte_of_a_stored_entry_is_detected(ledger: TestLedger, tmp_path: Path) -> None:
    async with ledger.uow() as uow:
        entry = await uow.entry(57)
    assert entry is not None
    # In the database, behind every guard, at positions spread over the entry and its stored hash ...
    positions = [("body", i) for i in range(0, len(entry.body), len(entry.body) // 8)] + [("leaf_hash", 0), ("leaf_hash", 31)]
    for column, i in positions:
        original = getattr(entry, column)
        flipped = original[:i] + bytes([original[i] ^ 0x01]) + original[i + 1:]
        await ledger.superuser([f"update ledger_entries set {column} = '\\x{flipped.hex()}' where seq = 57"])
        code, report = _audit(await _export(ledger, tmp_path), ledger, ledger.first.signed_note, tmp_path=tmp_path)
        assert code == EXIT_FAILED, (column, i)
        assert any(f.startswith("entry 57:") for f in report["failures"]), report["failures"]
        await ledger.superuser([f"update ledger_entries set {column} = '\\x{original.hex()}' where seq = 57"])
    # ... and every single byte of the entry, against the receipt issued for it before any tampering.
    async with ledger.uow() as uow:
        _, issued = await receipt(uow, 57, ledger.first.tree_size)
    assert verify_receipt(issued, [ledger.vkey], entry=entry.body).index == 57
    for i in range(len(entry.body)):
        flipped = entry.body[:i] + bytes([entry.body[i] ^ 0x80]) + entry.body[i + 1:]
        with pytest.raises(BundleError, match="inclusion proof does not verify"):
            verify_receipt(issued, [ledger.vkey], entry=flipped)
    assert _audit(await _export(ledger, tmp_path), ledger, tmp_path=tmp_path)[0] == EXIT_OK


async def test_a_deleted_entry_is_detected(ledger: TestLedger, tmp_path: Path) -> None:
    await ledger.superuser(["delete from ledger_entries where seq = 120"])
    code, report = _audit(await _export(ledger, tmp_path), ledger, ledger.first.signed_note, tmp_path=tmp_path)
    assert code == EXIT_FAILED
    assert any("index 121 where 120 was expected" in f for f in report["failures"])


async def test_reordered_entries_are_detected(ledger: TestLedger, tmp_path: Path) -> None:
    await ledger.superuser([
        "update ledger_entries set seq = -1 where seq = 10",
        "update ledger_entries set seq = 10 where seq = 11",
        "update ledger_entries set seq = 11 where seq = -1",
    ])
    code, report = _audit(await _export(ledger, tmp_path), ledger, ledger.first.signed_note, tmp_path=tmp_path)
    assert code == EXIT_FAILED
    assert any("saved checkpoint of size 200" in f for f in report["failures"])
    assert any("root of the export's signed checkpoint" in f for f in report["failures"])


async def test_an_entry_inserted_into_the_history_is_detected(ledger: TestLedger, tmp_path: Path) -> None:
    school = School("ins")
    body = encode(envelope(school.payment(school.student(), 99)))
    await ledger.superuser([
        "update ledger_entries set seq = seq + 1000000 where seq >= 150",
        "update ledger_entries set seq = seq - 999999 where seq >= 1000000",
        f"insert into ledger_entries (seq, event_id, event_type, school_id, category, period, amount_fen, body, "
        f"leaf_hash) values (150, gen_random_uuid(), 'PaymentReceived', '{school.school_id}', 'payment', '2026-01', "
        f"99, '\\x{body.hex()}', '\\x{leaf_hash(body).hex()}')",
    ])
    code, report = _audit(await _export(ledger, tmp_path), ledger, ledger.first.signed_note, tmp_path=tmp_path)
    assert code == EXIT_FAILED
    assert any("saved checkpoint of size 200" in f for f in report["failures"])


async def test_a_rewritten_tail_with_recomputed_hashes_and_a_re_signed_checkpoint_is_caught_by_a_saved_checkpoint(
    ledger: TestLedger, tmp_path: Path
) -> None:
    # The strongest attacker: a superuser who also holds the signing key rewrites entries 195..299,
    # recomputes every leaf hash and the tree, and signs a fresh checkpoint over the forgery.
    _, forged_root = await _rewrite_tail_and_re_sign(ledger)
    export = await _export(ledger, tmp_path)

    alone, _ = _audit(export, ledger, tmp_path=tmp_path)
    assert alone == EXIT_OK, "with no earlier checkpoint held, a forger with the key is indistinguishable"
    code, report = _audit(export, ledger, ledger.first.signed_note, tmp_path=tmp_path)
    assert code == EXIT_FAILED
    assert any("first 200 entries do not hash to the root of the saved checkpoint" in f for f in report["failures"])
    code, report = _audit(export, ledger, ledger.second.signed_note, tmp_path=tmp_path)
    assert code == EXIT_FAILED and report["saved_checkpoints"] == [{"tree_size": 300, "consistent": False}]
    # Two roots signed for size 300 (the saved one and the forgery) are named as what they are: a split view.
    roots = ", ".join(sorted([ledger.second.root_hash.hex(), forged_root.hex()]))
    assert f"split view: the log signed 2 different roots for tree size 300 ({roots}); an honest log signs one" \
        in report["failures"]


async def test_the_service_refuses_to_sign_over_an_entry_changed_before_its_first_checkpoint(
    ledger: TestLedger
) -> None:
    school = School("pre")
    await ledger.feed(school.payment(school.student(), 5))
    await ledger.superuser(["update ledger_entries set body = body || '\\x20'::bytea where seq = 300"])
    with pytest.raises(LedgerIntegrityError, match="entry 300"):
        await ledger.checkpoint()


async def test_the_service_refuses_to_extend_a_checkpoint_whose_stored_state_was_altered(ledger: TestLedger) -> None:
    school = School("pks")
    await ledger.feed(school.payment(school.student(), 5))
    fake = hashlib.sha256(b"forged").digest()
    await ledger.superuser([f"update ledger_checkpoints set peaks = '\\x{fake.hex() * 4}' where tree_size = 300"])
    with pytest.raises(LedgerIntegrityError, match="checkpoint 300"):
        await ledger.checkpoint()


async def test_a_tail_rewrite_re_signed_with_the_stolen_key_gets_no_witness_cosignature_and_fails_the_quorum(
    database_url: str, witnesses, tmp_path: Path
) -> None:
    """Issue 17: the auditor saved no checkpoint, so only independent witnesses can tell. Real litewitnesses
    cosigned the honest checkpoints of 200 and 300 entries; the forger rewrites entries 195..299 and
    re-signs size 300 with the stolen log key. Both witnesses refuse it (a second root for a size they
    cosigned), and the offline verifier, given the 2-of-2 witness policy, rejects the forged checkpoint."""
    lg = await TestLedger.create(database_url, "stolen")
    try:
        lg.use_origin(f"beilei.test/stolen-key-{uuid.uuid4().hex[:8]}")
        witnesses.add_log(lg.origin, lg.vkey)
        clients = [Witness.of(url, vkey) for url, vkey in witnesses.witnesses]
        policy = tmp_path / "witnesses.policy"
        policy.write_text("".join(f"witness {vkey}\n" for _, vkey in witnesses.witnesses) + "quorum 2\n",
                          encoding="utf-8")

        async def proof_of(old: int, new: int) -> list[bytes]:
            async with lg.uow() as uow:
                return await consistency_proof(uow, old, new)

        school = School("stl")
        student = school.student()
        cosigned = {}
        for count, base in ((200, 100), (100, 1000)):
            await lg.feed(*[school.payment(student, base + i) for i in range(count)])
            cp = await lg.checkpoint()
            lines = await collect(clients, cp.signed_note, cp.tree_size, proof_of)
            cosigned[cp.tree_size] = with_cosignatures(cp.signed_note, lines.values())
        assert sorted(lines) == sorted(c.key.name for c in clients)
        saved = tmp_path / "cosigned-300.checkpoint"
        saved.write_text(cosigned[300], encoding="utf-8")
        code, out = _verify("checkpoint", str(saved), "--key", lg.vkey, "--witnesses", str(policy))
        assert code == EXIT_OK and "cosigned by 2 known witnesses (quorum 2)" in out

        note, _ = await _rewrite_tail_and_re_sign(lg)

        for w in clients:
            with pytest.raises(WitnessRefused) as refused:
                await w.cosign(note, 300, proof_of)
            assert refused.value.status == 422
        assert await collect(clients, note, 300, proof_of) == {}

        export = await _export(lg, tmp_path)
        assert _audit(export, lg, tmp_path=tmp_path)[0] == EXIT_OK, "the log key alone vouches for the forgery"
        code, out = _verify("audit", str(export), "--key", lg.vkey, "--witnesses", str(policy))
        assert code == EXIT_FAILED and "checkpoint of size 300 is cosigned by 0 of the 2 known witnesses" in out
        for w in clients:
            await w.aclose()
    finally:
        await lg.close()


async def _rewrite_tail_and_re_sign(lg: TestLedger) -> tuple[str, bytes]:
    """As a superuser holding the log key: rewrite entries 195..299 with recomputed leaf hashes and replace
    the checkpoint of 300 with one re-signed over the forgery; its note and root."""
    async with lg.uow() as uow:
        rows = await uow.export_rows(-1, 300, 300)
    bodies = [r.body for r in rows]
    statements = []
    for i in range(195, 300):
        # Every amount of the payment, postings included, gains a leading 1: the forged books still balance.
        bodies[i] = bodies[i].replace(b'"amount_fen":', b'"amount_fen":1')
        statements.append(f"update ledger_entries set body = '\\x{bodies[i].hex()}', "
                          f"leaf_hash = '\\x{leaf_hash(bodies[i]).hex()}', amount_fen = ('1' || amount_fen)::bigint "
                          f"where seq = {i}")
    forged_root = root([leaf_hash(b) for b in bodies])
    note = lg.signer.sign_note(format_checkpoint(Checkpoint(lg.origin, 300, forged_root)))
    statements += ["delete from ledger_checkpoints where tree_size = 300",
                   f"insert into ledger_checkpoints (tree_size, root_hash, peaks, signed_note, event_id) values "
                   f"(300, '\\x{forged_root.hex()}', '\\x', $note${note}$note$, gen_random_uuid())"]
    await lg.superuser(statements)
    return note, forged_root


def _verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return verify(list(args), out), out.getvalue()
