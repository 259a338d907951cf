"""The full audit read by several processes side by side (issue 17 part 5; R24-R26): an export cut into
stretches of whole lines gives exactly the report one process gives, whatever the cut, and a flipped bit,
a removed line or a disclosure that does not add up is found in any stretch and named by its entry."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from services.audit.ledger import full_audit
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint
from services.audit.ledger.full_audit import audit_export, audit_export_file
from services.audit.ledger.merkle import MemoryTree, leaf_hash
from shared.contracts.registry import encode
from tests.unit.audit.money import DAY, School, envelope
from tests.unit.audit.test_bundles import SIGNER, VKEY, _export

N = 120


def _ledger() -> tuple[list[bytes], str]:
    """A ledger of N entries over two schools with a disclosure near the end that does add up, and its note."""
    a, b = School("pa"), School("pb")
    sa, sb = a.student(), b.student()
    events = [a.subsidy(50000), b.subsidy(40000)]
    events += [(a.payment(sa, 100 + i) if i % 2 else b.payment(sb, 100 + i)) for i in range(N - 4)]
    income = sum(100 + i for i in range(N - 4) if i % 2)
    events.append(a.disclosure(DAY.replace(day=1), DAY, ledger_tree_size=N - 2, fee_income_fen=income,
                               subsidy_income_fen=50000, balance_fen=50000 + income))
    events.append(a.disclosure(DAY.replace(day=1), DAY, fee_income_fen=1, subsidy_income_fen=50000,
                               balance_fen=50001))
    bodies = [encode(envelope(e)) for e in events]
    tree = MemoryTree([leaf_hash(body) for body in bodies])
    return bodies, SIGNER.sign_note(format_checkpoint(Checkpoint("beilei.test/bundles", len(bodies), tree.root())))


BODIES, NOTE = _ledger()


def _summary(report: full_audit.AuditReport) -> tuple:
    return (report.verified, report.entries, report.failures, report.findings, report.prefix_checks,
            {s: b.to_json() for s, b in report.books.items()}, report.disclosures)


@pytest.fixture
def small_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stretches of a few lines each, so a small export is read by many processes' worth of parts."""
    monkeypatch.setattr(full_audit, "_SMALL", 0)
    monkeypatch.setattr(full_audit, "_STRETCH_BYTES", 3000)


def _write(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.mark.usefixtures("small_stretches")
@pytest.mark.parametrize("processes", [1, 2, 3])
def test_an_export_read_in_stretches_gives_the_report_one_reader_gives(tmp_path: Path, processes: int) -> None:
    lines = _export(BODIES, len(BODIES), NOTE)
    saved = [SIGNER.sign_note(format_checkpoint(Checkpoint("beilei.test/bundles", n,
                                                           MemoryTree([leaf_hash(b) for b in BODIES[:n]]).root())))
             for n in (7, 64, N)]
    one = audit_export(lambda: iter(lines), [VKEY], saved_checkpoints=saved)
    parts = audit_export_file(_write(tmp_path, lines), [VKEY], saved_checkpoints=saved, processes=processes)
    assert one.verified and one.entries == N and [d["differences"] for d in one.disclosures][0] == {}
    assert len(one.findings) == 1 and "fee_income_fen stated 1 computed" in one.findings[0]
    assert one.prefix_checks == [(7, True), (64, True), (N, True)]
    assert _summary(parts) == _summary(one)


@pytest.mark.usefixtures("small_stretches")
@pytest.mark.parametrize("where", [0, N // 2, N - 3])
def test_a_flipped_bit_in_any_stretch_is_found_and_named(tmp_path: Path, where: int) -> None:
    lines = _export(BODIES, len(BODIES), NOTE)
    item = json.loads(lines[where + 1])
    body = bytearray(BODIES[where])
    body[body.index(b'"amount_fen":') + 13] ^= 0x01  # one bit of the amount's first digit
    item["entry"] = base64.b64encode(bytes(body)).decode()
    lines[where + 1] = json.dumps(item)
    report = audit_export_file(_write(tmp_path, lines), [VKEY], processes=2)
    assert not report.verified
    assert f"entry {where}: the stored leaf hash does not match the entry's bytes" in report.failures
    assert "the entries do not hash to the root of the export's signed checkpoint" in report.failures


@pytest.mark.usefixtures("small_stretches")
def test_a_removed_line_in_a_later_stretch_shifts_every_index_after_it(tmp_path: Path) -> None:
    lines = _export(BODIES, len(BODIES), NOTE)
    del lines[90]
    report = audit_export_file(_write(tmp_path, lines), [VKEY], processes=2)
    assert not report.verified
    assert report.failures[0] == ("line 91: entry index 90 where 89 was expected (an entry was removed, inserted "
                                  "or moved)")
    assert report.entries == N - 1 and report.failures[-1] == "... more failures not listed"


def test_a_small_export_is_read_in_one_process_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    lines = _export(BODIES, len(BODIES), NOTE)
    path = _write(tmp_path, ["", *lines[:50], "", *lines[50:]])
    report = audit_export_file(path, [VKEY])
    assert report.verified and report.entries == N
