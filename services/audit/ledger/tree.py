"""Incremental integration of a stored Merkle tree: append leaves to a compact range, emitting the
perfect-subtree hashes worth storing; build proofs from the few stored hashes they need.

The log keeps every complete, aligned subtree of 2**STORED_LEVEL leaves or more (the 256-leaf tiles
of C2SP tlog-tiles): about n/128 hashes for n entries. Appending costs O(1) amortised hashes; an
inclusion or consistency proof for any size costs two fetches (stored subtree hashes, and the leaf
hashes of at most one tile per side) and O(log n) hashing. Standard library only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from services.audit.ledger.merkle import HASH_SIZE, MerkleAccumulator, _SubtreeHashing, node_hash

__all__ = ["STORED_LEVEL", "Integrator", "ProofPlan", "StoredNode"]

STORED_LEVEL = 8
"""Height of the smallest stored subtree: 256 leaves, one tlog-tiles tile."""

_ZERO = bytes(HASH_SIZE)


@dataclass(frozen=True)
class StoredNode:
    """The hash of the complete subtree over leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    index: int
    hash: bytes


class Integrator:
    """A compact range that also reports each stored-level subtree completed by an append."""

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = (), *, stored_level: int = STORED_LEVEL) -> None:
        self._acc = MerkleAccumulator.from_state(size, peaks)
        self._size = size
        self._peaks = list(self._acc.peaks)
        self._stored_level = stored_level
        self.completed: list[StoredNode] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash; every subtree it completes at or above the stored level is recorded."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index, h, level, s = self._size, leaf_hash, 0, self._size
        peaks = self._peaks
        while s & 1:
            h = node_hash(peaks.pop(), h)
            s >>= 1
            level += 1
            if level >= self._stored_level:
                self.completed.append(StoredNode(level, index >> level, h))
        peaks.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        return MerkleAccumulator.from_state(self._size, self._peaks).root()

    def take_completed(self) -> list[StoredNode]:
        """The stored nodes completed since the last call."""
        out, self.completed = self.completed, []
        return out


class _Recorder(_SubtreeHashing):
    """Runs the proof algorithm without data, noting every stored node and leaf range it reads."""

    def __init__(self, level: int) -> None:
        self._cache_level = level
        self.nodes: set[tuple[int, int]] = set()
        self.leaves: set[int] = set()

    def _perfect(self, level: int, index: int) -> bytes:
        self.nodes.add((level, index))
        return _ZERO

    def _leaves(self, start: int, end: int) -> list[bytes]:
        self.leaves.update(range(start, end))
        return [_ZERO] * (end - start)


class _Served(_SubtreeHashing):
    def __init__(self, level: int, nodes: dict[tuple[int, int], bytes], leaves: dict[int, bytes]) -> None:
        self._cache_level = level
        self._nodes = nodes
        self._leaf = leaves

    def _perfect(self, level: int, index: int) -> bytes:
        try:
            return self._nodes[(level, index)]
        except KeyError:
            raise LookupError(f"stored subtree ({level}, {index}) is missing") from None

    def _leaves(self, start: int, end: int) -> list[bytes]:
        try:
            return [self._leaf[i] for i in range(start, end)]
        except KeyError as exc:
            raise LookupError(f"leaf hash {exc.args[0]} is missing") from None


FetchNodes = Callable[[set[tuple[int, int]]], Awaitable[dict[tuple[int, int], bytes]]]
FetchLeaves = Callable[[set[int]], Awaitable[dict[int, bytes]]]


class ProofPlan:
    """Collects proof requests, fetches what they need in two round trips, then answers them.

    The RFC 9162 proof algorithms visit the same subtrees whatever the hashes are, so a dry run
    tells exactly which stored nodes and leaf hashes to read.
    """

    def __init__(self, stored_level: int = STORED_LEVEL) -> None:
        self._level = stored_level
        self._recorder = _Recorder(stored_level)
        self._served: _Served | None = None

    def want_inclusion(self, index: int, size: int) -> None:
        self._recorder.inclusion_proof(index, size)

    def want_consistency(self, old_size: int, new_size: int) -> None:
        self._recorder.consistency_proof(old_size, new_size)

    def want_root(self, size: int) -> None:
        self._recorder.root(size)

    async def fetch(self, nodes: FetchNodes, leaves: FetchLeaves) -> None:
        got_nodes = await nodes(set(self._recorder.nodes)) if self._recorder.nodes else {}
        got_leaves = await leaves(set(self._recorder.leaves)) if self._recorder.leaves else {}
        self._served = _Served(self._level, got_nodes, got_leaves)

    def _answers(self) -> _Served:
        if self._served is None:
            raise RuntimeError("fetch() first")
        return self._served

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self._answers().inclusion_proof(index, size)

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        return self._answers().consistency_proof(old_size, new_size)

    def root(self, size: int) -> bytes:
        return self._answers().root(size)
