"""The portal's browser verifier under Node's test runner, from `make test` (issue 18): the transparency-dev
vectors and the audit-built disclosure proof, verified and tampered with (tests/portal_js/*.test.mjs). Also
that fixture.json is what the audit's code builds today, so the browser is tested against the ledger as it is."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.portal_js.ledger_fixture import FIXTURE, build, dumps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENDOR = ROOT / "services" / "portal" / "static" / "vendor"


def test_the_committed_fixture_is_what_the_audit_code_builds():
    assert FIXTURE.read_text(encoding="utf-8") == dumps(build()), (
        "fixture.json is stale: run .venv/bin/python -m tests.portal_js.ledger_fixture")


def test_the_browser_verifier_passes_its_node_tests():
    node = shutil.which("node")
    assert node, "node is missing: make deps installs it (npm)"
    assert (VENDOR / "noble-ed25519.js").exists(), "the vendored browser code is missing: run make deps"
    run = subprocess.run([node, "--test", str(HERE)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    summary = [line for line in run.stdout.splitlines() if line.startswith(("not ok", "# pass", "# fail"))]
    assert run.returncode == 0, "\n".join(summary) + "\n" + run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, "\n".join(summary)
