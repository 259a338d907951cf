"""The offline verifier's command line (R24, R26): exit statuses an auditor's script can rely on, and
it runs with nothing but the standard library and `cryptography` importable."""
from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from local.infra import REPO
from services.audit.ledger.bundles import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_1,
    Receipt,
    export_header,
    export_line,
    format_consistency,
    format_receipt,
)
from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint, generate_signer, load_signer
from services.audit.ledger.merkle import MemoryTree, leaf_hash
from services.audit.ledger.witness import WitnessKey, _key_id, cosign, with_cosignatures
from services.audit.verifier import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK, main
from shared.contracts.registry import encode
from tests.unit.audit.money import School, envelope

ORIGIN = "beilei.test/cli"
SKEY, VKEY = generate_signer(ORIGIN)
SIGNER = load_signer(SKEY)


def _files(tmp_path: Path, *, unbalanced: bool = False, export_format: str = EXPORT_FORMAT) -> dict[str, Path]:
    school = School("cli")
    student = school.student()
    events = [school.subsidy(5000)] + [school.payment(student, 10 + i) for i in range(20)]
    if unbalanced:
        events.append(school.payment(student, 70, postings=[{"debit": "bank", "credit": "parent_receivables",
                                                               "amount_fen": 7}]))
    bodies = [encode(envelope(e)) for e in events]
    tree = MemoryTree([leaf_hash(b) for b in bodies])
    n = len(bodies)

    def note(size: int) -> str:
        return SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, size, tree.root(size))))

    files = {
        "key": tmp_path / "log.vkey",
        "old": tmp_path / "old.checkpoint",
        "receipt": tmp_path / "e.tlog-proof",
        "consistency": tmp_path / "c.json",
        "export": tmp_path / "x.jsonl",
    }
    files["key"].write_text(VKEY + "\n", encoding="utf-8")
    files["old"].write_text(note(5), encoding="utf-8")
    files["receipt"].write_text(format_receipt(Receipt(3, tuple(tree.inclusion_proof(3, n)), note(n), bodies[3])),
                                encoding="utf-8")
    files["consistency"].write_text(json.dumps(format_consistency(note(5), note(n), tree.consistency_proof(5, n))),
                                    encoding="utf-8")
    beside = export_format == EXPORT_FORMAT  # as the service writes it, or as it wrote format 1
    files["export"].write_text("\n".join([export_header(note(n), n, export_format)] + [
        export_line(i, b, leaf_hash(b), {}, beside=beside) for i, b in enumerate(bodies)]) + "\n", encoding="utf-8")
    return files


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out), out.getvalue()


def test_each_command_verifies_its_file_and_exits_0(tmp_path: Path) -> None:
    f = _files(tmp_path)
    code, out = _run("receipt", str(f["receipt"]), "--key", str(f["key"]))
    assert code == EXIT_OK and out.startswith("OK: entry 3 is in beilei.test/cli at tree size 21")
    assert _run("consistency", str(f["consistency"]), "--key", VKEY, "--old", str(f["old"]))[0] == EXIT_OK
    assert _run("checkpoint", str(f["old"]), "--key", VKEY, "--origin", ORIGIN)[0] == EXIT_OK
    code, out = _run("audit", str(f["export"]), "--key", VKEY, "--checkpoint", str(f["old"]), "--json")
    report = json.loads(out)
    assert code == EXIT_OK and report["verified"] and report["entries"] == 21


def test_a_tampered_file_exits_1_and_says_why(tmp_path: Path) -> None:
    f = _files(tmp_path)
    text = f["receipt"].read_text(encoding="utf-8")
    f["receipt"].write_text(text.replace("index 3\n", "index 4\n"), encoding="utf-8")
    code, out = _run("receipt", str(f["receipt"]), "--key", VKEY, "--json")
    assert code == EXIT_FAILED and json.loads(out) == {"verified": False,
                                                       "reason": "inclusion proof does not verify: calculated root "
                                                                 "does not match the expected root"}
    code, out = _run("checkpoint", str(f["old"]), "--key", generate_signer(ORIGIN)[1])
    assert code == EXIT_FAILED and "no signature from a known key" in out


def test_books_that_do_not_balance_exit_3_with_the_finding(tmp_path: Path) -> None:
    f = _files(tmp_path, unbalanced=True)
    code, out = _run("audit", str(f["export"]), "--key", VKEY)
    assert code == EXIT_FINDINGS
    assert "postings move 7 fen through the bank account but the PaymentReceived says 70" in out


