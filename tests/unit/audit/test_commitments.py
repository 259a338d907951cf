"""Entry format 2 (issue 17 part 3; R24, R26, R27): a fee record's personal fields are salted commitments in
its leaf and open only with the salt; school-level figures stay readable. A ledger holding entries of both
formats (format 1 recorded before migration audit_0005) verifies end to end, serves its format-2 bundles
without a token and its format-1 bundles only to auditors, and a family's receipt opens its own entry."""
from __future__ import annotations

import base64
import json
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from services.audit import api
from services.audit.domain import published_bytes
from services.audit.ledger import books, bundles
from services.audit.ledger.bundles import BundleError, verify_receipt
from services.audit.ledger.checkpoint import open_checkpoint
from services.audit.ledger.commitments import (
    COMMITTED_PAYLOAD_FIELDS,
    CommitmentError,
    commitment,
    entry_format,
    open_entry,
    opening,
    seal,
)
from services.audit.ledger.full_audit import audit_export
from services.audit.ledger.merkle import leaf_hash, verify_inclusion
from services.audit.settings import Context
from shared.contracts.registry import encode
from tests.tokens import bearer, verifier
from tests.unit.audit.exports import join_line, split_line
from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import DAY, School, envelope

SALT = bytes(range(32))


def _document(event) -> dict:
    return json.loads(encode(envelope(event)))


def test_a_commitment_is_sha256_of_salt_name_nul_and_the_json_value() -> None:
    import hashlib

    assert commitment(SALT, "payload.student_id", "stu-1") == hashlib.sha256(
        SALT + b"payload.student_id\x00\"stu-1\"").digest()
    # Another field name, salt or value gives another commitment: one opening opens one field.
    assert len({commitment(SALT, "payload.student_id", "stu-1"), commitment(SALT, "payload.guardian_id", "stu-1"),
                commitment(bytes(32), "payload.student_id", "stu-1"), commitment(SALT, "payload.student_id", "stu-2")}) == 4


def test_a_sealed_payment_names_no_one_keeps_its_money_readable_and_opens_to_the_event() -> None:
    school = School("cmt")
    student = school.student()
    document = _document(school.payment(student, 30000))
    body = seal(document, SALT, 7)
    assert entry_format(body) == 2 and entry_format(encode(envelope(school.subsidy()))) == 1
    for value in (student, document["payload"]["guardian_id"], document["event_id"], document["key"],
                  document["payload"]["external_ref"]):
        assert value.encode() not in body
    public = books.read_entry(body)  # anyone reads the school's money from the sealed entry alone
    assert (public.school_id, public.amount_fen, public.cash_fen, public.student_id) == (
        school.school_id, 30000, 30000, None)
    assert open_entry(body, opening(document, SALT)) == document
    assert set(json.loads(body)["commitments"]) >= {f"payload.{f}" for f in ("student_id", "guardian_id")}
    assert set(COMMITTED_PAYLOAD_FIELDS) >= {"student_id", "guardian_id", "staff_id", "note"}


def test_an_opening_with_another_value_or_salt_or_a_missing_field_is_refused() -> None:
    school = School("cmt")
    document = _document(school.payment(school.student(), 100))
    body = seal(document, SALT, 0)
    good = opening(document, SALT)
    lied = {**good, "values": {**good["values"], "payload.student_id": "stu-someone-else"}}
    other_salt = {**good, "salt": base64.b64encode(bytes(32)).decode()}
    missing = {**good, "values": {k: v for k, v in good["values"].items() if k != "payload.guardian_id"}}
    for bad, reason in ((lied, "payload.student_id"), (other_salt, "does not open"), (missing, "names")):
        with pytest.raises(CommitmentError, match=reason):
            open_entry(body, bad)


def test_a_disclosure_is_sealed_with_the_tree_size_it_was_appended_at_and_its_figures_in_the_clear() -> None:
    school = School("cmt")
    document = _document(school.disclosure(DAY.replace(day=1), DAY))
    sealed = json.loads(seal(document, SALT, 41))
    assert sealed["ledger_tree_size"] == 41 and sealed["payload"]["ledger_tree_size"] is None
    assert open_entry(seal(document, SALT, 41), opening(document, SALT)) == document
    assert sealed["payload"]["fee_income_fen"] == document["payload"]["fee_income_fen"]
    assert sealed["payload"]["disclosure_id"] == document["payload"]["disclosure_id"]


