"""RFC 6962 / RFC 9162 Merkle tree: hashing, incremental append, proofs, and their verification.

Storage model: perfect subtrees are addressed by (level, index) — the node at level L, index i is
the root of leaves [i·2^L, (i+1)·2^L). Appends produce exactly these immutable nodes; every
proof and root is computed from them, fetched in one batch, so a proof touches O(log n) nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32

NodeId = tuple[int, int]


class ProofError(ValueError):
    """A proof, root or leaf that does not verify; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k: the largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeReader(Protocol):
    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]: ...


class MemoryNodeStore:
    def __init__(self) -> None:
        self._nodes: dict[NodeId, bytes] = {}

    def put(self, level: int, index: int, value: bytes) -> None:
        self._nodes[(level, index)] = value

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            self._nodes[(level, index)] = value

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        return [self._nodes[i] for i in ids]


# -- reference -----------------------------------------------------------------------------------

def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1 over leaf hashes (recursive reference; O(n))."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaf_hashes(leaves[:k]), root_from_leaf_hashes(leaves[k:]))


# -- ranges as perfect subtrees --------------------------------------------------------------------

def _range_ids(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees that make up [start, end), left to right (descending sizes)."""
    ids = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        ids.append((level, start >> level))
        start += 1 << level
    return ids


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees (RFC 6962's split puts the big ones left)."""
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value


def _resolve(ranges: list[tuple[int, int]], store: NodeReader) -> list[bytes]:
    plan = [_range_ids(a, b) for a, b in ranges]
    wanted = sorted({i for ids in plan for i in ids})
    fetched = dict(zip(wanted, store.get_nodes(wanted)))
    return [_fold([fetched[i] for i in ids]) for ids in plan]


def root_at(size: int, store: NodeReader) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _resolve([(0, size)], store)[0]


def border_ids(size: int) -> list[NodeId]:
    """The stored nodes a CompactRange of `size` leaves is made of (one per set bit)."""
    return _range_ids(0, size)


# -- incremental append ----------------------------------------------------------------------------

class CompactRange:
    """The right border of the tree: one perfect-subtree root per set bit of the size."""

    def __init__(self, size: int = 0, border: Sequence[bytes] = ()) -> None:
        if len(border) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} border nodes, not {len(border)}")
        self.size = size
        self._stack = list(border)

    @classmethod
    def resume(cls, size: int, store: NodeReader) -> CompactRange:
        return cls(size, store.get_nodes(border_ids(size)) if size else [])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the new perfect nodes (level, index, hash), the leaf included."""
        n = self.size
        created = [(0, n, leaf)]
        self._stack.append(leaf)
        level = 0
        while (n >> level) & 1:
            right = self._stack.pop()
            left = self._stack.pop()
            merged = node_hash(left, right)
            self._stack.append(merged)
            level += 1
            created.append((level, n >> level, merged))
        self.size = n + 1
        return created

    def root(self) -> bytes:
        return _fold(self._stack) if self._stack else EMPTY_ROOT


# -- proofs (RFC 6962 §2.1.1, §2.1.2) ------------------------------------------------------------

def inclusion_proof(index: int, size: int, store: NodeReader) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError("bad_index", f"index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, n, m = start + k, n - k, m - k
    return _resolve(list(reversed(ranges)), store)


def consistency_proof(size1: int, size2: int, store: NodeReader) -> list[bytes]:
    if not 0 <= size1 <= size2:
        raise ProofError("bad_size", f"no consistency proof from {size1} to {size2}")
    if size1 == 0 or size1 == size2:
        return []
    ranges: list[tuple[int, int]] = []
    start, n, m, complete = 0, size2, size1, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, n, m, complete = start + k, n - k, m - k, False
    if not complete:
        ranges.append((start, start + n))
    return _resolve(list(reversed(ranges)), store)


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ------------------------------------------------------

def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        raise ProofError("bad_hash_size", f"{what} is not a {HASH_SIZE}-byte hash")


def _inclusion_length(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    return inner, bin(index >> inner).count("1")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree (`size`, `root`)."""
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    if not 0 <= index < size:
        raise ProofError("bad_index", f"index {index} is outside a tree of size {size}")
    inner, border = _inclusion_length(index, size)
    if len(proof) != inner + border:
        raise ProofError("bad_length", f"proof has {len(proof)} hashes, expected {inner + border}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("bad_length", "proof is longer than the path")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("bad_length", "proof is shorter than the path")
    if r != root:
        raise ProofError("root_mismatch", "the proof leads to another root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless the tree (size2, root2) extends the tree (size1, root1)."""
    _check_hash(root1, "first root")
    _check_hash(root2, "second root")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    if size1 < 0 or size2 < size1:
        raise ProofError("bad_size", f"no consistency from {size1} to {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("bad_length", "equal sizes need an empty proof")
        if root1 != root2:
            raise ProofError("root_mismatch", "same size, different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("bad_length", "the empty tree needs an empty proof")
        if root1 != EMPTY_ROOT:
            raise ProofError("root_mismatch", "the empty tree's root is SHA-256 of nothing")
        return
    if not proof:
        raise ProofError("empty_proof", f"a proof from {size1} to {size2} cannot be empty")
    inner, border = _inclusion_length(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    start = 0 if size1 == 1 << shift else 1
    if len(proof) != start + inner + border:
        raise ProofError("bad_length", f"proof has {len(proof)} hashes, expected {start + inner + border}")
    path = list(proof)
    if size1 == 1 << shift:  # step 1: a power of two contributes its own root
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("bad_length", "proof is longer than the path")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("bad_length", "proof is shorter than the path")
    if fr != root1:
        raise ProofError("root_mismatch", "the proof does not lead to the first root")
    if sr != root2:
        raise ProofError("root_mismatch", "the proof does not lead to the second root")