@pytest.mark.parametrize("export_format", [EXPORT_FORMAT, EXPORT_FORMAT_1])
def test_the_verifier_runs_without_pydantic_sqlalchemy_or_any_service_code(tmp_path: Path, export_format: str) -> None:
    f = _files(tmp_path, export_format=export_format)
    blocked = ["pydantic", "pydantic_core", "sqlalchemy", "sqlmodel", "asyncpg", "fastapi", "shared",
               "services.audit.db", "services.audit.api", "services.audit.app", "services.audit.handlers",
               "services.audit.domain"]
    # A module set to None in sys.modules cannot be imported: any import of these would fail the run.
    program = (f"import sys, runpy; sys.modules.update(dict.fromkeys({blocked!r})); "
               f"sys.argv = ['verifier', 'audit', {str(f['export'])!r}, '--key', {VKEY!r}]; "
               "runpy.run_module('services.audit.verifier', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.startswith("OK: 21 entries of beilei.test/cli")


def _witness(name: str) -> tuple[Ed25519PrivateKey, WitnessKey]:
    key = Ed25519PrivateKey.generate()
    return key, WitnessKey(name, _key_id(name, key.public_key().public_bytes_raw()), key.public_key())


def test_with_a_witness_policy_the_checkpoint_needs_its_quorum_and_the_output_names_the_cosigners(
        tmp_path: Path) -> None:
    """Issue 17: a checkpoint re-signed with a stolen log key carries no witness quorum, so it is refused."""
    f = _files(tmp_path)
    (ka, a), (kb, b), (_, c) = _witness("w.test/a"), _witness("w.test/b"), _witness("w.test/c")
    policy = tmp_path / "witnesses.policy"
    policy.write_text(f"witness {a.vkey}\nwitness {b.vkey}\nwitness {c.vkey}\nquorum 2\n", encoding="utf-8")
    note = f["old"].read_text(encoding="utf-8")
    code, out = _run("checkpoint", str(f["old"]), "--key", VKEY, "--witnesses", str(policy))
    assert code == EXIT_FAILED and "cosigned by 0 of the 2 known witnesses required" in out
    f["old"].write_text(with_cosignatures(note, [cosign(note, a.name, ka, 1)]), encoding="utf-8")
    code, out = _run("checkpoint", str(f["old"]), "--key", VKEY, "--witnesses", str(policy))
    assert code == EXIT_FAILED and "cosigned: w.test/a; not: w.test/b, w.test/c" in out
    f["old"].write_text(with_cosignatures(note, [cosign(note, a.name, ka, 1), cosign(note, b.name, kb, 2)]),
                        encoding="utf-8")
    code, out = _run("checkpoint", str(f["old"]), "--key", VKEY, "--witnesses", str(policy), "--json")
    assert code == EXIT_OK and json.loads(out)["cosigned_by"] == ["w.test/a", "w.test/b"]

    bundle = json.loads(f["consistency"].read_text(encoding="utf-8"))
    new = bundle["new_checkpoint"]
    bundle["new_checkpoint"] = with_cosignatures(new, [cosign(new, a.name, ka, 3), cosign(new, b.name, kb, 3)])
    f["consistency"].write_text(json.dumps(bundle), encoding="utf-8")
    code, out = _run("consistency", str(f["consistency"]), "--key", VKEY, "--witnesses", str(policy))
    assert code == EXIT_OK and "cosigned by 2 known witnesses (quorum 2): w.test/a, w.test/b" in out
    code, out = _run("receipt", str(f["receipt"]), "--key", VKEY, "--witnesses", str(policy))
    assert code == EXIT_FAILED and "cosigned by 0" in out
    code, out = _run("audit", str(f["export"]), "--key", VKEY, "--witnesses", str(policy))
    assert code == EXIT_FAILED and "cosigned by 0" in out


def test_two_roots_signed_for_one_size_are_reported_as_a_split_view_naming_both(tmp_path: Path) -> None:
    f = _files(tmp_path)
    bundle = json.loads(f["consistency"].read_text(encoding="utf-8"))
    other_root = b"\x07" * 32  # a second root signed for the export's size, 21
    other = SIGNER.sign_note(format_checkpoint(Checkpoint(ORIGIN, 21, other_root)))
    split = tmp_path / "split.checkpoint"
    split.write_text(other, encoding="utf-8")
    code, out = _run("audit", str(f["export"]), "--key", VKEY, "--checkpoint", str(split))
    root = json.loads(f["export"].read_text(encoding="utf-8").splitlines()[0])["checkpoint"].split("\n")[2]
    roots = sorted([other_root.hex(), base64.b64decode(root).hex()])
    assert code == EXIT_FAILED and f"split view: the log signed 2 different roots for tree size 21 ({roots[0]}, " \
                                   f"{roots[1]})" in out
    bundle["old_checkpoint"] = other
    bundle["proof"] = []
    f["consistency"].write_text(json.dumps(bundle), encoding="utf-8")
    code, out = _run("consistency", str(f["consistency"]), "--key", VKEY)
    assert code == EXIT_FAILED and "split view: the log signed two roots for tree size 21" in out
    assert other_root.hex() in out and roots[0 if roots[1] == other_root.hex() else 1] in out
