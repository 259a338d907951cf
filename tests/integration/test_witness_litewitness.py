"""Real independent witnesses (litewitness, filippo.io/torchwood v0.6.1) driven through C2SP tlog-witness
add-checkpoint (issue 17; R24, R26): they cosign a ledger that grows by appends, and refuse a tail rewritten
and re-signed with the stolen log key and a second root signed for a size they saw, so the k-of-n witness
policy an auditor applies offline rejects the forged checkpoint while the log's own signature verifies."""
from __future__ import annotations

import hashlib

import pytest

from services.audit.ledger.checkpoint import Checkpoint, format_checkpoint, load_signer, open_checkpoint
from services.audit.ledger.merkle import MemoryTree, leaf_hash
from services.audit.ledger.witness import QuorumError, load_policy, with_cosignatures
from services.audit.witnesses import Witness, WitnessRefused, collect

pytestmark = pytest.mark.integration


def _leaves(n: int, salt: str = "") -> list[bytes]:
    return [leaf_hash(hashlib.sha256(f"entry {i}{salt}".encode()).digest()) for i in range(n)]


class Log:
    """A ledger as the audit service keeps it: a Merkle tree and the log key that signs its checkpoints."""

    def __init__(self, witnesses, leaves: list[bytes]) -> None:
        self.origin = witnesses.origin
        self.signer = load_signer(witnesses.log_skey)
        self.tree = MemoryTree(leaves)

    def note(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        return self.signer.sign_note(format_checkpoint(Checkpoint(self.origin, size, self.tree.root(size))))

    async def proof(self, old: int, new: int) -> list[bytes]:
        return self.tree.consistency_proof(old, new)


def _policy(witnesses, quorum: int):
    return load_policy("".join(f"witness {vkey}\n" for _, vkey in witnesses.witnesses) + f"quorum {quorum}\n")


async def test_litewitness_cosigns_appends_and_refuses_a_re_signed_tail_rewrite_and_a_split_view(witnesses):
    clients = [Witness.of(url, vkey) for url, vkey in witnesses.witnesses]
    policy = _policy(witnesses, 2)
    honest = Log(witnesses, _leaves(5))

    # Appends: each witness cosigns size 5 (its first), then 9 with a consistency proof from 5.
    for size_after in (5, 9):
        honest.tree.extend(_leaves(size_after)[honest.tree.size:])
        note = honest.note()
        lines = await collect(clients, note, honest.tree.size, honest.proof)
        assert sorted(lines) == sorted(policy.names)
        cosigned = with_cosignatures(note, lines.values())
        assert [c.witness for c in policy.check(cosigned, [witnesses.log_vkey])] == policy.names
        # The log's own verifier ignores the witness lines (unknown keys): the note stays a checkpoint.
        assert open_checkpoint(cosigned, [witnesses.log_vkey]).size == size_after

    # The stolen log key rewrites the tail after entry 3 and signs a longer tree: the signature is good,
    # the consistency proof from 9 is the forged tree's own, and every witness refuses it (422).
    forged = Log(witnesses, _leaves(4) + _leaves(12, salt=" rewritten")[4:])
    forged_note = forged.note()
    assert open_checkpoint(forged_note, [witnesses.log_vkey]).size == 12
    for w in clients:
        with pytest.raises(WitnessRefused) as refused:
            await w.cosign(forged_note, 12, forged.proof)
        assert refused.value.status == 422
    with pytest.raises(QuorumError, match="cosigned by 0 of the 2"):
        policy.check(with_cosignatures(forged_note, (await collect(clients, forged_note, 12, forged.proof)).values()),
                     [witnesses.log_vkey])

    # A split view: a second root signed for size 9, which the witnesses already cosigned.
    split_note = forged.note(9)
    assert forged.tree.root(9) != honest.tree.root(9)
    for w in clients:
        with pytest.raises(WitnessRefused) as refused:
            await w.add_checkpoint(9, [], split_note)
        assert refused.value.status == 422

    # The honest log goes on: a witness client that lost its state (a restarted audit process) learns the
    # witness's size from its 409 answer and cosigns the next checkpoint from there.
    honest.tree.extend(_leaves(14)[9:])
    fresh = Witness.of(*witnesses.witnesses[0])
    with pytest.raises(WitnessRefused) as stale:
        await fresh.add_checkpoint(0, [], honest.note())
    assert (stale.value.status, stale.value.known_size) == (409, 9)
    line = await fresh.cosign(honest.note(), 14, honest.proof)
    assert [c.witness for c in _policy(witnesses, 1).check(with_cosignatures(honest.note(), [line]),
                                                         [witnesses.log_vkey])] == [fresh.key.name]
    for w in [*clients, fresh]:
        await w.aclose()


async def test_a_witness_that_is_down_delays_its_cosignature_and_the_quorum_says_who_is_missing(witnesses):
    url, vkey = witnesses.witnesses[0]
    down = Witness.of("http://127.0.0.1:9", vkey)  # nothing listens on the discard port
    log = Log(witnesses, _leaves(3))
    assert await collect([down], log.note(), 3, log.proof) == {}
    with pytest.raises(QuorumError, match=f"cosigned: none; not: {down.key.name}"):
        load_policy(f"witness {vkey}\n").check(log.note(), [witnesses.log_vkey])
    await down.aclose()
