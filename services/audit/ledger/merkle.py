"""RFC 9162 (RFC 6962) SHA-256 Merkle tree hashing, proof generation and proof verification."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "CompactRange",
    "MemoryTree",
    "MerkleAccumulator",
    "ProofError",
    "SubtreeHasher",
    "TreeStore",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "packed_root",
    "root",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

MAX_TREE_SIZE = (1 << 64) - 1
"""Largest tree size or leaf index accepted by the verifiers (uint64, as on the wire)."""

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof, or a value it is checked against, is malformed or does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- hashing


def _require_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def leaf_hash(data: bytes) -> bytes:
    """Return the hash of one leaf: SHA-256(0x00 || data) (RFC 9162 §2.1.1)."""
    return _sha256(b"\x00" + _require_bytes(data, "leaf data")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the hash of an interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(
        b"\x01" + _require_bytes(left, "left hash") + _require_bytes(right, "right hash")
    ).digest()


def _hc(left: bytes, right: bytes) -> bytes:
    # Unchecked node_hash for internal hot loops; both arguments are known to be bytes.
    return _sha256(b"\x01" + left + right).digest()


def _mth(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of already-hashed leaves (or of perfect-subtree hashes of equal height).

    Pairing neighbours level by level and promoting an odd last node unchanged builds exactly
    the RFC 9162 tree, which splits at the largest power of two smaller than the size.
    """
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > 1:
        pairs = iter(level)
        upper = [_sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs)]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


def _check_hashes(hashes: Iterable[bytes], what: str) -> list[bytes]:
    """Return the hashes as a list of bytes, raising ValueError unless each is 32 bytes."""
    items = hashes if isinstance(hashes, list) else list(hashes)
    if all(type(h) is bytes and len(h) == HASH_SIZE for h in items):
        return items if items is not hashes else list(items)
    out = []
    for i, h in enumerate(items):
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_SIZE:
            raise ValueError(f"{what}[{i}] is not a {HASH_SIZE}-byte hash")
        out.append(bytes(h))
    return out


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} is not a {HASH_SIZE}-byte hash")
    return bytes(value)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 Merkle tree hash of the given leaf hashes (EMPTY_ROOT for none)."""
    return _mth(_check_hashes(leaf_hashes, "leaf_hashes"))


def packed_root(leaf_hashes: bytes | bytearray | memoryview) -> bytes:
    """root() of leaf hashes laid end to end (32 bytes each), as a full audit collects them: the lowest
    level of nodes is hashed straight from the buffer, without a list of a million leaf objects."""
    packed = memoryview(leaf_hashes).cast("B")
    if len(packed) % HASH_SIZE:
        raise ValueError(f"packed leaf hashes are a multiple of {HASH_SIZE} bytes, not {len(packed)}")
    if len(packed) <= HASH_SIZE:
        return bytes(packed) if packed else EMPTY_ROOT
    pairs = len(packed) // (2 * HASH_SIZE) * 2 * HASH_SIZE
    level = [_sha256(b"\x01" + packed[i:i + 2 * HASH_SIZE]).digest() for i in range(0, pairs, 2 * HASH_SIZE)]
    if pairs < len(packed):
        level.append(bytes(packed[pairs:]))
    return _mth(level)


# --------------------------------------------------------------------------- tree arithmetic


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2): the RFC 9162 split point k."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_proof_length(index: int, size: int) -> int:
    # Hashes below the point where the paths to `index` and `size - 1` meet, plus one left
    # sibling for each level above it where the path turns right.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # For 0 < old_size < new_size. The proof is the tail of the inclusion path of leaf
    # old_size - 1 in the new tree, starting at the largest perfect subtree ending at
    # old_size; that subtree's hash is included unless it is the whole old tree.
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    shift = (old_size & -old_size).bit_length() - 1
    seed = 0 if old_size == 1 << shift else 1
    return seed + (inner - shift) + border


# --------------------------------------------------------------------------- proof generation


@runtime_checkable
class TreeStore(Protocol):
    """Read access to the leaf hashes of an append-only log (for example a database table)."""

    def get_leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        """Return the leaf hashes with indices start <= i < end, in order."""
        ...


class _SubtreeHashing(ABC):
    """Shared RFC 9162 proof construction on top of subtree hashes.

    Subclasses supply the hashes of perfect, aligned subtrees at or above `_cache_level`
    (leaves [i * 2**level, (i + 1) * 2**level)) and raw leaf hashes for anything smaller.
    Because the log is append-only, such a subtree's hash never changes once it is complete.
    """

    _cache_level: int

    @abstractmethod
    def _perfect(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of 2**level leaves starting at index * 2**level."""

    @abstractmethod
    def _leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes [start, end)."""

    def _check_available(self, size: int) -> None:  # noqa: B027 - a hook: only some sources know their size
        """Raise ValueError if fewer than `size` leaves are known (when that is knowable)."""

    def _range_hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start & (n - 1) == 0:
            level = n.bit_length() - 1
            if level >= self._cache_level:
                return self._perfect(level, start >> level)
            return _mth(self._leaves(start, end))
        if n < 1 << self._cache_level:
            return _mth(self._leaves(start, end))
        k = _split(n)
        return _hc(self._range_hash(start, start + k), self._range_hash(start + k, end))

    def subtree_hash(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]), the RFC 9162 hash of the leaves start <= i < end.

        Ranges that occur inside the tree (start a multiple of a power of two >= end - start)
        cost O(log n) lookups of perfect-subtree hashes; any other range is also correct but
        may need more leaf hashes.
        """
        if not (_is_int(start) and _is_int(end)) or not 0 <= start <= end:
            raise ValueError(f"invalid leaf range [{start!r}, {end!r})")
        self._check_available(end)
        return self._range_hash(start, end)

    def root(self, size: int) -> bytes:
        """Return the root hash of the tree made of the first `size` leaves."""
        return self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of `size`."""
        if not (_is_int(index) and _is_int(size)) or not 0 <= index < size:
            raise ValueError(f"need 0 <= index < size, got index={index!r} size={size!r}")
        self._check_available(size)
        # PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1, unrolled; hashes are collected root-first.
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Return the RFC 9162 consistency proof between the trees of `old_size` and `new_size`.

        Requires 0 < old_size <= new_size; the proof for equal sizes is empty. A proof from the
        empty tree is refused, exactly as `verify_consistency` refuses to check one.
        """
        if not (_is_int(old_size) and _is_int(new_size)) or not 0 <= old_size <= new_size:
            raise ValueError(f"need 0 <= old_size <= new_size, got {old_size!r}, {new_size!r}")
        if old_size == 0:
            raise ValueError("a consistency proof from the empty tree is meaningless")
        self._check_available(new_size)
        if old_size == new_size:
            return []
        # SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1, unrolled; collected root-first.
        path: list[bytes] = []
        lo, hi, m, whole_old_tree = 0, new_size, old_size, True
        while True:
            n = hi - lo
            if m == n:
                if not whole_old_tree:
                    path.append(self._range_hash(lo, hi))
                break
            k = _split(n)
            if m <= k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
                m -= k
                whole_old_tree = False
        path.reverse()
        return path


