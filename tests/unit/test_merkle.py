"""RFC 6962 / 9162 Merkle tree: published vectors, properties over random trees, and one test per
pitfall of ../shared/audit-log-notes.md that concerns the tree itself."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import merkle
from crypto.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryNodeStore,
    ProofError,
    border_ids,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).parents[1] / "data" / "merkle" / "transparency-dev"

# RFC 6962 test leaves, as in Trillian merkle/testonly/constants.go and transparency-dev/merkle.
LEAF_INPUTS = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f"]]
# From the notes: the first bytes of the roots of sizes 1..8.
ROOT_PREFIXES = ["6e340b9c", "fac54203", "aeb6bcfe", "d37ee418", "4e3bbb1f", "76e67dad", "ddb89be4", "5dc9da79"]
# google/trillian merkle/testonly/constants.go, RootHashes() for sizes 1..8.
TRILLIAN_ROOTS = [bytes.fromhex(h) for h in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
# Trillian NodeHashes(): every perfect subtree of the 8-leaf tree, by level then index.
TRILLIAN_NODES = [[bytes.fromhex(h) for h in level] for level in [
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]]
# Trillian CompactTrees(): the border nodes of each size 0..8, as (level, index).
TRILLIAN_BORDERS = [[], [(0, 0)], [(1, 0)], [(1, 0), (0, 2)], [(2, 0)], [(2, 0), (0, 4)], [(2, 0), (1, 2)],
                    [(2, 0), (1, 2), (0, 6)], [(3, 0)]]
# transparency-dev/merkle proof/verify_test.go: inclusionProofs (leaf numbered from 1) and
# consistencyProofs, over the same 8 leaves. Hashes named by their Trillian node (level, index).
_N = {(lv, ix): h for lv, level in enumerate(TRILLIAN_NODES) for ix, h in enumerate(level)}
TD_INCLUSION = [(1, 1, []), (1, 8, [_N[0, 1], _N[1, 1], _N[2, 1]]), (6, 8, [_N[0, 4], _N[1, 3], _N[2, 0]]),
                (3, 3, [_N[1, 0]]), (2, 5, [_N[0, 0], _N[1, 1], _N[0, 4]])]
TD_CONSISTENCY = [(1, 1, []), (1, 8, [_N[0, 1], _N[1, 1], _N[2, 1]]), (6, 8, [_N[1, 2], _N[1, 3], _N[2, 0]]),
                  (2, 5, [_N[1, 1], _N[0, 4]]), (6, 7, [_N[1, 2], _N[0, 6], _N[2, 0]])]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")  # verify_test.go


def _grow(leaves: Sequence[bytes]) -> tuple[MemoryNodeStore, list[bytes]]:
    """A store holding a tree of these leaf hashes, and its root at every size 0..len(leaves)."""
    store, tree = MemoryNodeStore(), CompactRange()
    roots = [tree.root()]
    for h in leaves:
        store.put_many(tree.append(h))
        roots.append(tree.root())
    return store, roots


# One tree serves every size up to its own: a proof for size n reads only nodes inside [0, n).
HASHES = [leaf_hash(i.to_bytes(8, "big")) for i in range(1024)]
STORE, ROOTS = _grow(HASHES)
VECTOR_HASHES = [leaf_hash(d) for d in LEAF_INPUTS]
VECTOR_STORE, VECTOR_ROOTS = _grow(VECTOR_HASHES)


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _path_sides(index: int, size: int) -> list[str]:
    """Which side each sibling of RFC 6962 PATH(index, D[size]) is on, bottom up (independent of crypto.merkle)."""
    if size == 1:
        return []
    k = 1 << ((size - 1).bit_length() - 1)
    return [*_path_sides(index, k), "right"] if index < k else [*_path_sides(index - k, size - k), "left"]


sizes = st.integers(1, 1024)


# -- published vectors -----------------------------------------------------------------------------


def test_leaf_and_node_hashes_match_the_published_vectors() -> None:
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_the_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == root_at(0, MemoryNodeStore()) == CompactRange().root() == EMPTY_ROOT


def test_reference_roots_of_the_rfc6962_leaves_reproduce_the_published_values() -> None:
    hashes = [leaf_hash(d) for d in LEAF_INPUTS]
    for size in range(1, 9):
        root = root_from_leaf_hashes(hashes[:size])
        assert root.hex().startswith(ROOT_PREFIXES[size - 1])
        assert root == TRILLIAN_ROOTS[size - 1] == VECTOR_ROOTS[size] == root_at(size, VECTOR_STORE)


def test_appends_store_exactly_trillians_perfect_nodes_and_borders() -> None:
    ids = [(lv, ix) for lv, level in enumerate(TRILLIAN_NODES) for ix in range(len(level))]
    assert len(VECTOR_STORE) == len(ids) == 15
    assert VECTOR_STORE.get_nodes(ids) == [h for level in TRILLIAN_NODES for h in level]
    for size, border in enumerate(TRILLIAN_BORDERS):
        assert border_ids(size) == border


def test_rfc6962_section_2_1_3_example_paths_in_the_7_leaf_tree() -> None:
    # RFC 6962 names the 7-leaf tree's nodes a..j (leaves a-f, j), g h i (level 1), k l (level 2).
    _, b, c, d, _, f, j = VECTOR_HASHES[:7]
    g, h, i, k = _N[1, 0], _N[1, 1], _N[1, 2], _N[2, 0]
    l_ = node_hash(i, j)  # the RFC's "l"
    assert inclusion_proof(0, 7, VECTOR_STORE) == [b, h, l_]
    assert inclusion_proof(3, 7, VECTOR_STORE) == [c, g, l_]
    assert inclusion_proof(4, 7, VECTOR_STORE) == [f, j, k]
    assert inclusion_proof(6, 7, VECTOR_STORE) == [i, k]
    assert consistency_proof(3, 7, VECTOR_STORE) == [c, d, g, l_]
    assert consistency_proof(4, 7, VECTOR_STORE) == [l_]
    assert consistency_proof(6, 7, VECTOR_STORE) == [i, j, k]


@pytest.mark.parametrize(("leaf", "size", "proof"), TD_INCLUSION)
def test_published_inclusion_proofs_are_generated_and_verify(leaf: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(leaf - 1, size, VECTOR_STORE) == proof
    verify_inclusion(VECTOR_HASHES[leaf - 1], leaf - 1, size, proof, TRILLIAN_ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), TD_CONSISTENCY)
def test_published_consistency_proofs_are_generated_and_verify(size1: int, size2: int, proof: list[bytes]) -> None:
    assert consistency_proof(size1, size2, VECTOR_STORE) == proof
    verify_consistency(size1, size2, proof, TRILLIAN_ROOTS[size1 - 1], TRILLIAN_ROOTS[size2 - 1])


def _inclusion_probes(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes) -> list[tuple]:
    """verify_test.go corruptInclusionProof: (index, size, leaf, proof, root) that must all fail."""
    probes = [(index - 1, size, leaf, proof, root), (index + 1, size, leaf, proof, root),
              (index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
              (index, size // 2, leaf, proof, root), (index, size, b"WrongLeaf", proof, root),
              (index, size, leaf, proof, EMPTY_ROOT), (index, size, leaf, proof, SOME_HASH),
              (index, size, leaf, [*proof, b""], root), (index, size, leaf, [*proof, root], root),
              (index, size, leaf, [b"", *proof], root), (index, size, leaf, [root, *proof], root)]
    for i in range(len(proof)):
        probes.append((index, size, leaf, [*proof[:i], _flip(proof[i], 3), *proof[i + 1:]], root))
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    return probes


def _consistency_probes(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> list[tuple]:
    """verify_test.go corruptConsistencyProof: (size1, size2, proof, root1, root2) that must all fail."""
    probes = [(size1 - 1, size2, proof, root1, root2), (size1 + 1, size2, proof, root1, root2),
              (size1 ^ 2, size2, proof, root1, root2), (size1, size2 * 2, proof, root1, root2),
              (size1, size2 // 2, proof, root1, root2), (size1, size2, proof, b"WrongRoot", root2),
              (size1, size2, proof, root1, b"WrongRoot"), (size1, size2, proof, root2, root1),
              (size1, size2, [], root1, root2), (size1, size2, [*proof, b""], root1, root2),
              (size1, size2, [*proof, root1], root1, root2), (size1, size2, [*proof, root2], root1, root2),
              (size1, size2, [b"", *proof], root1, root2), (size1, size2, [root1, *proof], root1, root2),
              (size1, size2, [root2, *proof], root1, root2), (size1, size2, [proof[0], *proof], root1, root2),
              (size1, size2, proof[:-1], root1, root2)]
    for i in range(len(proof)):
        probes.append((size1, size2, [*proof[:i], _flip(proof[i], 4), *proof[i + 1:]], root1, root2))
    return probes


@pytest.mark.parametrize(("leaf", "size", "proof"), TD_INCLUSION)
def test_every_corruption_of_a_published_inclusion_proof_fails(leaf: int, size: int, proof: list[bytes]) -> None:
    for index, n, leaf_value, path, root in _inclusion_probes(leaf - 1, size, proof, TRILLIAN_ROOTS[size - 1],
                                                              VECTOR_HASHES[leaf - 1]):
        with pytest.raises(ProofError):
            verify_inclusion(leaf_value, index, n, path, root)


@pytest.mark.parametrize(("size1", "size2", "proof"), [v for v in TD_CONSISTENCY if v[2]])
def test_every_corruption_of_a_published_consistency_proof_fails(size1: int, size2: int, proof: list[bytes]) -> None:
    for m, n, path, root1, root2 in _consistency_probes(size1, size2, proof, TRILLIAN_ROOTS[size1 - 1],
                                                        TRILLIAN_ROOTS[size2 - 1]):
        with pytest.raises(ProofError):
            verify_consistency(m, n, path, root1, root2)


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize("path", sorted(DATA.glob("inclusion/*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_transparency_dev_inclusion_testdata(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], [_b64(p) for p in case["proof"]],
            _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", sorted(DATA.glob("consistency/*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_transparency_dev_consistency_testdata(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], [_b64(p) for p in case["proof"]], _b64(case["root1"]), _b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_the_testdata_files_are_all_there() -> None:
    assert len(list(DATA.glob("inclusion/1/*.json"))) == 18
    assert len(list(DATA.glob("consistency/2/*.json"))) == 21


def test_a_single_leaf_tree_has_the_leaf_as_root_and_an_empty_proof() -> None:
    # verify_test.go TestVerifyInclusionSingleEntry.
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_published_probes_without_a_tree_fail(index: int, size: int) -> None:
    # verify_test.go TestVerifyInclusion: no leaf, root and empty proof of these make a valid proof.
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [], root)


# -- properties ------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 400))
def test_every_inclusion_proof_verifies_for_every_leaf(size: int) -> None:
    for index in range(size):
        verify_inclusion(HASHES[index], index, size, inclusion_proof(index, size, STORE), ROOTS[size])


@settings(max_examples=40, deadline=None)
@given(size2=st.integers(0, 300))
def test_consistency_proofs_verify_for_every_earlier_size(size2: int) -> None:
    for size1 in range(size2 + 1):
        verify_consistency(size1, size2, consistency_proof(size1, size2, STORE), ROOTS[size1], ROOTS[size2])


def test_every_proof_in_every_tree_up_to_64_leaves_verifies() -> None:
    for size2 in range(65):
        for size1 in range(size2 + 1):
            verify_consistency(size1, size2, consistency_proof(size1, size2, STORE), ROOTS[size1], ROOTS[size2])
        for index in range(size2):
            verify_inclusion(HASHES[index], index, size2, inclusion_proof(index, size2, STORE), ROOTS[size2])


@settings(max_examples=300, deadline=None)
@given(size=sizes, data=st.data())
def test_any_flipped_bit_in_leaf_root_or_proof_fails_inclusion(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, STORE)
    leaf, root = HASHES[index], ROOTS[size]
    target = data.draw(st.sampled_from(["leaf", "root", *range(len(proof))]), label="target")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        root = _flip(root, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf, index, size, proof, root)
    assert caught.value.reason == "root_mismatch"


@settings(max_examples=300, deadline=None)
@given(size2=st.integers(2, 1024), data=st.data())
def test_any_flipped_bit_in_roots_or_proof_fails_consistency(size2: int, data: st.DataObject) -> None:
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    proof = consistency_proof(size1, size2, STORE)
    root1, root2 = ROOTS[size1], ROOTS[size2]
    target = data.draw(st.sampled_from(["root1", "root2", *range(len(proof))]), label="target")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == "root1":
        root1 = _flip(root1, bit)
    elif target == "root2":
        root2 = _flip(root2, bit)
    else:
        proof[target] = _flip(proof[target], bit)
    with pytest.raises(ProofError) as caught:
        verify_consistency(size1, size2, proof, root1, root2)
    assert caught.value.reason == "root_mismatch"


@settings(max_examples=200, deadline=None)
@given(size=st.integers(2, 1024), data=st.data())
def test_inclusion_proof_does_not_verify_for_another_index(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    proof = inclusion_proof(index, size, STORE)
    with pytest.raises(ProofError):
        verify_inclusion(HASHES[index], other, size, proof, ROOTS[size])
    with pytest.raises(ProofError):  # nor for another leaf at the same index
        verify_inclusion(HASHES[other], index, size, proof, ROOTS[size])


@settings(max_examples=200, deadline=None)
@given(size=sizes, data=st.data())
def test_inclusion_proof_does_not_verify_for_another_tree_size(size: int, data: st.DataObject) -> None:
    # Pitfall 1 and 5: the size and root a proof is checked against come from one checkpoint; the
    # checkpoint of another size has that size's root, and the proof fails against it.
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(index + 1, 1024).filter(lambda n: n != size), label="other size")
    proof = inclusion_proof(index, size, STORE)
    with pytest.raises(ProofError):
        verify_inclusion(HASHES[index], index, other, proof, ROOTS[other])


@settings(max_examples=300, deadline=None)
@given(size=sizes, data=st.data())
def test_with_a_mismatched_size_and_root_a_proof_passes_exactly_when_paths_share_a_shape(
        size: int, data: st.DataObject) -> None:
    # Pitfall 1, why it matters: the verifier cannot tell the claimed size from a neighbour whose
    # path has the same shape. Only taking size and root from one signed checkpoint closes this.
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(index + 1, 1024).filter(lambda n: n != size), label="other size")
    proof = inclusion_proof(index, size, STORE)
    if _path_sides(index, size) == _path_sides(index, other):
        verify_inclusion(HASHES[index], index, other, proof, ROOTS[size])
    else:
        with pytest.raises(ProofError):
            verify_inclusion(HASHES[index], index, other, proof, ROOTS[size])


def test_neighbouring_sizes_with_the_same_path_shape_exist() -> None:
    # The concrete case behind pitfall 1: leaf 0's path in 17 leaves has the shape of its path in 18.
    proof = inclusion_proof(0, 17, STORE)
    verify_inclusion(HASHES[0], 0, 18, proof, ROOTS[17])
    with pytest.raises(ProofError):
        verify_inclusion(HASHES[0], 0, 18, proof, ROOTS[18])


@settings(max_examples=200, deadline=None)
@given(size2=st.integers(2, 1024), data=st.data())
def test_consistency_proof_does_not_verify_for_other_tree_sizes(size2: int, data: st.DataObject) -> None:
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    proof = consistency_proof(size1, size2, STORE)
    other1 = data.draw(st.integers(1, size2 - 1).filter(lambda m: m != size1), label="other size1")
    other2 = data.draw(st.integers(size1 + 1, 1024).filter(lambda n: n != size2), label="other size2")
    with pytest.raises(ProofError):
        verify_consistency(other1, size2, proof, ROOTS[other1], ROOTS[size2])
    with pytest.raises(ProofError):
        verify_consistency(size1, other2, proof, ROOTS[size1], ROOTS[other2])


# -- pitfalls --------------------------------------------------------------------------------------


def test_proof_for_a_newer_tree_size_does_not_verify_against_an_older_checkpoint() -> None:
    # Pitfall 5: a proof generated for a size other than the checkpoint's fails ("wrong proof size").
    newer = inclusion_proof(5, 100, STORE)
    with pytest.raises(ProofError):
        verify_inclusion(HASHES[5], 5, 99, newer, ROOTS[99])
    verify_inclusion(HASHES[5], 5, 99, inclusion_proof(5, 99, STORE), ROOTS[99])


def test_a_consistency_proof_is_not_accepted_for_a_larger_second_tree() -> None:
    # Pitfall 2: PROOF(4, 8) = [MTH(4:8)] hashes to the 8-leaf root in a walk that also fits 9..16
    # leaves if the walk may stop before sn reaches 0.
    proof = consistency_proof(4, 8, STORE)
    for size2 in range(9, 17):
        with pytest.raises(ProofError):
            verify_consistency(4, size2, proof, ROOTS[4], ROOTS[8])


def test_the_final_sn_check_alone_rejects_paths_too_short_for_the_tree() -> None:
    # Pitfall 2, on RFC 9162's algorithm itself (the length check up front would catch these first).
    proof = consistency_proof(4, 8, STORE)
    for size2 in range(9, 17):
        with pytest.raises(ProofError, match="shorter than the path"):
            merkle._roots_from_consistency_path(4, size2, proof, ROOTS[4])
    path = inclusion_proof(3, 8, STORE)
    assert merkle._root_from_inclusion_path(HASHES[3], 3, 8, path) == ROOTS[8]
    for size in (9, 16):
        with pytest.raises(ProofError, match="shorter than the path"):
            merkle._root_from_inclusion_path(HASHES[3], 3, size, path)
    with pytest.raises(ProofError, match="longer than the path"):
        merkle._root_from_inclusion_path(HASHES[3], 3, 8, [*path, path[0]])


def _without_inner_shift(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 with the inner right-shift loop of step b dropped (the known mistake)."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        r = node_hash(p, r) if fn & 1 or fn == sn else node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def test_right_border_leaves_verify_thanks_to_the_inner_right_shift_loop() -> None:
    # Leaf 4 of 5 has its only sibling, MTH(0:4), two levels up. Without the loop, the walk stops
    # with sn != 0 and rejects this valid proof.
    proof = inclusion_proof(4, 5, STORE)
    assert _without_inner_shift(HASHES[4], 4, 5, proof) is None
    verify_inclusion(HASHES[4], 4, 5, proof, ROOTS[5])
    broken = 0
    for size in range(1, 300):
        index = size - 1
        proof = inclusion_proof(index, size, STORE)
        verify_inclusion(HASHES[index], index, size, proof, ROOTS[size])
        broken += _without_inner_shift(HASHES[index], index, size, proof) is None
    assert broken > 250  # most right-border leaves need the loop
    verify_consistency(6, 7, consistency_proof(6, 7, STORE), ROOTS[6], ROOTS[7])  # the same skip


def test_empty_consistency_proof_between_different_sizes_fails() -> None:
    # Pitfall 3: 0 < first < second needs a proof.
    for size1, size2 in [(1, 2), (4, 8), (5, 6), (7, 100)]:
        with pytest.raises(ProofError) as caught:
            verify_consistency(size1, size2, [], ROOTS[size1], ROOTS[size2])
        assert caught.value.reason == "empty_proof"


def test_equal_sizes_are_consistent_by_an_empty_proof_and_equal_roots_only() -> None:
    # Pitfall 3: first == second.
    verify_consistency(8, 8, [], ROOTS[8], ROOTS[8])
    assert consistency_proof(8, 8, STORE) == []
    with pytest.raises(ProofError) as caught:
        verify_consistency(8, 8, [ROOTS[8]], ROOTS[8], ROOTS[8])
    assert caught.value.reason == "bad_length"
    with pytest.raises(ProofError) as caught:
        verify_consistency(8, 8, [], ROOTS[8], ROOTS[7])
    assert caught.value.reason == "root_mismatch"


def test_size_zero_has_the_empty_root_and_is_extended_by_every_tree() -> None:
    # Pitfall 3: size 0 explicitly. Stricter than transparency-dev, which accepts any first root.
    assert consistency_proof(0, 8, STORE) == []
    verify_consistency(0, 8, [], EMPTY_ROOT, ROOTS[8])
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    for size2, proof, root1, root2, reason in [(8, [ROOTS[8]], EMPTY_ROOT, ROOTS[8], "bad_length"),
                                               (8, [], ROOTS[8], ROOTS[8], "root_mismatch"),
                                               (0, [], SOME_HASH, SOME_HASH, "root_mismatch")]:
        with pytest.raises(ProofError) as caught:
            verify_consistency(0, size2, proof, root1, root2)
        assert caught.value.reason == reason
    with pytest.raises(ProofError) as caught:
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)
    assert caught.value.reason == "bad_index"


def test_hashes_that_are_not_exactly_32_bytes_are_refused() -> None:
    # Pitfall 4, for every hash a verifier takes in.
    proof, cproof = inclusion_proof(3, 8, STORE), consistency_proof(3, 8, STORE)
    attempts: list[Callable[[object], object]] = [
        lambda bad: verify_inclusion(bad, 3, 8, proof, ROOTS[8]),
        lambda bad: verify_inclusion(HASHES[3], 3, 8, proof, bad),
        lambda bad: verify_inclusion(HASHES[3], 3, 8, [*proof[:-1], bad], ROOTS[8]),
        lambda bad: verify_consistency(3, 8, cproof, bad, ROOTS[8]),
        lambda bad: verify_consistency(3, 8, cproof, ROOTS[3], bad),
        lambda bad: verify_consistency(3, 8, [bad, *cproof[1:]], ROOTS[3], ROOTS[8]),
        lambda bad: CompactRange().append(bad),
        lambda bad: CompactRange(1, [bad]),
    ]
    for bad in (b"", HASHES[3][:31], HASHES[3] + b"\x00", HASHES[3].hex().encode(), HASHES[3].hex()):
        for attempt in attempts:
            with pytest.raises(ProofError) as caught:
                attempt(bad)
            assert caught.value.reason == "bad_hash_size"


def test_proof_length_is_checked_before_any_hashing() -> None:
    proof, cproof = inclusion_proof(7, 10, STORE), consistency_proof(3, 10, STORE)
    for wrong in ([*proof, proof[0]], proof[:-1], []):
        with pytest.raises(ProofError) as caught:
            verify_inclusion(HASHES[7], 7, 10, wrong, ROOTS[10])
        assert caught.value.reason == "bad_length"
    for wrong in ([*cproof, cproof[0]], cproof[:-1]):
        with pytest.raises(ProofError) as caught:
            verify_consistency(3, 10, wrong, ROOTS[3], ROOTS[10])
        assert caught.value.reason == "bad_length"


def test_sizes_and_indexes_outside_the_tree_are_refused() -> None:
    with pytest.raises(ProofError) as caught:
        verify_inclusion(HASHES[0], -1, 4, [], ROOTS[4])
    assert caught.value.reason == "bad_index"
    with pytest.raises(ProofError) as caught:
        verify_inclusion(HASHES[0], 2**64 - 1, 8, inclusion_proof(0, 8, STORE), ROOTS[8])
    assert caught.value.reason == "bad_index"
    with pytest.raises(ProofError) as caught:
        verify_consistency(8, 4, [ROOTS[4]], ROOTS[8], ROOTS[4])
    assert caught.value.reason == "bad_size"
    with pytest.raises(ProofError) as caught:
        verify_consistency(-1, 4, [], EMPTY_ROOT, ROOTS[4])
    assert caught.value.reason == "bad_size"
    with pytest.raises(ProofError) as caught:
        verify_inclusion(HASHES[0], True, 4, [], ROOTS[4])  # a bool is no index
    assert caught.value.reason == "bad_index"
    with pytest.raises(ProofError) as caught:
        inclusion_proof(4, 4, STORE)
    assert caught.value.reason == "bad_index"
    with pytest.raises(ProofError) as caught:
        consistency_proof(5, 4, STORE)
    assert caught.value.reason == "bad_size"


def test_proof_errors_are_value_errors_with_a_reason() -> None:
    error = ProofError("root_mismatch", "detail")
    assert isinstance(error, ValueError) and error.reason == "root_mismatch" and "detail" in str(error)


# -- compact range ---------------------------------------------------------------------------------


def test_compact_range_root_equals_the_reference_root_for_every_size() -> None:
    tree = CompactRange()
    for size in range(301):
        assert tree.root() == root_from_leaf_hashes(HASHES[:size]) == ROOTS[size] == root_at(size, STORE)
        if size < 300:
            tree.append(HASHES[size])


def test_append_returns_exactly_the_perfect_nodes_it_completes() -> None:
    tree, seen = CompactRange(), {}
    for size in range(1, 257):
        created = tree.append(HASHES[size - 1])
        assert created[0] == (0, size - 1, HASHES[size - 1])
        # Exactly the subtrees that end at the new size: one per trailing one bit of the old size.
        assert [(lv, ix) for lv, ix, _ in created] == [(lv, (size >> lv) - 1) for lv in range(len(created))]
        assert len(created) == 1 + ((size - 1) ^ size).bit_length() - 1
        seen.update({(lv, ix): h for lv, ix, h in created})
    assert len(seen) == 2 * 256 - 1
    assert seen == dict(zip(seen, STORE.get_nodes(list(seen)), strict=True))


def test_border_ids_name_one_node_per_set_bit_largest_first() -> None:
    for size in range(2000):
        ids = border_ids(size)
        assert [lv for lv, _ in ids] == [lv for lv in reversed(range(size.bit_length())) if size >> lv & 1]
        assert sum(1 << lv for lv, _ in ids) == size
        assert all(ix << lv == sum(1 << l2 for l2, _ in ids[:n]) for n, (lv, ix) in enumerate(ids))


def test_resuming_from_border_nodes_continues_with_the_same_roots_and_nodes() -> None:
    for size in range(301):
        resumed = CompactRange.resume(size, STORE)
        assert resumed.size == size and resumed.root() == ROOTS[size]
        assert resumed.border == tuple(STORE.get_nodes(border_ids(size)))
        original = CompactRange(size, resumed.border)
        for index in range(size, min(size + 40, 1024)):
            assert resumed.append(HASHES[index]) == original.append(HASHES[index])
            assert resumed.root() == ROOTS[index + 1]


def test_a_resumed_range_needs_one_border_node_per_set_bit() -> None:
    with pytest.raises(ValueError, match="border nodes"):
        CompactRange(3, [HASHES[0]])
    with pytest.raises(ValueError, match="border nodes"):
        CompactRange(0, [HASHES[0]])
    with pytest.raises(ProofError):
        CompactRange(-1, [])


def test_a_copied_range_grows_independently() -> None:
    tree = CompactRange.resume(10, STORE)
    tentative = tree.copy()
    tentative.append(HASHES[10])
    assert (tree.size, tree.root()) == (10, ROOTS[10])
    assert (tentative.size, tentative.root()) == (11, ROOTS[11])


# -- proof generation cost -------------------------------------------------------------------------


class _Synthetic:
    """Any node of any tree, made up on demand: for counting reads at sizes no test can build."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def get_nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        self.calls.append(len(ids))
        return [hashlib.sha256(f"{lv}/{ix}".encode()).digest() for lv, ix in ids]


