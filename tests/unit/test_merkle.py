"""RFC 6962 Merkle tree: published vectors, proofs for every leaf and size, and the pitfalls that
real implementations shipped (../shared/audit-log-notes.md), one test each."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.merkle import (
    EMPTY_ROOT, CompactRange, MemoryNodeStore, ProofError, consistency_proof, inclusion_proof, leaf_hash,
    node_hash, root_at, root_from_leaf_hashes, verify_consistency, verify_inclusion,
)

# RFC 6962 test leaves (as in transparency-dev/merkle and Trillian's testonly/constants.go).
LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"]]
ROOT_PREFIXES = ["6e340b9c", "fac54203", "aeb6bcfe", "d37ee418", "4e3bbb1f", "76e67dad", "ddb89be4", "5dc9da79"]


def build(n: int) -> tuple[MemoryNodeStore, CompactRange, list[bytes]]:
    store, tree = MemoryNodeStore(), CompactRange()
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    for h in hashes:
        store.put_many(tree.append(h))
    return store, tree, hashes


def test_rfc6962_roots_for_sizes_1_to_8() -> None:
    hashes = [leaf_hash(d) for d in LEAVES]
    for size, prefix in enumerate(ROOT_PREFIXES, start=1):
        assert root_from_leaf_hashes(hashes[:size]).hex().startswith(prefix)


def test_hash_vectors_and_empty_root() -> None:
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_at(0, MemoryNodeStore()) == CompactRange().root()


def test_rfc6962_inclusion_and_consistency_over_the_vector_leaves() -> None:
    store, tree = MemoryNodeStore(), CompactRange()
    hashes = [leaf_hash(d) for d in LEAVES]
    for size, h in enumerate(hashes, start=1):
        store.put_many(tree.append(h))
        assert tree.root() == root_at(size, store) == root_from_leaf_hashes(hashes[:size])
    # RFC 6962 §2.1.3 example: the inclusion path of d0 in the 7-leaf tree is [b, h, l].
    assert len(inclusion_proof(0, 7, store)) == 3
    assert len(consistency_proof(3, 7, store)) == 4  # §2.1.3: PROOF(3, D[7]) = [c, d, g, l]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300))
def test_every_inclusion_proof_verifies_and_compact_range_matches_reference(size: int) -> None:
    store, tree, hashes = build(size)
    root = tree.root()
    assert root == root_from_leaf_hashes(hashes) == root_at(size, store)
    for index in range(size):
        verify_inclusion(hashes[index], index, size, inclusion_proof(index, size, store), root)


@settings(max_examples=60, deadline=None)
@given(size2=st.integers(1, 200), data=st.data())
def test_consistency_proofs_verify_for_every_earlier_size(size2: int, data) -> None:  # noqa: ANN001
    store, tree, _ = build(size2)
    for size1 in range(0, size2 + 1):
        verify_consistency(size1, size2, consistency_proof(size1, size2, store), root_at(size1, store), tree.root())


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(2, 120), data=st.data())
def test_any_flipped_bit_fails_inclusion(size: int, data) -> None:  # noqa: ANN001
    store, tree, hashes = build(size)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, store)
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.sampled_from(["leaf", "root"] + [f"p{i}" for i in range(len(proof))]))
    leaf, root = hashes[index], tree.root()
    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        root = _flip(root, bit)
    else:
        proof[int(target[1:])] = _flip(proof[int(target[1:])], bit)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root)


@settings(max_examples=200, deadline=None)
@given(size2=st.integers(3, 120), data=st.data())
def test_any_flipped_bit_fails_consistency(size2: int, data) -> None:  # noqa: ANN001
    store, tree, _ = build(size2)
    size1 = data.draw(st.integers(1, size2 - 1))
    proof = consistency_proof(size1, size2, store)
    root1, root2 = root_at(size1, store), tree.root()
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.sampled_from(["root1", "root2"] + [f"p{i}" for i in range(len(proof))]))
    if target == "root1":
        root1 = _flip(root1, bit)
    elif target == "root2":
        root2 = _flip(root2, bit)
    else:
        proof[int(target[1:])] = _flip(proof[int(target[1:])], bit)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, root2)


@settings(max_examples=100, deadline=None)
@given(size=st.integers(2, 100), data=st.data())
def test_inclusion_proof_does_not_verify_for_another_index(size: int, data) -> None:  # noqa: ANN001
    store, tree, hashes = build(size)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, store)
    other_index = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], other_index, size, proof, tree.root())


def test_proofs_bind_sizes_only_through_the_signed_checkpoint() -> None:
    # Pitfalls 1 and 2: a proof's shape is shared by neighbouring tree sizes, so the algorithms
    # alone accept it for those sizes too. The size and root must come from one signed
    # checkpoint (crypto.witness, crypto.audit_bundle do that); with the checkpoint's root for the
    # claimed size, the proof fails.
    store, tree, hashes = build(64)
    proof = inclusion_proof(0, 17, store)
    verify_inclusion(hashes[0], 0, 18, proof, root_at(17, store))  # same shape, wrong size: passes
    with pytest.raises(ProofError):
        verify_inclusion(hashes[0], 0, 18, proof, root_at(18, store))
    cproof = consistency_proof(5, 40, store)
    verify_consistency(5, 41, cproof, root_at(5, store), root_at(40, store))
    with pytest.raises(ProofError):
        verify_consistency(5, 41, cproof, root_at(5, store), root_at(41, store))
    for size1 in (3, 4, 6, 7):  # other first sizes change the shape: refused by length or sn == 0
        with pytest.raises(ProofError):
            verify_consistency(size1, 40, cproof, root_at(size1, store), root_at(40, store))


def test_empty_consistency_path_fails_between_different_sizes() -> None:
    # Pitfall 3: 0 < first < second needs a non-empty proof; first == second needs an empty one.
    store, tree, _ = build(8)
    with pytest.raises(ProofError) as caught:
        verify_consistency(4, 8, [], root_at(4, store), tree.root())
    assert caught.value.reason == "empty_proof"
    verify_consistency(8, 8, [], tree.root(), tree.root())
    with pytest.raises(ProofError):
        verify_consistency(8, 8, [tree.root()], tree.root(), tree.root())
    with pytest.raises(ProofError):
        verify_consistency(8, 8, [], tree.root(), root_at(4, store))
    verify_consistency(0, 8, [], EMPTY_ROOT, tree.root())
    with pytest.raises(ProofError):
        verify_consistency(0, 8, [tree.root()], EMPTY_ROOT, tree.root())


def test_hashes_must_be_exactly_32_bytes() -> None:
    # Pitfall 4.
    store, tree, hashes = build(8)
    proof = inclusion_proof(3, 8, store)
    for bad in (hashes[3] + b"\x00", hashes[3][:31]):
        with pytest.raises(ProofError) as caught:
            verify_inclusion(bad, 3, 8, proof, tree.root())
        assert caught.value.reason == "bad_hash_size"
    with pytest.raises(ProofError):
        verify_inclusion(hashes[3], 3, 8, [*proof[:-1], proof[-1] + b"x"], tree.root())


def test_trailing_garbage_in_a_proof_fails() -> None:
    store, tree, hashes = build(10)
    proof = inclusion_proof(7, 10, store)
    with pytest.raises(ProofError) as caught:
        verify_inclusion(hashes[7], 7, 10, [*proof, proof[0]], tree.root())
    assert caught.value.reason == "bad_length"
    cproof = consistency_proof(3, 10, store)
    with pytest.raises(ProofError):
        verify_consistency(3, 10, [*cproof, cproof[0]], root_at(3, store), tree.root())


def test_index_outside_the_tree_is_refused() -> None:
    store, tree, hashes = build(4)
    with pytest.raises(ProofError):
        inclusion_proof(4, 4, store)
    with pytest.raises(ProofError) as caught:
        verify_inclusion(hashes[0], 4, 4, [], tree.root())
    assert caught.value.reason == "bad_index"


def test_resumed_compact_range_continues_with_the_same_roots() -> None:
    store, tree, _ = build(1000)
    for size in (1, 2, 3, 7, 8, 500, 999, 1000):
        resumed = CompactRange.resume(size, store)
        assert resumed.root() == root_at(size, store)
    resumed = CompactRange.resume(1000, store)
    extra = leaf_hash(b"next")
    assert resumed.append(extra) == tree.append(extra)
    assert resumed.root() == tree.root()


def test_a_100000_entry_tree_proves_inclusion_and_consistency() -> None:
    store, tree, hashes = build(100_000)
    root = tree.root()
    for index in range(0, 100_000, 997):
        verify_inclusion(hashes[index], index, 100_000, inclusion_proof(index, 100_000, store), root)
    for size1 in (1, 2, 1023, 1024, 65_537, 99_999):
        verify_consistency(size1, 100_000, consistency_proof(size1, 100_000, store), root_at(size1, store), root)


def test_a_proof_reads_few_nodes_in_one_batch() -> None:
    store, _, _ = build(5000)

    class Counting:
        calls: list[int] = []

        def get_nodes(self, ids):  # noqa: ANN001, ANN202
            self.calls.append(len(ids))
            return store.get_nodes(ids)

    counting = Counting()
    inclusion_proof(1234, 5000, counting)
    consistency_proof(777, 5000, counting)
    assert len(counting.calls) == 2 and max(counting.calls) <= 2 * 13
