"""RFC 6962 / RFC 9162 Merkle tree: hashing, incremental append, proofs computed from stored
perfect subtrees, and verification that raises ProofError instead of returning a boolean."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index)
PerfectNode = tuple[int, int, bytes]  # (level, index, hash)


class ProofError(ValueError):
    """A leaf, root or proof that does not verify. `reason` is one of:

    bad_hash_size  a leaf hash, root or proof element that is not exactly 32 bytes
    bad_index      an inclusion index outside [0, size), or not an integer
    bad_size       a negative or non-integer size, or a consistency proof from a larger tree
    empty_proof    0 < size1 < size2 and the consistency proof is empty
    bad_length     a proof longer or shorter than the path its sizes call for
    root_mismatch  the proof leads to another root than the one given
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """k(n): the largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- node storage ----------------------------------------------------------------------------------
# The node at (level L, index i) is the root of the perfect subtree over leaves [i·2^L, (i+1)·2^L);
# level 0 holds the leaf hashes. Appends create exactly these immutable nodes, and a tree of any
# size is a short list of them (one per set bit of the size), so every root and proof is computed
# from O(log n) stored nodes, fetched in one `get_nodes` batch.


class NodeReader(Protocol):
    """Batch lookup of stored perfect nodes, in the order asked; raises LookupError if one is missing."""

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]: ...


class MemoryNodeStore:
    """A dict of perfect nodes: tests, benchmarks and offline verifiers."""

    def __init__(self) -> None:
        self._nodes: dict[NodeId, bytes] = {}

    def put(self, level: int, index: int, value: bytes) -> None:
        self._nodes[(level, index)] = value

    def put_many(self, nodes: Sequence[PerfectNode]) -> None:
        for level, index, value in nodes:
            self._nodes[(level, index)] = value

    def get_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        try:
            return [self._nodes[i] for i in ids]
        except KeyError as exc:
            raise LookupError(f"no stored tree node {exc.args[0]}") from None

    def __len__(self) -> int:
        return len(self._nodes)


# -- reference -------------------------------------------------------------------------------------


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1, recursively, over every leaf hash: O(n), for tests and offline checks."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaf_hashes(leaves[:k]), root_from_leaf_hashes(leaves[k:]))


# -- ranges of leaves as perfect subtrees ----------------------------------------------------------


def _range_ids(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees that tile leaves [start, end), left to right.

    Each is the largest subtree aligned at `start` that fits, so their sizes never grow to the
    right: exactly RFC 6962's left-heavy split, which is why `_fold` can hash them right to left.
    """
    ids: list[NodeId] = []
    while start < end:
        fits = (end - start).bit_length() - 1
        level = min(fits, (start & -start).bit_length() - 1) if start else fits
        ids.append((level, start >> level))
        start += 1 << level
    return ids


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees (the ephemeral nodes of a right border)."""
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value


def _resolve(ranges: Sequence[tuple[int, int]], store: NodeReader) -> list[bytes]:
    """The MTH of each leaf range, from one batch of stored nodes."""
    plan = [_range_ids(a, b) for a, b in ranges]
    wanted = sorted({i for ids in plan for i in ids})
    if not wanted:
        return []
    fetched = dict(zip(wanted, store.get_nodes(wanted), strict=True))
    return [_fold([fetched[i] for i in ids]) for ids in plan]


def border_ids(size: int) -> list[NodeId]:
    """The stored nodes a tree of `size` leaves is made of, largest first: what a restart reads."""
    return _range_ids(0, size)


def root_at(size: int, store: NodeReader) -> bytes:
    """MTH of the first `size` leaves, from their border nodes."""
    _check_size(size, "size")
    return _resolve([(0, size)], store)[0] if size else EMPTY_ROOT


# -- incremental append ----------------------------------------------------------------------------


class CompactRange:
    """The right border of a growing tree: one perfect-subtree root per set bit of the size."""

    def __init__(self, size: int = 0, border: Sequence[bytes] = ()) -> None:
        """Resume at `size` from the hashes of `border_ids(size)`, in that order."""
        _check_size(size, "size")
        if len(border) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} border nodes, not {len(border)}")
        for i, value in enumerate(border):
            _check_hash(value, f"border[{i}]")
        self.size = size
        self._stack = [bytes(b) for b in border]

    @classmethod
    def resume(cls, size: int, store: NodeReader) -> CompactRange:
        return cls(size, store.get_nodes(border_ids(size)) if size else [])

    @property
    def border(self) -> tuple[bytes, ...]:
        return tuple(self._stack)

    def copy(self) -> CompactRange:
        """An independent range to append to tentatively (e.g. until a batch commits)."""
        return CompactRange(self.size, self._stack)

    def append(self, leaf_hash: bytes) -> list[PerfectNode]:
        """Add a leaf hash; return the perfect nodes this completes, the leaf first, to persist."""
        _check_hash(leaf_hash, "leaf hash")
        n = self.size
        created: list[PerfectNode] = [(0, n, leaf_hash)]
        self._stack.append(leaf_hash)
        level = 0
        while (n >> level) & 1:  # each trailing one bit of the old size closes a subtree
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


# -- proofs (RFC 6962 §2.1.1 PATH, §2.1.2 PROOF) ---------------------------------------------------


def inclusion_proof(index: int, size: int, store: NodeReader) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves, bottom up."""
    _check_size(size, "size")
    _check_index(index, size)
    ranges: list[tuple[int, int]] = []  # sibling ranges, top down
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, n, m = start + k, n - k, m - k
    return _resolve(ranges[::-1], store)