@pytest.mark.parametrize("size", [10_000_000, 2**40 + 12345])
def test_a_proof_in_a_huge_tree_reads_o_log_n_nodes_in_one_batch(size: int) -> None:
    reader, bound = _Synthetic(), 2 * size.bit_length()
    for index in (0, 1, size // 3, size - 2, size - 1):
        assert len(inclusion_proof(index, size, reader)) == sum(merkle._decompose(index, size))
    for size1 in (1, 2, size // 2 + 1, size - 1):
        consistency_proof(size1, size, reader)
    root_at(size, reader)
    assert len(reader.calls) == 5 + 4 + 1
    assert max(reader.calls) <= bound


def test_a_proof_at_ten_million_entries_takes_well_under_a_millisecond() -> None:
    reader, size = _Synthetic(), 10_000_000
    start = time.perf_counter()
    for index in range(0, size, size // 200):
        inclusion_proof(index, size, reader)
        consistency_proof(index + 1, size, reader)
    per_pair = (time.perf_counter() - start) / 200
    assert per_pair < 1e-3  # generation and synthetic reads together, for one proof of each kind


def test_proof_generation_hashes_only_the_ephemeral_border_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[int] = []
    real = merkle.node_hash

    def counting(left: bytes, right: bytes) -> bytes:
        hashed.append(1)
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    reader = _Synthetic()
    for index in (0, 4_999_999, 9_999_999):
        inclusion_proof(index, 10_000_000, reader)
    consistency_proof(1_000_001, 10_000_000, reader)
    assert len(hashed) <= 4 * 24  # at most one right border (< 24 nodes) folded per proof


def test_a_missing_stored_node_raises_lookup_error() -> None:
    store = MemoryNodeStore()
    store.put(0, 0, HASHES[0])
    with pytest.raises(LookupError):
        inclusion_proof(0, 2, store)
    with pytest.raises(LookupError):
        CompactRange.resume(3, store)


def test_a_100000_entry_tree_proves_inclusion_and_consistency() -> None:
    size = 100_000
    store, tree, hashes = MemoryNodeStore(), CompactRange(), [leaf_hash(b"entry %d" % i) for i in range(size)]
    for h in hashes:
        store.put_many(tree.append(h))
    root = tree.root()
    assert root == root_from_leaf_hashes(hashes) == root_at(size, store)
    assert len(store) == 2 * size - size.bit_count()
    for index in range(0, size, 997):
        verify_inclusion(hashes[index], index, size, inclusion_proof(index, size, store), root)
    checkpoints = [1, 2, 3, 1023, 1024, 1025, 65_536, 65_537, 99_999, 100_000]
    roots = {n: root_at(n, store) for n in checkpoints}
    for first, second in pairwise(checkpoints):
        verify_consistency(first, second, consistency_proof(first, second, store), roots[first], roots[second])
    for first in checkpoints:
        verify_consistency(first, size, consistency_proof(first, size, store), roots[first], root)


# -- every refusal with its reason and words (issue 24): an auditor reads both ------------------------

def _proof_error(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(ProofError) as caught:
        call()
    assert str(caught.value) == f"{caught.value.reason}: {caught.value.detail}"
    return caught.value.reason, caught.value.detail


H = HASHES[0]


@pytest.mark.parametrize(("call", "reason", "detail"), [
    (lambda: verify_inclusion(H[:31], 0, 8, inclusion_proof(0, 8, STORE), ROOTS[8]),
     "bad_hash_size", "leaf hash is not a 32-byte hash (31)"),
    (lambda: verify_inclusion(H, 0, 8, inclusion_proof(0, 8, STORE), None),
     "bad_hash_size", "root is not a 32-byte hash (NoneType)"),
    (lambda: verify_inclusion(H, 0, 8, [*inclusion_proof(0, 8, STORE)[:1], H + b"\0"], ROOTS[8]),
     "bad_hash_size", "proof[1] is not a 32-byte hash (33)"),
    (lambda: verify_inclusion(H, 0, -1, [], ROOTS[8]), "bad_size", "size -1 is not a tree size"),
    (lambda: verify_inclusion(H, 0, True, [], ROOTS[1]), "bad_size", "size True is not a tree size"),
    (lambda: verify_inclusion(H, 8, 8, [], ROOTS[8]), "bad_index", "index 8 is outside a tree of 8 leaves"),
    (lambda: verify_inclusion(H, -1, 8, [], ROOTS[8]), "bad_index", "index -1 is outside a tree of 8 leaves"),
    (lambda: verify_inclusion(H, False, 8, [], ROOTS[8]), "bad_index", "index False is outside a tree of 8 leaves"),
    (lambda: verify_inclusion(H, 0, 8, inclusion_proof(0, 8, STORE)[:2], ROOTS[8]),
     "bad_length", "proof has 2 hashes, the path has 3"),
    (lambda: verify_inclusion(H, 0, 8, inclusion_proof(0, 8, STORE), ROOTS[7]),
     "root_mismatch", "the proof leads to another root"),
    (lambda: verify_consistency(3, 5, consistency_proof(3, 5, STORE), b"", ROOTS[5]),
     "bad_hash_size", "first root is not a 32-byte hash (0)"),
    (lambda: verify_consistency(3, 5, consistency_proof(3, 5, STORE), ROOTS[3], "x" * 32),
     "bad_hash_size", "second root is not a 32-byte hash (str)"),
    (lambda: verify_consistency(3, 5, [H[:1]], ROOTS[3], ROOTS[5]),
     "bad_hash_size", "proof[0] is not a 32-byte hash (1)"),
    (lambda: verify_consistency(-3, 5, [], ROOTS[3], ROOTS[5]), "bad_size", "size1 -3 is not a tree size"),
    (lambda: verify_consistency(3, 5.0, [], ROOTS[3], ROOTS[5]), "bad_size", "size2 5.0 is not a tree size"),
    (lambda: verify_consistency(5, 3, [], ROOTS[5], ROOTS[3]), "bad_size", "a tree of 3 leaves cannot extend one of 5"),
    (lambda: verify_consistency(4, 4, [H], ROOTS[4], ROOTS[4]),
     "bad_length", "a tree is consistent with itself by an empty proof only"),
    (lambda: verify_consistency(4, 4, [], ROOTS[4], ROOTS[5]), "root_mismatch", "two different roots for the same size 4"),
    (lambda: verify_consistency(0, 0, [], H, H), "root_mismatch", "the empty tree's root is SHA-256 of the empty string"),
    (lambda: verify_consistency(0, 4, [H], EMPTY_ROOT, ROOTS[4]),
     "bad_length", "every tree extends the empty tree by an empty proof only"),
    (lambda: verify_consistency(0, 4, [], H, ROOTS[4]),
     "root_mismatch", "the empty tree's root is SHA-256 of the empty string"),
    (lambda: verify_consistency(3, 5, [], ROOTS[3], ROOTS[5]), "empty_proof", "a proof from 3 to 5 leaves cannot be empty"),
    (lambda: verify_consistency(3, 5, consistency_proof(3, 5, STORE)[1:], ROOTS[3], ROOTS[5]),
     "bad_length", "proof has 3 hashes, the path has 4"),
    (lambda: verify_consistency(4, 5, [*consistency_proof(4, 5, STORE), H], ROOTS[4], ROOTS[5]),
     "bad_length", "proof has 2 hashes, the path has 1"),
    (lambda: verify_consistency(3, 5, consistency_proof(3, 5, STORE), ROOTS[2], ROOTS[5]),
     "root_mismatch", "the proof does not lead to the first root"),
    (lambda: verify_consistency(3, 5, consistency_proof(3, 5, STORE), ROOTS[3], ROOTS[6]),
     "root_mismatch", "the proof does not lead to the second root"),
    (lambda: consistency_proof(5, 3, STORE), "bad_size", "no consistency proof from 5 down to 3"),
    (lambda: consistency_proof(3, -5, STORE), "bad_size", "size2 -5 is not a tree size"),
    (lambda: consistency_proof(-3, 5, STORE), "bad_size", "size1 -3 is not a tree size"),
    (lambda: inclusion_proof(0, "8", STORE), "bad_size", "size '8' is not a tree size"),
    (lambda: inclusion_proof(9, 8, STORE), "bad_index", "index 9 is outside a tree of 8 leaves"),
    (lambda: root_at(-1, STORE), "bad_size", "size -1 is not a tree size"),
    (lambda: CompactRange(1, [H[:5]]), "bad_hash_size", "border[0] is not a 32-byte hash (5)"),
    (lambda: CompactRange().append(H + H), "bad_hash_size", "leaf hash is not a 32-byte hash (64)"),
    (lambda: merkle._roots_from_consistency_path(3, 5, [], ROOTS[3]),
     "empty_proof", "a proof from 3 to 5 leaves cannot be empty"),
    (lambda: merkle._roots_from_consistency_path(4, 8, [*consistency_proof(4, 8, STORE), H], ROOTS[4]),
     "bad_length", "the proof is longer than the path to the root"),
    (lambda: merkle._roots_from_consistency_path(4, 9, consistency_proof(4, 8, STORE), ROOTS[4]),
     "bad_length", "the proof is shorter than the path to the root"),
    (lambda: merkle._root_from_inclusion_path(H, 0, 8, [*inclusion_proof(0, 8, STORE), H]),
     "bad_length", "the proof is longer than the path to the root"),
    (lambda: merkle._root_from_inclusion_path(HASHES[3], 3, 9, inclusion_proof(3, 8, STORE)),
     "bad_length", "the proof is shorter than the path to the root"),
], ids=lambda v: v if isinstance(v, str) and " " not in v else None)
def test_every_refusal_names_its_reason_and_what_is_wrong(call: Callable[[], object], reason: str,
                                                          detail: str) -> None:
    assert _proof_error(call) == (reason, detail)


def test_hashes_given_as_bytearrays_verify_like_bytes() -> None:
    proof = [bytearray(p) for p in inclusion_proof(5, 8, STORE)]
    verify_inclusion(bytearray(HASHES[5]), 5, 8, proof, bytearray(ROOTS[8]))
    verify_consistency(3, 8, [bytearray(p) for p in consistency_proof(3, 8, STORE)], bytearray(ROOTS[3]),
                       bytearray(ROOTS[8]))


def test_a_resumed_range_says_how_many_border_nodes_it_needs() -> None:
    with pytest.raises(ValueError, match="^a tree of 3 leaves has 2 border nodes, not 1$"):
        CompactRange(3, [H])
    with pytest.raises(ProofError):
        CompactRange(-1)


def test_a_memory_store_holds_what_was_put_and_names_the_node_it_lacks() -> None:
    store = MemoryNodeStore()
    assert len(store) == 0 and store.get_nodes([]) == []
    store.put(0, 0, HASHES[0])
    store.put_many([(0, 1, HASHES[1]), (1, 0, ROOTS[2])])
    assert len(store) == 3
    assert store.get_nodes([(1, 0), (0, 1), (0, 0)]) == [ROOTS[2], HASHES[1], HASHES[0]]
    with pytest.raises(LookupError, match=r"^no stored tree node \(0, 7\)$"):
        store.get_nodes([(0, 0), (0, 7)])
    assert CompactRange.resume(2, store).root() == ROOTS[2]
    assert CompactRange.resume(0, store).root() == EMPTY_ROOT and root_at(0, store) == EMPTY_ROOT


def test_a_proof_error_without_detail_reads_as_its_reason_and_a_negative_range_size_is_named() -> None:
    bare = ProofError("bad_size")
    assert (str(bare), bare.detail) == ("bad_size", "")
    assert _proof_error(lambda: CompactRange(-1)) == ("bad_size", "size -1 is not a tree size")
