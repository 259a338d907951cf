"""Export format 2 (issue 17 part 5): each entry's bytes follow its line's JSON after a tab instead of
base64 inside it, and format-1 exports are still audited. Every tampering is caught in both formats, by
one process and by several reading stretches side by side; an entry that cannot travel as it is (not
UTF-8, or holding a line break) travels in base64 as before; the tree's root built from subtrees is
the root built from the leaves."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from services.audit.ledger import full_audit
from services.audit.ledger.bundles import EXPORT_FORMAT, EXPORT_FORMAT_1, BundleError, export_header, export_line
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint
from services.audit.ledger.full_audit import AuditReport, audit_export, audit_export_file
from services.audit.ledger.merkle import MemoryTree, leaf_hash, packed_root, root
from tests.unit.audit.exports import join_line, split_line
from tests.unit.audit.test_bundles import ORIGIN, SIGNER, VKEY
from tests.unit.audit.test_full_audit_parallel import BODIES, NOTE, N

FORMATS = {"format 2": (EXPORT_FORMAT, True), "format 1": (EXPORT_FORMAT_1, False)}


def _lines(export_format: str, beside: bool, bodies: list[bytes] = BODIES, note: str = NOTE) -> list[str]:
    return [export_header(note, len(bodies), export_format)] + [
        export_line(i, b, leaf_hash(b), _columns(b), beside=beside) for i, b in enumerate(bodies)]


def _columns(body: bytes) -> dict[str, str]:
    try:
        return {"school_id": json.loads(body)["payload"]["school_id"]}
    except ValueError:
        return {}


def _note(bodies: list[bytes], size: int | None = None) -> str:
    size = len(bodies) if size is None else size
    return SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, size, MemoryTree([leaf_hash(b) for b in bodies]).root(size))))


def _both(tmp_path: Path, lines: list[str], saved: tuple[str, ...] = ()) -> list[AuditReport]:
    """The report of one process reading the lines, and of three reading the file in stretches."""
    path = tmp_path / "export.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return [audit_export(lambda: iter(lines), [VKEY], saved_checkpoints=saved),
            audit_export_file(str(path), [VKEY], saved_checkpoints=saved, processes=3)]


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stretches of a few lines and subtrees of 8 leaves, so a small export takes every path."""
    monkeypatch.setattr(full_audit, "_SMALL", 0)
    monkeypatch.setattr(full_audit, "_STRETCH_BYTES", 3000)
    monkeypatch.setattr(full_audit, "_SUBTREE", 8)


def _flip_amount(lines: list[str], at: int, beside: bool) -> None:
    item, body = split_line(lines[at + 1])
    body = bytearray(body)
    body[body.index(b'"amount_fen":') + 13] ^= 0x01
    lines[at + 1] = join_line(item, bytes(body), beside)


def _restore_leaf_hash(lines: list[str], at: int, beside: bool) -> None:
    """A flipped bit with the stored leaf hash recomputed to match: only the root can tell."""
    _flip_amount(lines, at, beside)
    item, body = split_line(lines[at + 1])
    lines[at + 1] = join_line({**item, "leaf_hash": base64.b64encode(leaf_hash(body)).decode()}, body, beside)


def _swap(lines: list[str], a: int, b: int) -> None:
    lines[a + 1], lines[b + 1] = lines[b + 1], lines[a + 1]


