"""The full audit's compiled checks (services/audit/ledger/_speedups.c, built by `make deps`; issue 17
part 5) give exactly the answers of the Python they stand in for: the leaf hash, and opening a format-2
entry's commitments, for any value (escapes, control characters, text past the C buffer, values it
leaves to Python); a changed value, a changed commitment and a tampered export are caught by both."""
from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from hashlib import sha256

import pytest

from services.audit.ledger import commitments, full_audit
from services.audit.ledger.bundles import export_header, export_line
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint
from services.audit.ledger.commitments import CommitmentError, open_entry, opening, seal
from services.audit.ledger.full_audit import audit_export
from services.audit.ledger.merkle import MemoryTree, leaf_hash, packed_root, root
from shared.contracts.registry import encode
from tests.unit.audit.exports import join_line, split_line
from tests.unit.audit.money import School, envelope
from tests.unit.audit.test_bundles import ORIGIN, SIGNER, VKEY

try:
    from services.audit.ledger import _speedups
except ImportError:  # pragma: no cover - `make deps` builds it
    _speedups = None

# Built wherever there is a C compiler (`make deps`); elsewhere the Python path is all there is.
pytestmark = pytest.mark.skipif(_speedups is None and shutil.which("gcc") is None, reason="no C compiler")

STRANGE = ["", "plain", 'a "quoted" \\ back\\slash', "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f end",
           "汉字 é ü 🙂", "x" * 600 + '"' * 300 + "\n" * 200, "/slash\u2028\u2029\ufeff"]