@pytest.fixture(scope="module")
async def mixed(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[tuple[httpx.AsyncClient, TestLedger, School, Path]]:
    """A ledger whose first 4 entries were recorded before migration 0005 (format 1, no salt), then 300
    of format 2: tile 0 mixes both formats, tile 1 holds only format 2."""
    ledger = await TestLedger.create(database_url, "cmt")
    school = School("cmt")
    student = school.student()
    await ledger.feed(school.schedule(), school.enrollment(student), school.subsidy(),
                      *(school.payment(student, 100 + i) for i in range(2)))
    # What a ledger written before entry format 2 holds: the event itself as the leaf, and no opening.
    async with ledger.uow() as uow:
        rows = [(r.seq, r.body, r.opening) for r in await uow.entries_to_check(0, 4)]
    await ledger.superuser([
        f"update ledger_entries set opening = null, body = '\\x{published_bytes(bytes(b), bytes(o)).hex()}'::bytea, "
        f"leaf_hash = '\\x{leaf_hash(published_bytes(bytes(b), bytes(o))).hex()}'::bytea where seq = {seq}"
        for seq, b, o in rows])
    await ledger.feed(*(school.payment(student, 200 + i) for i in range(299)))
    await ledger.feed(school.disclosure(DAY.replace(day=1), DAY, disclosure_id=f"dsc-{school.school_id}"))
    await ledger.checkpoint()
    app = FastAPI()
    for router in api.routers:
        app.include_router(router)
    app.state.runtime = SimpleNamespace(uow_factory=ledger.uow, authority=verifier(),
                                        context=Context(ledger.signer, ledger.origin))
    export = await ledger.export_to(tmp_path_factory.mktemp("cmt") / "export.jsonl")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        yield client, ledger, school, export
    await ledger.close()


async def test_an_export_of_both_entry_formats_verifies_and_a_changed_opening_fails(mixed) -> None:
    _, ledger, school, export = mixed
    lines = export.read_text(encoding="utf-8").splitlines()
    report = audit_export(lambda: iter(lines), [ledger.vkey])
    assert report.verified, report.failures
    assert report.entries == 304 and report.books[school.school_id].cash_fen > 0
    assert json.loads(lines[0])["format"] == bundles.EXPORT_FORMAT and all("\t" in line for line in lines[1:])
    formats = [entry_format(split_line(line)[1]) for line in lines[1:]]
    assert formats[:4] == [1] * 4 and set(formats[4:]) == {2}
    # An export whose opening names another child than the one committed to fails, though every hash holds.
    item, body = split_line(lines[-1])
    item["opening"]["values"]["payload.student_id"] = "stu-someone-else"
    forged = [*lines[:-1], join_line(item, body, beside=True)]
    failed = audit_export(lambda: iter(forged), [ledger.vkey])
    assert any("do not open" in f for f in failed.failures), failed.failures


async def test_a_bundle_with_a_format_1_entry_needs_an_auditor_and_a_format_2_bundle_is_public(mixed) -> None:
    client, _, school, _ = mixed
    assert (await client.get("/tile/entries/000")).status_code == 401
    assert (await client.get("/tile/entries/000", headers=bearer("p", "school", school_id=school.school_id))
            ).status_code == 403
    old = await client.get("/tile/entries/000", headers=bearer("a", "auditor"))
    assert old.status_code == 200 and old.headers["cache-control"] == "private, no-store"
    public = await client.get("/tile/entries/001.p/48")
    assert public.status_code == 200 and b"stu-" not in public.content
    tile = (await client.get("/tile/0/001.p/48")).content
    data, hashes = public.content, []
    while data:
        n = int.from_bytes(data[:2], "big")
        hashes.append(leaf_hash(data[2:2 + n]))
        data = data[2 + n:]
    assert b"".join(hashes) == tile


def _reopened(receipt: str, change: Callable[[bytes], bytes]) -> str:
    """The receipt with its extra data (format 3: BLR3 + raw DEFLATE with the preset dictionary) changed."""
    extra = base64.b64decode(receipt.split("\n")[1][len("extra "):])
    assert extra.startswith(b"BLR3")
    document = zlib.decompressobj(-15, zdict=bundles._DICTIONARY).decompress(extra[4:])
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, bundles._DICTIONARY)
    changed = b"BLR3" + deflate.compress(change(document)) + deflate.flush()
    return receipt.replace(receipt.split("\n")[1], "extra " + base64.b64encode(changed).decode())


