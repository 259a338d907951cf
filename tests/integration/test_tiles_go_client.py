"""The ledger's public tlog-tiles read path checked by a client this project did not write (issue 17 part 2;
R24, R26): tools/tlogcheck, built from the Go module proxy on golang.org/x/mod's sumdb/tlog and sumdb/note,
reads the running audit service's /checkpoint, hash tiles and entry bundles with no token (entries of format
2 name no one, issue 17 part 3), checks the log's signature, proves the older checkpoint consistent with the
newer and every entry of the first bundle included."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from local.infra import REPO
from local.platform import Platform
from services.audit.ledger.checkpoint import generate_signer
from shared.contracts.registry import encode
from shared.contracts.topics import BILLING_EVENTS
from tests.integration.kafkatools import eventually, produce
from tests.unit.audit.money import School, envelope

pytestmark = pytest.mark.integration

SOURCE = REPO / "tools" / "tlogcheck"


def _tlogcheck() -> Path:
    """The client, built once per source version into ~/.cache/beilei (as witness.sh caches litewitness)."""
    digest = hashlib.sha256(b"".join((SOURCE / f).read_bytes() for f in ("go.mod", "go.sum", "main.go")))
    cache = Path(os.environ.get("BEILEI_CACHE", Path.home() / ".cache" / "beilei"))
    binary = cache / f"tlogcheck-{digest.hexdigest()[:16]}"
    if not binary.exists():
        go = shutil.which("go") or "/usr/local/go/bin/go"
        cache.mkdir(parents=True, exist_ok=True)
        partial = binary.with_suffix(".tmp")
        subprocess.run([go, "build", "-o", str(partial), "."], cwd=SOURCE, check=True, timeout=300,
                       env={**os.environ, "GOFLAGS": "-modcacherw"})
        partial.rename(binary)
    return binary


def _events(school: School, students: int) -> list:
    events = [school.schedule(), school.subsidy()]
    for _ in range(students):
        student = school.student()
        events += [school.charge(student, days=[], quantity=20, amount=30000), school.payment(student, 30000)]
    return [envelope(e) for e in events]


async def test_an_independent_go_client_verifies_inclusion_and_consistency_from_public_tiles(
    platform: Platform, kafka_bootstrap: str, tmp_path: Path
) -> None:
    binary = _tlogcheck()
    audit = platform["audit"]
    public = httpx.AsyncClient(base_url=audit.url, timeout=30)

    async def signed(at_least: int) -> str | None:
        head = (await public.get("/v1/ledger/head")).json()
        if head["size"] < at_least:
            return None
        reply = await public.get("/checkpoint")
        return reply.text if reply.status_code == 200 else None

    try:
        first, second = _events(School("tgo"), 10), _events(School("tgp"), 150)
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in first])
        older = await eventually(lambda: signed(len(first)), timeout=120, what="a first signed checkpoint")
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in second])
        await eventually(lambda: signed(len(first) + len(second)), timeout=180, what="a larger checkpoint")
        vkey = (await public.get("/v1/ledger/key")).json()["vkey"]
    finally:
        await public.aclose()
    (tmp_path / "older").write_text(older)

    def check(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(binary), "-url", audit.url, *args], capture_output=True, text=True,
                              timeout=120)

    done = check("-vkey", vkey, "-old", str(tmp_path / "older"), "-entries")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    size = int(lines[0].split()[-1])
    assert size >= len(first) + len(second) > 256  # tile 0 full, tile 1 partial
    old_size = int(older.splitlines()[1])
    assert f"consistent {old_size} {size}" in lines
    assert [ln for ln in lines if ln.startswith("included ")] == [f"included {i}" for i in range(256)]

    # The same client refuses a checkpoint signed by another key.
    _, other = generate_signer(older.splitlines()[0])
    refused = check("-vkey", other)
    assert refused.returncode != 0 and "verif" in refused.stderr