def consistency_proof(size1: int, size2: int, store: NodeReader) -> list[bytes]:
    """The RFC 6962 consistency proof that the first `size2` leaves extend the first `size1`."""
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 > size2:
        raise ProofError("bad_size", f"no consistency proof from {size1} down to {size2}")
    if size1 == 0 or size1 == size2:
        return []
    ranges: list[tuple[int, int]] = []  # top down
    start, n, m, complete = 0, size2, size1, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, n, m, complete = start + k, n - k, m - k, False
    if not complete:  # the old tree's last subtree is not itself a node of the old tree's root
        ranges.append((start, start + n))
    return _resolve(ranges[::-1], store)


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ----------------------------------------------------


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError("bad_hash_size", f"{what} is not a {HASH_SIZE}-byte hash ({size})")


def _check_size(size: object, what: str) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProofError("bad_size", f"{what} {size!r} is not a tree size")


def _check_index(index: object, size: int) -> None:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
        raise ProofError("bad_index", f"index {index!r} is outside a tree of {size} leaves")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """An inclusion path's inner length (below the right border) and border length."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Return if `proof` puts `leaf_hash` at `index` of the tree (`size`, `root`); else ProofError.

    `size` and `root` must come from one verified signed checkpoint: neighbouring sizes share path
    shapes, so the same proof also "verifies" for them against this root.
    """
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    _check_size(size, "size")
    _check_index(index, size)
    expected = sum(_decompose(index, size))
    if len(proof) != expected:
        raise ProofError("bad_length", f"proof has {len(proof)} hashes, the path has {expected}")
    if _root_from_inclusion_path(leaf_hash, index, size, proof) != root:
        raise ProofError("root_mismatch", "the proof leads to another root")


def _root_from_inclusion_path(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 2-5, literally, including the final sn == 0 check."""
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise ProofError("bad_length", "the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right border a subtree may have no right sibling for several levels: skip them.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("bad_length", "the proof is shorter than the path to the root")
    return r


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Return if the tree (`size2`, `root2`) extends the tree (`size1`, `root1`); else ProofError.

    As for inclusion, both sizes and roots must come from verified signed checkpoints.
    """
    _check_hash(root1, "first root")
    _check_hash(root2, "second root")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 > size2:
        raise ProofError("bad_size", f"a tree of {size2} leaves cannot extend one of {size1}")
    if size1 == size2:
        if proof:
            raise ProofError("bad_length", "a tree is consistent with itself by an empty proof only")
        if root1 != root2:
            raise ProofError("root_mismatch", f"two different roots for the same size {size1}")
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise ProofError("root_mismatch", "the empty tree's root is SHA-256 of the empty string")
        return
    if size1 == 0:
        if proof:
            raise ProofError("bad_length", "every tree extends the empty tree by an empty proof only")
        if root1 != EMPTY_ROOT:
            raise ProofError("root_mismatch", "the empty tree's root is SHA-256 of the empty string")
        return
    if not proof:
        raise ProofError("empty_proof", f"a proof from {size1} to {size2} leaves cannot be empty")
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # levels of the old tree's last perfect subtree
    seeded = size1 == 1 << shift  # the old root itself starts the path, so the proof omits it
    expected = (0 if seeded else 1) + inner - shift + border
    if len(proof) != expected:
        raise ProofError("bad_length", f"proof has {len(proof)} hashes, the path has {expected}")
    first, second = _roots_from_consistency_path(size1, size2, proof, root1)
    if first != root1:
        raise ProofError("root_mismatch", "the proof does not lead to the first root")
    if second != root2:
        raise ProofError("root_mismatch", "the proof does not lead to the second root")


def _roots_from_consistency_path(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 1-7, literally, including the final sn == 0 check."""
    if not proof:
        raise ProofError("empty_proof", f"a proof from {size1} to {size2} leaves cannot be empty")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("bad_length", "the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("bad_length", "the proof is shorter than the path to the root")
    return fr, sr