async def test_the_familys_receipt_opens_its_own_entry_and_no_other_family_gets_it(mixed) -> None:
    client, ledger, school, _ = mixed
    page = (await client.get("/v1/audit/entries/300", headers=bearer("a", "auditor"))).json()
    guardian = page["entries"][0]["entry"]["payload"]["guardian_id"]
    reply = await client.get("/v1/ledger/entries/300/receipt", headers=bearer(guardian, "guardian"))
    assert reply.status_code == 200, reply.text
    verified = verify_receipt(reply.text, [ledger.vkey])
    assert verified.opened == page["entries"][0]["entry"]
    assert verified.opened["payload"]["student_id"].encode() not in verified.entry
    stranger = await client.get("/v1/ledger/entries/300/receipt", headers=bearer("gdn-stranger", "guardian"))
    assert stranger.status_code == 403
    # A receipt whose opening was altered does not verify: the commitment it gives is not the entry's.
    with pytest.raises(BundleError, match="inclusion proof does not verify"):
        verify_receipt(_reopened(reply.text, lambda doc: doc.replace(b"stu-", b"stv-")), [ledger.vkey])
    with pytest.raises(BundleError, match="does not commit to"):
        verify_receipt(_reopened(reply.text, lambda doc: doc.replace(b'"values":{', b'"values":{"x":1,')),
                       [ledger.vkey])
    # The receipt of a format-1 entry still verifies as before.
    v1 = await client.get("/v1/ledger/entries/3/receipt", headers=bearer("a", "auditor"))
    assert verify_receipt(v1.text, [ledger.vkey]).opened is None


async def test_a_disclosure_is_public_with_the_size_it_was_computed_at_and_its_inclusion_proof(mixed) -> None:
    client, ledger, school, _ = mixed
    reply = await client.get(f"/v1/ledger/disclosures/dsc-{school.school_id}")
    assert reply.status_code == 200, reply.text
    found = reply.json()
    assert found["index"] == 303 and found["ledger_tree_size"] == 303 and found["entry_format"] == 2
    entry = base64.b64decode(found["entry"])
    assert json.loads(entry)["ledger_tree_size"] == 303
    cp = open_checkpoint(found["checkpoint"], [ledger.vkey], ledger.origin)
    verify_inclusion(leaf_hash(entry), found["index"], cp.size, [base64.b64decode(h) for h in found["inclusion_proof"]],
                     cp.root_hash)
    assert (await client.get("/v1/ledger/disclosures/dsc-unknown")).status_code == 404


def test_a_familys_receipt_carries_its_entry_compressed_and_a_format_2_receipt_still_verifies() -> None:
    """Receipt extra format 3 (issue 17 part 5): the entry without the commitments it opens, and the opening,
    DEFLATEd with the preset dictionary; the same proof as before, a third of the bytes."""
    from services.audit.ledger.bundles import Receipt, format_receipt
    from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint, generate_signer, load_signer
    from services.audit.ledger.merkle import MemoryTree

    school = School("rcp")
    documents = [_document(school.payment(school.student(), 100 + i)) for i in range(5)]
    bodies = [seal(d, SALT, i) for i, d in enumerate(documents)]
    tree = MemoryTree([leaf_hash(b) for b in bodies])
    skey, vkey = generate_signer("beilei.test/receipts")
    note = load_signer(skey).sign_note(format_checkpoint(Checkpoint("beilei.test/receipts", 5, tree.root())))
    opened = opening(documents[3], SALT)
    old_extra = json.dumps({"format": bundles.RECEIPT_EXTRA_FORMAT_2, "entry": base64.b64encode(bodies[3]).decode(),
                            "opening": opened}, separators=(",", ":")).encode()
    receipts = {extra: format_receipt(Receipt(3, tuple(tree.inclusion_proof(3, 5)), note, extra))
                for extra in (bundles.receipt_extra(bodies[3], opened), old_extra)}
    for text in receipts.values():
        verified = verify_receipt(text, [vkey])
        assert verified.entry == bodies[3] and verified.opened == documents[3]
    new, old = (len(t) for t in receipts.values())
    assert new * 2 < old, (new, old)
