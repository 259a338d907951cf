"""The incremental tree: appending leaf by leaf gives the RFC 9162 root of every size, the stored
subtrees are the true subtree hashes, and proofs planned from them equal the reference proofs."""
from __future__ import annotations

import hashlib
import random

import pytest

from services.audit.ledger.merkle import MemoryTree, root, verify_consistency, verify_inclusion
from services.audit.ledger.tree import STORED_LEVEL, Integrator, ProofPlan


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]


LEAVES = _leaves(1300)


def test_the_root_after_each_append_is_the_rfc_9162_root_of_that_many_leaves() -> None:
    tree = Integrator()
    for n in range(1, 600):
        tree.append(LEAVES[n - 1])
        if n < 40 or n % 37 == 0 or n in (256, 257, 511, 512, 513):
            assert tree.root() == root(LEAVES[:n]), n


def test_resuming_from_saved_peaks_continues_the_same_tree() -> None:
    first = Integrator()
    first.extend(LEAVES[:700])
    resumed = Integrator(first.size, first.peaks)
    resumed.extend(LEAVES[700:1300])
    assert resumed.root() == root(LEAVES)


def test_each_completed_subtree_of_256_leaves_or_more_is_reported_once_with_its_true_hash() -> None:
    tree = Integrator()
    tree.extend(LEAVES[:1300])
    nodes = tree.take_completed()
    expected = {(level, i) for level in range(STORED_LEVEL, 11) for i in range(1300 >> level)}
    assert {(n.level, n.index) for n in nodes} == expected
    for n in nodes:
        width = 1 << n.level
        assert n.hash == root(LEAVES[n.index * width:(n.index + 1) * width])
    assert tree.take_completed() == []


def _store(n: int) -> tuple[dict, dict]:
    tree = Integrator()
    tree.extend(LEAVES[:n])
    nodes = {(x.level, x.index): x.hash for x in tree.take_completed()}
    return nodes, dict(enumerate(LEAVES[:n]))


@pytest.mark.parametrize("size", [1, 2, 3, 255, 256, 257, 700, 1024, 1300])
async def test_planned_proofs_from_stored_subtrees_equal_the_reference_proofs(size: int) -> None:
    nodes, leaves = _store(1300)
    fetched: list[int] = []

    async def fetch_nodes(keys: set) -> dict:
        return {k: nodes[k] for k in keys}

    async def fetch_leaves(indexes: set) -> dict:
        fetched.append(len(indexes))
        return {i: leaves[i] for i in indexes}

    reference = MemoryTree(LEAVES[:size])
    rng = random.Random(size)
    indexes = sorted({0, size - 1, *(rng.randrange(size) for _ in range(5))})
    olds = sorted({1, size, *(rng.randrange(1, size + 1) for _ in range(5))})
    plan = ProofPlan()
    for i in indexes:
        plan.want_inclusion(i, size)
    for old in olds:
        plan.want_consistency(old, size)
    plan.want_root(size)
    await plan.fetch(fetch_nodes, fetch_leaves)

    assert plan.root(size) == reference.root()
    for i in indexes:
        proof = plan.inclusion(i, size)
        assert proof == reference.inclusion_proof(i)
        verify_inclusion(LEAVES[i], i, size, proof, reference.root())
    for old in olds:
        proof = plan.consistency(old, size)
        assert proof == reference.consistency_proof(old)
        verify_consistency(old, size, proof, root(LEAVES[:old]), reference.root())
    assert len(fetched) <= 1 and all(n <= 2 * 256 * len(indexes + olds) for n in fetched)


async def test_a_proof_needing_a_subtree_that_is_not_stored_fails_loudly() -> None:
    plan = ProofPlan()
    plan.want_inclusion(3, 600)

    async def nothing(keys: set) -> dict:
        return {}

    await plan.fetch(nothing, nothing)
    with pytest.raises(LookupError, match="missing"):
        plan.inclusion(3, 600)
