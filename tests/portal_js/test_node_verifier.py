"""The portal's browser verifier under Node's test runner, from `make test` (issue 18): the transparency-dev
vectors and the audit-built disclosure proof, verified and tampered with (tests/portal_js/*.test.mjs). Also
that fixture.json is what the audit's code builds today, so the browser is tested against the ledger as it is."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from services.audit.ledger.checkpoint import open_checkpoint
from services.audit.ledger.merkle import leaf_hash, verify_inclusion
from services.audit.ledger.witness import QuorumError, WitnessPolicy, load_witness_key
from tests.portal_js.ledger_fixture import FIXTURE, build, dumps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENDOR = ROOT / "services" / "portal" / "static" / "vendor"


def test_the_committed_fixture_is_what_the_audit_code_builds():
    assert FIXTURE.read_text(encoding="utf-8") == dumps(build()), (
        "fixture.json is stale: run .venv/bin/python -m tests.portal_js.ledger_fixture")


def test_the_audit_python_verifier_accepts_the_fixture_the_browser_is_tested_with():
    fixture = build()
    proof, keys = fixture["proof"], fixture["keys"]
    checkpoint = open_checkpoint(proof["checkpoint"], [keys["log_vkey"]])
    policy = WitnessPolicy(tuple(map(load_witness_key, keys["witness_vkeys"])), keys["quorum"])
    assert [c.witness for c in policy.check(proof["checkpoint"], [keys["log_vkey"]])] == [
        "witness-city-archive", "witness-district-07"]
    with pytest.raises(QuorumError):
        policy.check(fixture["checkpoint_without_witnesses"], [keys["log_vkey"]])
    entry = base64.b64decode(proof["entry"])
    assert base64.b64encode(leaf_hash(entry)).decode() == proof["leaf_hash"]
    verify_inclusion(leaf_hash(entry), proof["index"], checkpoint.size,
                     [base64.b64decode(h) for h in proof["inclusion_proof"]], checkpoint.root_hash)


def test_the_browser_verifier_passes_its_node_tests():
    node = shutil.which("node")
    assert node, "node is missing: make deps installs it (npm)"
    assert (VENDOR / "noble-ed25519.js").exists(), "the vendored browser code is missing: run make deps"
    run = subprocess.run([node, "--test", str(HERE)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    summary = [line for line in run.stdout.splitlines() if line.startswith(("not ok", "# pass", "# fail"))]
    assert run.returncode == 0, "\n".join(summary) + "\n" + run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, "\n".join(summary)


def test_the_portal_serves_audits_receipt_dictionary_and_audit_verifies_the_family_receipts():
    from services.audit.ledger.bundles import verify_receipt

    portal = ROOT / "services" / "portal" / "static" / "js" / "receipt-dictionary-3.txt"
    audit = ROOT / "services" / "audit" / "ledger" / "receipt-dictionary-3.txt"
    assert portal.read_bytes() == audit.read_bytes(), "the portal's copy of the receipt dictionary differs from audit's"
    fixture = build()
    for text in (fixture["family"]["receipt"], fixture["family"]["receipt_format_2"]):
        assert verify_receipt(text, [fixture["keys"]["log_vkey"]]).opened["payload"]["guardian_id"] == "gdn-000456"
