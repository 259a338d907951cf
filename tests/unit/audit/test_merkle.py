"""Unit tests for RFC 9162 Merkle hashing, proof generation, the accumulator and the tree stores."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from services.audit.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    MerkleAccumulator,
    ProofError,
    SubtreeHasher,
    TreeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2] / "data" / "merkle-vectors"

# The RFC 6962 test tree used by transparency-dev/merkle, and its published roots for sizes 1..8
# (cmd/proofgen and the rfc6962 tests of transparency-dev/merkle).
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_LEAF_HASHES = [leaf_hash(d) for d in RFC_LEAVES]

LEAVES_64 = [leaf_hash(i.to_bytes(4, "big")) for i in range(64)]


# --------------------------------------------------------------------------- a literal reference
# RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 transcribed recursively, used as the oracle below.


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 0x01]) + changed[i][1:]
    return changed


class ListStore:
    """A TreeStore over a list that counts how often it is read."""

    def __init__(self, hashes: list[bytes]) -> None:
        self.hashes = hashes
        self.reads = 0

    def get_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self.reads += 1
        return self.hashes[start:end]


# --------------------------------------------------------------------------- hashing


def test_leaf_and_node_hashes_match_the_rfc_6962_known_answers():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert (
        leaf_hash(b"L123456").hex()
        == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert (
        node_hash(b"N123", b"N456").hex()
        == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_an_empty_tree_has_the_sha256_of_the_empty_string_as_root():
    assert root([]) == hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert MerkleAccumulator().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_the_roots_of_the_rfc_test_tree_match_the_published_roots(size):
    assert root(RFC_LEAF_HASHES[:size]).hex() == RFC_ROOTS[size - 1]
    assert MemoryTree(RFC_LEAF_HASHES).root(size).hex() == RFC_ROOTS[size - 1]


def test_hashing_rejects_values_that_are_not_bytes():
    with pytest.raises(TypeError):
        leaf_hash("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        leaf_hash(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        node_hash(b"a", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        root([b"short"])


# --------------------------------------------------------------------------- generated proofs


def _happy_vectors(kind: str):
    for path in sorted((VECTORS / kind).glob("[0-9]*/happy-path.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


def _b64_list(values):
    return [base64.b64decode(v) for v in values or []]


def test_generated_proofs_for_the_rfc_test_tree_equal_the_published_proofs():
    inclusion = list(_happy_vectors("inclusion"))
    consistency = list(_happy_vectors("consistency"))
    assert inclusion and consistency
    for v in inclusion:
        assert inclusion_proof(RFC_LEAF_HASHES, v["leafIdx"], v["treeSize"]) == _b64_list(v["proof"])
        assert root(RFC_LEAF_HASHES[: v["treeSize"]]) == base64.b64decode(v["root"])
    for v in consistency:
        got = consistency_proof(RFC_LEAF_HASHES, v["size1"], v["size2"])
        assert got == _b64_list(v["proof"])


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_of_a_tree_up_to_64_leaves_verifies_and_follows_the_rfc(size):
    leaves = LEAVES_64[:size]
    tree = MemoryTree(leaves, cache_level=2)
    tree_root = ref_mth(leaves)
    assert tree.root() == root(leaves) == tree_root
    for index in range(size):
        proof = inclusion_proof(tree, index, size)
        assert proof == ref_path(index, leaves)
        verify_inclusion(leaves[index], index, size, proof, tree_root)
        for i in range(len(proof)):
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, _flip(proof, i), tree_root)
        if proof:
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, proof[:-1], tree_root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, proof + [tree_root], tree_root)
        other = (index + 1) % size
        if other != index:
            with pytest.raises(ProofError):
                verify_inclusion(leaves[other], index, size, proof, tree_root)


@pytest.mark.parametrize("size", range(1, 65))
def test_every_consistency_proof_of_a_tree_up_to_64_leaves_verifies_and_follows_the_rfc(size):
    leaves = LEAVES_64[:size]
    tree = MemoryTree(leaves, cache_level=2)
    new_root = ref_mth(leaves)
    for old in range(1, size + 1):
        old_root = ref_mth(leaves[:old])
        proof = consistency_proof(tree, old, size)
        assert proof == (ref_subproof(old, leaves, True) if old < size else [])
        verify_consistency(old, size, proof, old_root, new_root)
        if old == size:
            continue
        for i in range(len(proof)):
            with pytest.raises(ProofError):
                verify_consistency(old, size, _flip(proof, i), old_root, new_root)
        with pytest.raises(ProofError):
            verify_consistency(old, size, proof[:-1], old_root, new_root)
        with pytest.raises(ProofError):
            verify_consistency(old, size, proof, new_root, old_root)
        with pytest.raises(ProofError):
            verify_consistency(old, size, proof + [new_root], old_root, new_root)


@pytest.mark.parametrize(
    "make_source",
    [
        pytest.param(lambda hs: hs, id="a plain list"),
        pytest.param(lambda hs: tuple(hs), id="a tuple"),
        pytest.param(lambda hs: ListStore(hs), id="a tree store"),
        pytest.param(lambda hs: SubtreeHasher(ListStore(hs), cache_level=0), id="hasher level 0"),
        pytest.param(lambda hs: SubtreeHasher(hs, cache_level=3), id="hasher level 3"),
        pytest.param(lambda hs: MemoryTree(hs, cache_level=0), id="memory tree level 0"),
        pytest.param(lambda hs: MemoryTree(hs, cache_level=5), id="memory tree level 5"),
    ],
)
def test_every_kind_of_leaf_source_yields_the_same_proofs(make_source):
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
    source = make_source(hashes)
    reference = MemoryTree(hashes)
    for size in (1, 2, 3, 31, 32, 33, 127, 128, 129, 255, 256, 257, 300):
        for index in {0, size // 3, size // 2, size - 1}:
            assert inclusion_proof(source, index, size) == reference.inclusion_proof(index, size)
        for old in {1, size // 3 or 1, size // 2 or 1, size - 1 or 1, size}:
            assert consistency_proof(source, old, size) == reference.consistency_proof(old, size)


def test_a_memory_tree_built_one_leaf_at_a_time_matches_one_built_in_bulk():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(600)]
    one_by_one = MemoryTree(cache_level=3)
    bulk = MemoryTree(cache_level=3)
    for i, h in enumerate(hashes):
        one_by_one.append(h)
        if i % 97 == 0:
            bulk.extend(hashes[len(bulk) : i + 1])
            assert bulk.root() == one_by_one.root()
    bulk.extend(hashes[len(bulk) :])
    assert len(bulk) == len(one_by_one) == 600
    for size in range(0, 601, 7):
        assert bulk.root(size) == one_by_one.root(size) == root(hashes[:size])
    assert bulk.subtree_hash(256, 512) == ref_mth(hashes[256:512])
    assert bulk.subtree_hash(5, 17) == ref_mth(hashes[5:17])  # not a subtree of the tree, still MTH
    assert bulk.subtree_hash(9, 9) == EMPTY_ROOT


def test_a_subtree_hasher_memoises_complete_subtrees_so_later_proofs_read_little():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(5000)]
    store = ListStore(hashes)
    hasher = SubtreeHasher(store, cache_level=4)
    assert isinstance(store, TreeStore)
    first = hasher.inclusion_proof(1234, 5000)
    reads_after_first = store.reads
    second = hasher.inclusion_proof(4321, 5000)
    assert store.reads - reads_after_first <= 16
    verify_inclusion(hashes[1234], 1234, 5000, first, root(hashes))
    verify_inclusion(hashes[4321], 4321, 5000, second, root(hashes))


def test_proof_generation_rejects_impossible_requests():
    hashes = LEAVES_64[:10]
    tree = MemoryTree(hashes)
    for bad in [(-1, 10), (10, 10), (0, 0), (0, 11), (True, 10), (1.0, 10)]:
        with pytest.raises(ValueError):
            inclusion_proof(hashes, *bad)
        with pytest.raises(ValueError):
            inclusion_proof(tree, *bad)
    for bad in [(0, 5), (6, 5), (-1, 5), (1, 11)]:
        with pytest.raises(ValueError):
            consistency_proof(hashes, *bad)
        with pytest.raises(ValueError):
            consistency_proof(tree, *bad)
    assert consistency_proof(hashes, 7, 7) == []
    with pytest.raises(ValueError):
        inclusion_proof(ListStore(hashes[:5]), 0, 10)  # the store runs out of leaves
    with pytest.raises(ValueError):
        tree.append(b"not a hash")


# --------------------------------------------------------------------------- verifier input checks


def test_the_inclusion_verifier_rejects_malformed_arguments_with_a_reason():
    leaves = LEAVES_64[:5]
    proof = inclusion_proof(leaves, 2, 5)
    good_root = root(leaves)
    verify_inclusion(leaves[2], 2, 5, proof, good_root)
    verify_inclusion(bytearray(leaves[2]), 2, 5, tuple(proof), bytearray(good_root))
    cases = [
        (leaves[2], True, 5, proof, good_root),
        (leaves[2], 2, 5.0, proof, good_root),
        (leaves[2], -1, 5, proof, good_root),
        (leaves[2], 2, 2**64, proof, good_root),
        (leaves[2], 5, 5, proof, good_root),
        (leaves[2][:31], 2, 5, proof, good_root),
        ("not bytes", 2, 5, proof, good_root),
        (leaves[2], 2, 5, None, good_root),
        (leaves[2], 2, 5, b"".join(proof), good_root),
        (leaves[2], 2, 5, [p.hex() for p in proof], good_root),
        (leaves[2], 2, 5, [proof[0][:31]] + proof[1:], good_root),
        (leaves[2], 2, 5, proof, good_root.hex()),
        (leaves[2], 2, 5, proof, good_root[:31]),
    ]
    for args in cases:
        with pytest.raises(ProofError) as caught:
            verify_inclusion(*args)
        assert caught.value.reason


def test_the_consistency_verifier_rejects_malformed_arguments_with_a_reason():
    leaves = LEAVES_64[:7]
    proof = consistency_proof(leaves, 3, 7)
    r3, r7 = root(leaves[:3]), root(leaves)
    verify_consistency(3, 7, proof, r3, r7)
    cases = [
        (7, 3, proof, r3, r7),
        (0, 7, proof, r3, r7),
        (0, 0, [], EMPTY_ROOT, EMPTY_ROOT),
        (3, 3, proof, r3, r3),
        (3, 3, [], r3, r7),
        (3, 7, [], r3, r7),
        (3, 7, None, r3, r7),
        (3, 7, [p + b"\x00" for p in proof], r3, r7),
        (False, 7, proof, r3, r7),
        (3, 7, proof, r3.hex(), r7),
    ]
    for args in cases:
        with pytest.raises(ProofError) as caught:
            verify_consistency(*args)
        assert caught.value.reason


# --------------------------------------------------------------------------- accumulator


def test_the_accumulator_root_equals_root_after_every_append():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(1100)]
    tree = MemoryTree(hashes)
    acc = MerkleAccumulator()
    assert acc.root() == root([])
    for n, h in enumerate(hashes, start=1):
        acc.append(h)
        assert acc.size == n
        assert len(acc.peaks) == bin(n).count("1")
        assert acc.root() == tree.root(n)
        if n in (1, 2, 3, 64, 65, 1023, 1024, 1025, 1100):
            assert acc.root() == root(hashes[:n])


def test_the_accumulator_resumes_from_its_saved_state():
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(777)]
    acc = CompactRange()
    acc.extend(hashes[:500])
    resumed = MerkleAccumulator.from_state(acc.size, acc.peaks)
    copy = acc.copy()
    resumed.extend(hashes[500:])
    copy.extend(hashes[500:])
    assert resumed.root() == copy.root() == root(hashes)
    assert acc.root() == root(hashes[:500])
    with pytest.raises(ValueError):
        MerkleAccumulator.from_state(500, acc.peaks[:-1])
    with pytest.raises(ValueError):
        MerkleAccumulator.from_state(-1, [])
    with pytest.raises(ValueError):
        acc.append(b"\x00" * 31)


# --------------------------------------------------------------------------- a large tree


def test_proofs_for_a_tree_of_one_million_leaves_are_computed_and_verify():
    size = 1_000_000
    # Any 32-byte strings serve as leaf hashes; these are cheap to make.
    hashes = [i.to_bytes(32, "big") for i in range(size)]
    tree = MemoryTree(hashes)
    expected_root = root(hashes)  # computed independently, level by level
    assert tree.root() == expected_root
    for index in (0, 1, 524_287, 524_288, 777_777, size - 1):
        proof = tree.inclusion_proof(index)
        verify_inclusion(hashes[index], index, size, proof, expected_root)
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, _flip(proof, len(proof) - 1), expected_root)
    for old in (1, 3, 524_288, 600_001, size - 1):
        proof = tree.consistency_proof(old)
        verify_consistency(old, size, proof, tree.root(old), expected_root)
    assert tree.root(524_288) == tree.subtree_hash(0, 524_288)