class SubtreeHasher(_SubtreeHashing):
    """Subtree hashes and proofs over a TreeStore (or a plain sequence of leaf hashes).

    Hashes of complete, aligned power-of-two subtrees of 2**cache_level leaves or more are
    memoised forever: in an append-only log they never change. Smaller subtrees are hashed from
    one `get_leaf_hashes` call each. After the first proof, a proof for any size costs
    O(log n) dictionary lookups plus at most a few chunks of leaves. The memo holds about
    2 * n / 2**cache_level hashes for n leaves. The store must be append-only; a store whose
    history changes would keep serving memoised hashes of the old history.
    """

    def __init__(self, store: TreeStore | Sequence[bytes], *, cache_level: int = 8) -> None:
        if not _is_int(cache_level) or not 0 <= cache_level <= 32:
            raise ValueError("cache_level must be an int in [0, 32]")
        self._store = store
        self._cache_level = cache_level
        self._memo: dict[tuple[int, int], bytes] = {}
        self._sequence = not hasattr(store, "get_leaf_hashes")

    def _check_available(self, size: int) -> None:
        if self._sequence and size > len(self._store):  # type: ignore[arg-type]
            raise ValueError(f"only {len(self._store)} leaf hashes are available, need {size}")  # type: ignore[arg-type]

    def _leaves(self, start: int, end: int) -> list[bytes]:
        if self._sequence:
            got = self._store[start:end]  # type: ignore[index]
        else:
            got = self._store.get_leaf_hashes(start, end)  # type: ignore[union-attr]
        hashes = _check_hashes(got, f"leaf hashes [{start}, {end})")
        if len(hashes) != end - start:
            raise ValueError(f"store returned {len(hashes)} leaf hashes for [{start}, {end})")
        return hashes

    def _perfect(self, level: int, index: int) -> bytes:
        key = (level, index)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        if level == self._cache_level:
            value = _mth(self._leaves(index << level, (index + 1) << level))
        else:
            value = _hc(self._perfect(level - 1, 2 * index), self._perfect(level - 1, 2 * index + 1))
        self._memo[key] = value
        return value