@pytest.fixture(params=["compiled", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test once with the compiled checks and once with the Python path alone."""
    assert _speedups is not None, "services/audit/ledger/_speedups.c is not built: run make deps"
    if request.param == "python":
        monkeypatch.setattr(commitments, "_open_values", None)
        monkeypatch.setattr(full_audit, "_leaf_hash", lambda body: sha256(b"\x00" + body).digest())
        monkeypatch.setattr(full_audit, "_packed_root", packed_root)
    else:
        assert commitments._open_values is _speedups.open_values and full_audit._leaf_hash is _speedups.leaf_hash
        assert full_audit._packed_root is _speedups.packed_root
    yield request.param


def _documents() -> list[dict]:
    school = School("spd")
    events = [school.payment(school.student(), 100 + i) for i in range(len(STRANGE))]
    documents = [json.loads(encode(envelope(e))) for e in events]
    for document, text in zip(documents, STRANGE, strict=True):
        document["payload"]["note"] = text
        document["key"] = text or None
    documents[0]["payload"]["charge_ids"] = ["chg-1", "chg-2"]  # not a str: the Python loop opens it
    documents[1]["payload"]["guardian_id"] = 12345
    return documents


def _answer(body: bytes, opened: dict) -> object:
    try:
        return open_entry(body, opened)
    except (CommitmentError, UnicodeEncodeError) as exc:
        return type(exc), str(exc)


def test_the_compiled_leaf_hash_and_root_are_the_leaf_hash_and_root() -> None:
    for data in (b"", b"\x00", b"a" * 55, b"a" * 56, b"a" * 64, os.urandom(1100), os.urandom(100_000)):
        assert _speedups.leaf_hash(data) == leaf_hash(data) == _speedups.leaf_hash(bytearray(data))
    leaves = [leaf_hash(os.urandom(8)) for _ in range(1100)]
    for size in [*range(70), 255, 256, 257, 1023, 1024, 1025, 1100]:
        packed = b"".join(leaves[:size])
        assert _speedups.packed_root(packed) == packed_root(packed) == root(leaves[:size])
        assert _speedups.packed_root(bytearray(packed)) == root(leaves[:size])
    with pytest.raises(ValueError, match="multiple of 32 bytes, not 33"):
        _speedups.packed_root(bytes(33))


def test_both_paths_open_every_value_alike_and_refuse_every_change_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    salt = bytes(range(32))
    cases = []
    for i, document in enumerate(_documents()):
        body, opened = seal(document, salt, i), opening(document, salt)
        cases.append((body, opened))
        for name in opened["values"]:  # each value changed, then each commitment changed
            changed = json.loads(json.dumps(opened))
            value = changed["values"][name]
            changed["values"][name] = value + "!" if isinstance(value, str) else [value]
            cases.append((body, changed))
            sealed = json.loads(body)
            sealed["commitments"][name] = base64.b64encode(bytes(32)).decode()
            cases.append((json.dumps(sealed, ensure_ascii=False, separators=(",", ":")).encode(), opened))
        sealed = json.loads(body)  # a commitment that is not a string, or not canonical base64
        first = next(iter(opened["values"]))
        for odd in (7, sealed["commitments"][first][:-2] + "==", sealed["commitments"][first] + " "):
            sealed["commitments"][first] = odd
            cases.append((json.dumps(sealed, ensure_ascii=False, separators=(",", ":")).encode(), opened))
    lone = json.loads(json.dumps(cases[2][1]))
    lone["values"][next(iter(lone["values"]))] = "\ud800"  # a lone surrogate: no UTF-8, Python answers
    cases.append((cases[2][0], lone))
    answered: list[object] = []  # what the compiled check answered itself: True, a name, None (Python's turn)
    monkeypatch.setattr(commitments, "_open_values", lambda *a: answered.append(_speedups.open_values(*a)) or answered[-1])
    compiled = [_answer(body, opened) for body, opened in cases]
    assert answered.count(True) == len(STRANGE) and answered[-1] is None  # the lone surrogate: Python answers
    assert sum(type(a) is str for a in answered) > 3 * len(STRANGE)
    monkeypatch.setattr(commitments, "_open_values", None)
    python = [_answer(body, opened) for body, opened in cases]
    assert compiled == python
    assert sum(isinstance(a, dict) for a in python) == len(STRANGE)  # only the untouched ones open
    assert {a[0] for a in python if not isinstance(a, dict)} == {CommitmentError, UnicodeEncodeError}
    assert python[0]["payload"]["note"] == "" and python[0]["payload"]["charge_ids"] == ["chg-1", "chg-2"]


def _export() -> list[str]:
    salt = bytes(range(1, 33))
    documents = _documents() + _documents()
    bodies = [seal(d, salt, i) for i, d in enumerate(documents)]
    tree = MemoryTree([leaf_hash(b) for b in bodies])
    note = SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, len(bodies), tree.root())))
    return [export_header(note, len(bodies))] + [
        export_line(i, b, leaf_hash(b), {}, opening(d, salt), beside=True)
        for i, (b, d) in enumerate(zip(bodies, documents, strict=True))]


def test_a_tampered_export_of_committed_entries_is_caught_by_both_paths(path: str) -> None:
    lines = _export()
    report = audit_export(lambda: iter(lines), [VKEY])
    assert report.verified and report.entries == 2 * len(STRANGE), report.failures
    # Another child's id in an opening: every hash holds, the commitment does not open.
    item, body = split_line(lines[3])
    item["opening"]["values"]["payload.student_id"] = "stu-someone-else"
    forged = [*lines[:3], join_line(item, body, beside=True), *lines[4:]]
    failures = audit_export(lambda: iter(forged), [VKEY]).failures
    assert "entry 2: its commitments do not open: the value given for payload.student_id does not open its " \
           "commitment" in failures
    # A flipped bit in the entry's bytes.
    item, body = split_line(lines[5])
    flipped = body.replace(b'"amount_fen":10', b'"amount_fen":11', 1)
    forged = [*lines[:5], join_line(item, flipped, beside=True), *lines[6:]]
    failures = audit_export(lambda: iter(forged), [VKEY]).failures
    assert "entry 4: the stored leaf hash does not match the entry's bytes" in failures
    assert "the entries do not hash to the root of the export's signed checkpoint" in failures
