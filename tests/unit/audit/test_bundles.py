"""Receipts, consistency bundles and exports (R24, R26): what verifies, and every way a changed,
truncated, re-signed or foreign file is refused, without the service or a database."""
from __future__ import annotations

import base64
import json

import pytest

from services.audit.ledger import books
from services.audit.ledger.bundles import (
    BundleError,
    Receipt,
    export_header,
    export_line,
    format_consistency,
    format_receipt,
    parse_receipt,
    verify_consistency_bundle,
    verify_receipt,
)
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint, generate_signer, load_signer
from services.audit.ledger.full_audit import audit_export
from services.audit.ledger.merkle import MemoryTree, leaf_hash
from shared.contracts.registry import encode
from tests.unit.audit.money import DAY, School, envelope

ORIGIN = "beilei.test/bundles"
SKEY, VKEY = generate_signer(ORIGIN)
SIGNER = load_signer(SKEY)
OTHER_SKEY, OTHER_VKEY = generate_signer(ORIGIN)


def _ledger(n: int = 40) -> tuple[School, list[bytes], MemoryTree]:
    school = School("bnd")
    student = school.student()
    events = [school.subsidy(100000)] + [school.payment(student, 100 + i) for i in range(n - 1)]
    bodies = [encode(envelope(e)) for e in events]
    return school, bodies, MemoryTree([leaf_hash(b) for b in bodies])


SCHOOL, BODIES, TREE = _ledger()


def _note(size: int, signer=SIGNER) -> str:
    return signer.sign_note(format_checkpoint(Checkpoint(ORIGIN, size, TREE.root(size))))


def _receipt(index: int, size: int) -> str:
    return format_receipt(Receipt(index, tuple(TREE.inclusion_proof(index, size)), _note(size), BODIES[index]))


def test_a_receipt_is_a_c2sp_tlog_proof_that_carries_and_proves_its_entry() -> None:
    text = _receipt(7, 40)
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ") and "\nindex 7\n" in text
    parsed = parse_receipt(text)
    assert parsed.index == 7 and parsed.extra == BODIES[7] and len(parsed.proof) == 6
    verified = verify_receipt(text, [VKEY], origin=ORIGIN)
    assert verified.entry == BODIES[7] and verified.checkpoint.size == 40


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t.replace("\nindex 7\n", "\nindex 8\n"), "inclusion proof does not verify"),
    (lambda t: t.replace("\nindex 7\n", "\nindex 07\n"), "leading zeros"),
    (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "does not start with"),
    (lambda t: t.replace("\n40\n", "\n41\n", 1), "invalid signature"),
    (lambda t: t.split("\n\n")[0] + "\n\n", "no blank line followed by a checkpoint"),
    (lambda t: t.replace(t.split("\n")[3], base64.b64encode(bytes(32)).decode(), 1), "inclusion proof does not verify"),
    (lambda t: t.replace(t.split("\n")[3], base64.b64encode(bytes(31)).decode(), 1), "not a SHA-256 hash"),
    (lambda t: t.replace(t.split("\n")[3] + "\n", "", 1), "wrong proof size"),
])
def test_a_changed_receipt_is_refused_with_the_reason(mutate, reason: str) -> None:
    with pytest.raises(BundleError, match=reason):
        verify_receipt(mutate(_receipt(7, 40)), [VKEY])


def test_a_receipt_with_a_changed_entry_or_from_another_key_is_refused() -> None:
    text = _receipt(7, 40)
    with pytest.raises(BundleError, match="inclusion proof does not verify"):
        verify_receipt(text, [VKEY], entry=BODIES[7].replace(b'"amount_fen":106', b'"amount_fen":107'))
    with pytest.raises(BundleError, match="no signature from a known key"):
        verify_receipt(text, [OTHER_VKEY])
    with pytest.raises(BundleError, match="is not 'elsewhere'"):
        verify_receipt(text, [VKEY], origin="elsewhere")


def test_a_consistency_bundle_proves_an_older_checkpoint_is_a_prefix_of_a_newer_one() -> None:
    bundle = format_consistency(_note(13), _note(40), TREE.consistency_proof(13, 40))
    old, new = verify_consistency_bundle(bundle, [VKEY])
    assert (old.size, new.size) == (13, 40)
    assert verify_consistency_bundle(format_consistency(_note(40), _note(40), []), [VKEY])[0].size == 40
    # From the empty tree: no old checkpoint, an empty proof; a proof there, or no old one otherwise, is refused.
    assert verify_consistency_bundle(format_consistency(None, _note(40), []), [VKEY])[0].size == 0
    with pytest.raises(BundleError, match="old checkpoint must be a signed note"):
        verify_consistency_bundle(format_consistency(None, _note(40), TREE.consistency_proof(13, 40)), [VKEY])


