"""The ledger's public read path, C2SP tlog-tiles (issue 17 part 2; R24, R26): tile paths written and read
exactly as the spec does, entry bundles as big-endian uint16 length and bytes, and over a real ledger the
checkpoint and hash tiles served without a token (full tiles immutable, partial ones short-lived), from
which the checkpoint's root is rebuilt; entry bundles of format-2 entries are public too and name no student."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.audit import api
from services.audit.api.tiles import (
    IMMUTABLE,
    TILE_WIDTH,
    encode_bundle,
    format_index,
    parse_tile_path,
    tile_path,
    tile_width_available,
)
from services.audit.ledger.checkpoint import open_checkpoint
from services.audit.ledger.merkle import leaf_hash, root
from services.audit.ledger.witness import WitnessKey, _key_id, cosign, cosignatures
from services.audit.settings import Context
from services.audit.witnesses import Witness, WitnessRefused
from services.audit.workers import LedgerWorkers
from tests.tokens import verifier
from tests.unit.audit.harness import TestLedger
from tests.unit.audit.money import School


@pytest.mark.parametrize(("n", "path"), [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"),
                                         (1234067, "x001/x234/067"), (10**9, "x001/x000/x000/000")])
def test_tile_indexes_are_written_and_read_as_the_spec_does(n: int, path: str) -> None:
    assert format_index(n) == path
    assert parse_tile_path(path) == (n, TILE_WIDTH)


def test_partial_tiles_carry_their_width_and_odd_paths_are_refused() -> None:
    assert tile_path(0, 1234067, 5) == "tile/0/x001/x234/067.p/5"
    assert tile_path("entries", 3) == "tile/entries/003"
    assert parse_tile_path("x001/x234/067.p/255") == (1234067, 255)
    for bad in ("1", "0001", "x001", "x000/001", "001.p/0", "001.p/256", "001.p/07", "001.p/", "x1/001"):
        with pytest.raises(ValueError):
            parse_tile_path(bad)
    with pytest.raises(ValueError):
        tile_path(0, 1, 0)


def test_a_tile_holds_only_the_hashes_a_tree_of_that_size_has() -> None:
    assert tile_width_available(0, 0, 300) == 256
    assert tile_width_available(0, 1, 300) == 44
    assert tile_width_available(0, 2, 300) == 0
    assert tile_width_available(1, 0, 300) == 1  # one complete 256-leaf subtree
    assert tile_width_available(1, 0, 255) == 0
    assert tile_width_available(2, 0, 1 << 16) == 1


def test_an_entry_bundle_is_big_endian_uint16_lengths_and_bytes() -> None:
    assert encode_bundle([b"ab", b"", b"x" * 300]) == b"\x00\x02ab" + b"\x00\x00" + b"\x01\x2c" + b"x" * 300
    with pytest.raises(ValueError):
        encode_bundle([b"x" * 65536])


@pytest.fixture(scope="module")
async def served(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, TestLedger]]:
    ledger = await TestLedger.create(database_url, "tiles")
    app = FastAPI()
    for router in api.routers:
        app.include_router(router)
    app.state.runtime = SimpleNamespace(uow_factory=ledger.uow, authority=verifier(),
                                        context=Context(ledger.signer, ledger.origin))
    school = School("tls")
    student = school.student()
    await ledger.feed(school.schedule(), school.enrollment(student))
    await ledger.feed(*(school.payment(student, 100 + i) for i in range(300)))
    await ledger.checkpoint()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit") as client:
        yield client, ledger
    await ledger.close()


async def test_checkpoint_and_hash_tiles_are_public_and_rebuild_the_signed_root(served) -> None:
    client, ledger = served
    reply = await client.get("/checkpoint")
    assert reply.status_code == 200, reply.text
    cp = open_checkpoint(reply.text, [ledger.vkey], ledger.origin)
    assert cp.size > TILE_WIDTH and "immutable" not in reply.headers["cache-control"]
    full = await client.get("/tile/0/000")
    assert full.status_code == 200 and full.headers["cache-control"] == IMMUTABLE
    assert len(full.content) == TILE_WIDTH * 32
    width = cp.size - TILE_WIDTH
    partial = await client.get(f"/{tile_path(0, 1, width)}")
    assert partial.status_code == 200 and "immutable" not in partial.headers["cache-control"]
    hashes = full.content + partial.content
    assert root([hashes[i:i + 32] for i in range(0, len(hashes), 32)]) == cp.root_hash
    # Level 1 holds the stored hashes of complete 256-leaf subtrees: here the first one.
    above = await client.get("/tile/1/000.p/1")
    assert above.status_code == 200 and above.content == root([full.content[i:i + 32] for i in range(0, 8192, 32)])
    # Nothing beyond the signed tree, no level-1 tile before 256 complete subtrees, no odd paths.
    for missing in (f"/{tile_path(0, 1, width + 1)}", "/tile/0/002", "/tile/1/000", "/tile/0/0",
                    "/tile/0/x000/000", "/tile/9/000"):
        assert (await client.get(missing)).status_code == 404, missing


async def test_entry_bundles_of_committed_entries_are_public_and_name_no_student(served) -> None:
    client, _ = served
    reply = await client.get("/tile/entries/000")
    assert reply.status_code == 200 and reply.headers["cache-control"] == IMMUTABLE
    assert b"stu-" not in reply.content and b"tls" in reply.content  # the school is in the clear, the child not
    entries, data = [], reply.content
    while data:
        n = int.from_bytes(data[:2], "big")
        entries.append(data[2:2 + n])
        data = data[2 + n:]
    tile = (await client.get("/tile/0/000")).content
    assert [leaf_hash(e) for e in entries] == [tile[i:i + 32] for i in range(0, len(tile), 32)]


class _SigningWitness(Witness):
    """A witness that cosigns whatever it is sent, with its own key (no HTTP), unless it is down."""

    up = True

    async def add_checkpoint(self, old_size: int, proof, signed_note: str) -> str:
        if not self.up:
            raise WitnessRefused(self.key.name, 503, "down")
        return cosign(signed_note, self.key.name, self.private, 1_700_000_000)


async def test_the_cosigned_checkpoint_is_kept_so_a_restart_serves_it_at_once(database_url: str) -> None:
    ledger = await TestLedger.create(database_url, "kept")
    try:
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes_raw()
        witness = _SigningWitness("http://unused", WitnessKey("w.test", _key_id("w.test", raw), private.public_key()))
        witness.private = private  # type: ignore[attr-defined]

        def workers() -> LedgerWorkers:
            return LedgerWorkers(SimpleNamespace(uow_factory=ledger.uow), ledger.signer,  # type: ignore[arg-type]
                                 ledger.origin, ledger.policy, checkpoint_seconds=1, check_seconds=1,
                                 registry=CollectorRegistry(), witnesses=[witness], witness_quorum=1)

        def app_of(w: LedgerWorkers) -> FastAPI:
            app = FastAPI()
            for router in api.routers:
                app.include_router(router)
            app.state.runtime = SimpleNamespace(uow_factory=ledger.uow, authority=verifier(),
                                                context=Context(ledger.signer, ledger.origin, w))
            return app

        school = School("kpt")
        await ledger.feed(*(school.payment(school.student(), 100 + i) for i in range(5)))
        first, now = workers(), datetime.now(UTC)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(first)), base_url="http://a") as c:
            async with ledger.uow() as uow:
                await first._checkpoint(uow, now)
            assert (await c.get("/checkpoint")).status_code == 404  # signed, not yet cosigned by the quorum
            async with ledger.uow() as uow:
                await first._cosign(uow, now)
            served = (await c.get("/checkpoint")).text
        assert served == first.cosigned_note and [c.witness for c in cosignatures(served, [witness.key])] == ["w.test"]

        restarted = workers()  # a new process: nothing in memory, and the witness is down
        witness.up = False
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(restarted)), base_url="http://a") as c:
            assert (await c.get("/checkpoint")).text == served
            async with ledger.uow() as uow:
                await restarted._cosign(uow, now)
            listed = (await c.get("/v1/ledger/witnesses")).json()
        assert listed["cosigned_note"] == served and listed["cosigned_size"] == 5
    finally:
        await ledger.close()