class MemoryTree(_SubtreeHashing):
    """An in-memory append-only tree that keeps its perfect-subtree hashes up to date.

    Every complete aligned subtree of 2**cache_level leaves or more is hashed once, as soon as
    it is complete (amortised O(1) hashes per append), so roots and proofs for any earlier
    size cost O(log n) lookups plus hashing fewer than 2**cache_level leaves per level below.
    Leaf hash objects are shared with the caller, not copied. It also satisfies TreeStore.
    Not thread-safe: serialise appends with reads.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = (), *, cache_level: int = 4) -> None:
        if not _is_int(cache_level) or not 0 <= cache_level <= 32:
            raise ValueError("cache_level must be an int in [0, 32]")
        self._cache_level = cache_level
        self._chunk_mask = (1 << cache_level) - 1
        self._leaf_list: list[bytes] = []
        # _levels[j] holds the hashes of the complete subtrees at height cache_level + j.
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return len(self._leaf_list)

    def __len__(self) -> int:
        return len(self._leaf_list)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes)."""
        self._leaf_list.append(_check_hash(leaf_hash, "leaf hash"))
        if len(self._leaf_list) & self._chunk_mask == 0:
            self._sync()

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes at once (faster than repeated append)."""
        self._leaf_list.extend(_check_hashes(leaf_hashes, "leaf_hashes"))
        self._sync()

    def _sync(self) -> None:
        c = self._cache_level
        base = self._levels[0]
        first, stop = len(base), len(self._leaf_list) >> c
        if first < stop:
            # Hash the newly completed chunks of 2**c leaves level by level, in bulk.
            level = self._leaf_list[first << c : stop << c]
            for _ in range(c):
                pairs = iter(level)
                level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs)]
            base.extend(level)
        j = 0
        while len(self._levels[j]) >= 2:
            lower = self._levels[j]
            if j + 1 == len(self._levels):
                self._levels.append([])
            upper = self._levels[j + 1]
            stop = len(lower) // 2
            if len(upper) < stop:
                upper.extend([_hc(lower[2 * i], lower[2 * i + 1]) for i in range(len(upper), stop)])
            j += 1

    def _check_available(self, size: int) -> None:
        if size > len(self._leaf_list):
            raise ValueError(f"the tree has {len(self._leaf_list)} leaves, need {size}")

    def _leaves(self, start: int, end: int) -> list[bytes]:
        return self._leaf_list[start:end]

    def _perfect(self, level: int, index: int) -> bytes:
        return self._levels[level - self._cache_level][index]

    def get_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Return the leaf hashes start <= i < end (TreeStore)."""
        if not (_is_int(start) and _is_int(end)) or not 0 <= start <= end <= self.size:
            raise ValueError(f"invalid leaf range [{start!r}, {end!r}) for size {self.size}")
        return self._leaf_list[start:end]

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash of the first `size` leaves (default: all of them)."""
        return super().root(self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf `index` in the tree of `size` (default: current)."""
        return super().inclusion_proof(index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof from `old_size` to `new_size` (default: current)."""
        return super().consistency_proof(old_size, self.size if new_size is None else new_size)


def _hasher_for(source: object) -> _SubtreeHashing:
    if isinstance(source, _SubtreeHashing):
        return source
    return SubtreeHasher(source)  # type: ignore[arg-type]


def inclusion_proof(
    leaf_hashes: Sequence[bytes] | TreeStore | SubtreeHasher | MemoryTree, index: int, size: int
) -> list[bytes]:
    """Return the RFC 9162 inclusion proof for leaf `index` in the tree of the first `size` leaves.

    `leaf_hashes` may be a sequence of leaf hashes, a TreeStore, or a SubtreeHasher/MemoryTree
    (reuse one of those for repeated proofs over a large tree). Raises ValueError on bad input.
    """
    return _hasher_for(leaf_hashes).inclusion_proof(index, size)


def consistency_proof(
    leaf_hashes: Sequence[bytes] | TreeStore | SubtreeHasher | MemoryTree,
    old_size: int,
    new_size: int,
) -> list[bytes]:
    """Return the RFC 9162 consistency proof between tree sizes 0 < old_size <= new_size."""
    return _hasher_for(leaf_hashes).consistency_proof(old_size, new_size)


# --------------------------------------------------------------------------- incremental root


class MerkleAccumulator:
    """Append-only accumulator of the compact range [0, size): the current root in O(log n) memory.

    It keeps one hash per set bit of `size`: the roots of the perfect subtrees that make up the
    tree, largest (leftmost) first. `size` and `peaks` are the whole state; persist them and
    resume with `from_state`.
    """

    __slots__ = ("_size", "_peaks")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, peaks: Sequence[bytes]) -> MerkleAccumulator:
        """Rebuild an accumulator from a saved (size, peaks) pair."""
        if not _is_int(size) or not 0 <= size <= MAX_TREE_SIZE:
            raise ValueError(f"invalid size {size!r}")
        hashes = _check_hashes(peaks, "peaks")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} peaks, got {len(hashes)}")
        acc = cls()
        acc._size = size
        acc._peaks = hashes
        return acc

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees covering [0, size), left to right."""
        return tuple(self._peaks)

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes)."""
        h = _check_hash(leaf_hash, "leaf hash")
        peaks = self._peaks
        s = self._size
        while s & 1:
            h = _hc(peaks.pop(), h)
            s >>= 1
        peaks.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each of the given leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        h = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            h = _hc(peak, h)
        return h

    def copy(self) -> MerkleAccumulator:
        """Return an independent copy."""
        return MerkleAccumulator.from_state(self._size, self._peaks)


CompactRange = MerkleAccumulator
"""Alias: the accumulator is the compact range [0, size) of transparency-dev/merkle."""


# --------------------------------------------------------------------------- verification


def _size_arg(value: object, what: str) -> int:
    if not _is_int(value) or not 0 <= value <= MAX_TREE_SIZE:  # type: ignore[operator]
        raise ProofError(f"{what} must be an integer in [0, 2**64), got {value!r}")
    return value  # type: ignore[return-value]


def _bytes_arg(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    raise ProofError(f"{what} must be bytes, not {type(value).__name__}")


def _proof_arg(proof: object) -> list[bytes]:
    if not isinstance(proof, (list, tuple)):
        raise ProofError(f"proof must be a list of hashes, not {type(proof).__name__}")
    path = []
    for i, item in enumerate(proof):
        if not isinstance(item, (bytes, bytearray)) or len(item) != HASH_SIZE:
            got = len(item) if isinstance(item, (bytes, bytearray)) else type(item).__name__
            raise ProofError(f"proof[{i}] is not a {HASH_SIZE}-byte hash (got {got})")
        path.append(bytes(item))
    return path


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2; raise ProofError if invalid.

    Malformed input (index >= size, a leaf hash or proof hash that is not 32 bytes, a proof of
    the wrong length) is rejected before any hashing. The root is compared byte for byte, so a
    root of the wrong length never matches.
    """
    index = _size_arg(index, "index")
    size = _size_arg(size, "size")
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    leaf = _bytes_arg(leaf_hash, "leaf hash")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf)} bytes, want {HASH_SIZE}")
    expected_root = _bytes_arg(root, "root")
    path = _proof_arg(proof)
    want = _inclusion_proof_length(index, size)
    if len(path) != want:
        raise ProofError(f"wrong proof size {len(path)}, want {want}")

    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = _hc(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _hc(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if r != expected_root:
        raise ProofError("calculated root does not match the expected root")


def verify_subtree_inclusion(
    leaf_hash: bytes, index: int, start: int, end: int, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    """Check inclusion of leaf `index` in the subtree [start, end) with the given subtree root.

    The subtree must be one that occurs inside RFC 9162 trees: start < end and start a multiple
    of the smallest power of two >= end - start. Such a subtree hashes like a standalone tree
    of end - start leaves, so the proof is an ordinary inclusion proof for index - start.
    """
    index = _size_arg(index, "index")
    start = _size_arg(start, "start")
    end = _size_arg(end, "end")
    if start >= end:
        raise ProofError(f"subtree [{start}, {end}) is empty or reversed")
    width = end - start
    if start % (1 << (width - 1).bit_length()):
        raise ProofError(f"subtree [{start}, {end}) is not aligned to its size")
    if not start <= index < end:
        raise ProofError(f"index {index} is outside subtree [{start}, {end})")
    verify_inclusion(leaf_hash, index - start, width, proof, subtree_root)


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check a consistency proof with the algorithm of RFC 9162 §2.1.4.2; raise ProofError if invalid.

    RFC 9162 specifies the check for 0 < old_size < new_size. For the other cases this follows
    transparency-dev/merkle (whose test vectors it passes): equal sizes need an empty proof and
    identical roots; old_size == 0 is always rejected, even with an empty proof, because nothing
    can be proven about the empty tree. A protocol that treats "old size 0, empty proof" as
    trivially consistent (C2SP tlog-witness does) must handle that case before calling this.
    """
    old_size = _size_arg(old_size, "old size")
    new_size = _size_arg(new_size, "new size")
    first = _bytes_arg(old_root, "old root")
    second = _bytes_arg(new_root, "new root")
    path = _proof_arg(proof)
    if new_size < old_size:
        raise ProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if path:
            raise ProofError("sizes are equal but the proof is not empty")
        if first != second:
            raise ProofError("sizes are equal but the roots differ")
        return
    if not path:
        raise ProofError("empty proof")
    want = _consistency_proof_length(old_size, new_size)
    if len(path) != want:
        raise ProofError(f"wrong proof size {len(path)}, want {want}")

    if old_size & (old_size - 1) == 0:
        path.insert(0, first)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = _hc(c, fr)
            sr = _hc(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _hc(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if fr != first:
        raise ProofError("calculated old root does not match the expected old root")
    if sr != second:
        raise ProofError("calculated new root does not match the expected new root")