def test_a_consistency_bundle_against_a_forked_history_or_a_wrong_proof_is_refused() -> None:
    _, forked_bodies, forked = _ledger()
    forked_new = SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, 40, forked.root(40))))
    with pytest.raises(BundleError, match="consistency proof does not verify"):
        verify_consistency_bundle(format_consistency(_note(13), forked_new, forked.consistency_proof(13, 40)), [VKEY])
    bundle = format_consistency(_note(13), _note(40), TREE.consistency_proof(12, 40))
    with pytest.raises(BundleError, match="consistency proof does not verify"):
        verify_consistency_bundle(bundle, [VKEY])
    good = format_consistency(_note(13), _note(40), TREE.consistency_proof(13, 40))
    with pytest.raises(BundleError, match="old checkpoint"):
        verify_consistency_bundle(good, [VKEY], old_checkpoint=_note(13, load_signer(OTHER_SKEY)))


def _export(bodies: list[bytes], size: int, note: str | None = None) -> list[str]:
    lines = [export_header(note or _note(size), size)]
    for i, body in enumerate(bodies[:size]):
        e = books.read_entry(body)
        lines.append(export_line(i, body, leaf_hash(body), {"event_id": e.event_id, "school_id": e.school_id,
                                                            "amount_fen": e.amount_fen}))
    return lines


def test_a_full_export_verifies_and_recomputes_every_schools_books() -> None:
    report = audit_export(lambda: iter(_export(BODIES, 40)), [VKEY], saved_checkpoints=[_note(13), _note(40)])
    assert report.verified and not report.findings, report.failures
    assert report.prefix_checks == [(13, True), (40, True)]
    b = report.books[SCHOOL.school_id]
    assert b.balanced and b.cash_fen == 100000 + sum(100 + i for i in range(39))


def test_an_export_shorter_than_a_saved_checkpoint_reveals_a_rollback() -> None:
    report = audit_export(lambda: iter(_export(BODIES, 30)), [VKEY], saved_checkpoints=[_note(40)])
    assert not report.verified and "truncated or rolled back" in report.failures[0]


def test_an_export_whose_columns_disagree_with_its_entries_is_refused() -> None:
    lines = _export(BODIES, 40)
    item = json.loads(lines[5])
    lines[5] = json.dumps({**item, "amount_fen": 1})
    report = audit_export(lambda: iter(lines), [VKEY])
    assert not report.verified and report.failures == ["entry 4: stored column amount_fen=1 but the entry says 103"]


def test_an_event_recorded_twice_is_a_failure_even_if_the_root_was_signed_over_it() -> None:
    bodies = BODIES[:10] + [BODIES[3]]
    tree = MemoryTree([leaf_hash(b) for b in bodies])
    note = SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, 11, tree.root())))
    report = audit_export(lambda: iter(_export(bodies, 11, note)), [VKEY])
    assert not report.verified and "recorded twice" in report.failures[0]


def test_a_disclosure_is_compared_with_the_ledger_it_was_computed_over() -> None:
    school = School("dsq")
    student = school.student()
    money = [school.subsidy(10000), school.payment(student, 3000), school.payout(amount=2500), school.expense(700)]
    honest = {"fee_income_fen": 3000, "subsidy_income_fen": 10000, "payouts_fen": 2500,
              "group_accident_insurance_fen": 700, "balance_fen": 9800}
    bodies = [encode(envelope(e)) for e in money]
    bodies.append(encode(envelope(school.disclosure(DAY.replace(day=1), DAY, ledger_tree_size=4, **honest))))
    bodies.append(encode(envelope(school.disclosure(DAY.replace(day=1), DAY, **{**honest, "payouts_fen": 1000}))))
    tree = MemoryTree([leaf_hash(b) for b in bodies])
    note = SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, len(bodies), tree.root())))
    report = audit_export(lambda: iter(_export(bodies, len(bodies), note)), [VKEY])
    assert report.verified
    assert [d["differences"] for d in report.disclosures] == [{}, {"payouts_fen": {"stated": 1000, "computed": 2500}}]
    assert len(report.findings) == 1 and "payouts_fen stated 1000 computed 2500" in report.findings[0]