# What each tampering does to the lines (given whether entries are beside them), and the failure that names it.
TAMPERINGS: dict[str, tuple[Callable[[list[str], bool], None], str]] = {
    "a flipped bit": (lambda lines, beside: _flip_amount(lines, 50, beside),
                      "entry 50: the stored leaf hash does not match the entry's bytes"),
    "a flipped bit with its leaf hash recomputed": (lambda lines, beside: _restore_leaf_hash(lines, 77, beside),
                                                    "the entries do not hash to the root of the export's signed "
                                                    "checkpoint"),
    "a deleted line": (lambda lines, beside: lines.pop(31),
                       "line 32: entry index 31 where 30 was expected (an entry was removed, inserted or moved)"),
    "two lines swapped": (lambda lines, beside: _swap(lines, 10, 90),
                          "line 12: entry index 90 where 10 was expected (an entry was removed, inserted or moved)"),
    "a line inserted twice": (lambda lines, beside: lines.insert(61, lines[60]),
                              "line 62: entry index 59 where 60 was expected (an entry was removed, inserted or "
                              "moved)"),
    "the tail cut off": (lambda lines, beside: lines.__delitem__(slice(-5, None)),
                         f"the export holds {N - 5} entries but its checkpoint says {N}"),
    "a line cut short": (lambda lines, beside: lines.__setitem__(40, lines[40][:-30]),
                         "entry 39: the stored leaf hash does not match the entry's bytes|line 41: unreadable"),
    "a changed column": (lambda lines, beside: lines.__setitem__(
        8, join_line({**split_line(lines[8])[0], "school_id": "elsewhere"}, split_line(lines[8])[1], beside)),
        "entry 7: stored column school_id='elsewhere' but the entry says 'sch-pa-"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_tampering_is_caught_in_both_formats_by_one_process_and_by_several(
        tmp_path: Path, fmt: str, name: str) -> None:
    export_format, beside = FORMATS[fmt]
    lines = _lines(export_format, beside)
    assert all(("\t" in line) == beside for line in lines[1:])
    for report in _both(tmp_path, lines):
        assert report.verified and report.entries == N, report.failures
    tamper, failure = TAMPERINGS[name]
    tamper(lines, beside)
    for report in _both(tmp_path, lines):
        assert not report.verified
        # (the entry cut short in format 2, its line's JSON in format 1)
        assert any(f.startswith(tuple(failure.split("|"))) for f in report.failures), report.failures


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_rewritten_history_is_caught_against_a_saved_checkpoint_in_both_formats(tmp_path: Path, fmt: str) -> None:
    export_format, beside = FORMATS[fmt]
    saved = tuple(_note(BODIES, n) for n in (5, 8, 16, 37, 64, N))
    for report in _both(tmp_path, _lines(export_format, beside), saved):
        assert report.verified and report.prefix_checks == [(n, True) for n in (5, 8, 16, 37, 64, N)]
    # The log's key rewrites entry 20 and re-signs: the export verifies against its own checkpoint, not
    # against the saved ones that cover entry 20.
    forged = [*BODIES[:20], BODIES[20].replace(b'"amount_fen":', b'"amount_fen":1'), *BODIES[21:]]
    for report in _both(tmp_path, _lines(export_format, beside, forged, _note(forged)), saved):
        assert [ok for _, ok in report.prefix_checks] == [True, True, True, False, False, False]
        assert sum("history was rewritten" in f for f in report.failures) == 3
        assert report.failures[0].startswith(f"split view: the log signed 2 different roots for tree size {N}")


def test_the_parts_of_a_format_2_line_are_read_strictly(tmp_path: Path) -> None:
    lines = _lines(EXPORT_FORMAT, True)
    item, body = split_line(lines[3])
    lines[3] = json.dumps({**item, "entry": base64.b64encode(body).decode()}) + "\t" + body.decode()
    for report in _both(tmp_path, lines):
        assert report.failures[0] == ("line 4: unreadable export line (the line has an entry both inside it and "
                                      "beside it)")
    # A format-1 export holds no entry beside a line: a tab there makes the line unreadable.
    lines = _lines(EXPORT_FORMAT_1, False)
    item, body = split_line(lines[3])
    lines[3] = join_line(item, body, beside=True)
    for report in _both(tmp_path, lines):
        assert report.failures[0].startswith("line 4: unreadable export line")
    lines = [json.dumps({**json.loads(lines[0]), "format": "beilei-ledger-export/3"}), *lines[1:]]
    with pytest.raises(BundleError, match="not a beilei-ledger-export/2 .or beilei-ledger-export/1. file"):
        audit_export(lambda: iter(lines), [VKEY])


def test_an_entry_that_cannot_travel_as_it_is_travels_in_base64_and_crlf_lines_still_read(tmp_path: Path) -> None:
    awkward = [BODIES[0][:-1] + b' , "x": "\\u2028"}', BODIES[1][:-1] + b',\n"n": 1}',
               BODIES[2][:-1] + b',\r"r": 1}', BODIES[3][:-1] + ', "\u2028": 1}'.encode(),
               BODIES[4][:-1] + b', "\xff": 1}']
    bodies = awkward + BODIES[5:]
    lines = _lines(EXPORT_FORMAT, True, bodies, _note(bodies))
    assert ["\t" in line for line in lines[1:6]] == [True, False, False, False, False]
    assert split_line(lines[5])[1] == bodies[4]
    for report in _both(tmp_path, lines):  # every hash holds; the entry that is not UTF-8 is not a fee record
        assert report.entries == N and len(report.failures) == 1, report.failures
        assert report.failures[0].startswith("entry 4: not a fee record (not a JSON document")
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"".join(line.encode() + b"\r\n" for line in _lines(EXPORT_FORMAT, True)))
    assert audit_export_file(str(path), [VKEY], processes=2).verified


def test_the_root_of_packed_leaves_and_of_subtrees_is_the_root_of_the_leaves() -> None:
    leaves = [leaf_hash(bytes([i % 251, i // 251])) for i in range(300)]
    packed = bytearray(b"".join(leaves))
    subtrees = [packed_root(packed[i:i + 8 * 32]) for i in range(0, len(packed) - 8 * 32 + 1, 8 * 32)]
    for size in range(301):
        assert packed_root(packed[:size * 32]) == root(leaves[:size])
        assert full_audit._prefix_root(packed, subtrees, size) == root(leaves[:size])
    with pytest.raises(ValueError, match="multiple of 32"):
        packed_root(bytes(33))
