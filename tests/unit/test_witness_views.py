"""Two witnesses' views of one log (crypto/witness.py): the pure decisions behind split-view detection."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.merkle import CompactRange, MemoryNodeStore, consistency_proof, leaf_hash
from crypto.note import CosignatureSigner, NoteSigner
from crypto.witness import WitnessError, Witnessed, compare_views, consistency_sizes, verify_peer_checkpoint
from protocol.checkpoint import Checkpoint, NoteSignature, SignedNote, format_note

ORIGIN = "somex/test/audit"


def log(size: int, tag: bytes) -> tuple[MemoryNodeStore, dict[int, bytes]]:
    store, tree, roots = MemoryNodeStore(), CompactRange(), {}
    for i in range(size):
        store.put_many(tree.append(leaf_hash(tag + bytes([i]))))
        roots[tree.size] = tree.root()
    return store, roots


def test_same_size_same_root_agrees_and_another_root_is_a_split_view() -> None:
    _, a = log(8, b"a")
    _, b = log(8, b"b")
    compare_views(Witnessed(8, a[8]), Checkpoint(ORIGIN, 8, a[8]))
    with pytest.raises(WitnessError) as caught:
        compare_views(Witnessed(8, a[8]), Checkpoint(ORIGIN, 8, b[8]))
    assert caught.value.reason == "split_view"


@pytest.mark.parametrize(("mine", "theirs"), [(5, 9), (9, 5)])
def test_different_sizes_need_the_logs_consistency_proof_either_way(mine: int, theirs: int) -> None:
    store, roots = log(9, b"a")
    _, other = log(9, b"b")
    assert consistency_sizes(Witnessed(mine, roots[mine]), Checkpoint(ORIGIN, theirs, roots[theirs])) == (5, 9)
    proof = consistency_proof(5, 9, store)
    compare_views(Witnessed(mine, roots[mine]), Checkpoint(ORIGIN, theirs, roots[theirs]), proof)
    with pytest.raises(WitnessError, match="split_view"):
        compare_views(Witnessed(mine, roots[mine]), Checkpoint(ORIGIN, theirs, other[theirs]), proof)
    with pytest.raises(WitnessError, match="split_view"):  # no proof at all proves nothing
        compare_views(Witnessed(mine, roots[mine]), Checkpoint(ORIGIN, theirs, roots[theirs]))


def test_a_peer_checkpoint_needs_the_hubs_signature_and_the_peers_cosignature() -> None:
    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    peer = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    other = CosignatureSigner("ITA", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, b"\x01" * 32).body()

    def check(*signatures) -> Checkpoint:  # noqa: ANN002
        note = format_note(SignedNote(body, tuple(signatures)))
        return verify_peer_checkpoint(note, origin=ORIGIN, log_key=hub.verifier(), peer_keys=[peer.verifier()])

    assert check(hub.sign(body), peer.cosign(body, 1)).size == 3
    for signatures, why in [((hub.sign(body),), "not cosigned by the peer"),
                            ((hub.sign(body), other.cosign(body, 1)), "not cosigned by the peer"),
                            ((peer.cosign(body, 1),), "not signed by the log's key")]:
        with pytest.raises(WitnessError, match=why) as caught:
            check(*signatures)
        assert caught.value.reason == "bad_peer_checkpoint"


def test_non_ascii_base64_is_a_typed_refusal_everywhere_a_note_or_proof_is_read() -> None:
    # b64decode raises a plain ValueError (not binascii.Error) for non-ASCII text: found by
    # test_fuzz_decoders' checkpoint property; each reader must turn it into its own error.
    from crypto.witness import check_checkpoint
    from protocol.checkpoint import CheckpointError, parse_checkpoint_body, parse_note

    with pytest.raises(CheckpointError) as caught:
        parse_checkpoint_body(f"{ORIGIN}\n3\n\u00e9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".encode())
    assert caught.value.reason == "bad_root_hash"
    with pytest.raises(CheckpointError) as caught:
        parse_note(f"{ORIGIN}\n3\n{'A' * 43}=\n\n\u2014 hub \u00e9AAAAAAAA\n".encode())
    assert caught.value.reason == "bad_signature_line"
    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    _, roots = log(9, b"a")
    body = Checkpoint(ORIGIN, 9, roots[9]).body()
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(format_note(SignedNote(body, (hub.sign(body),))), origin=ORIGIN, log_key=hub.verifier(),
                         last=Witnessed(5, roots[5]), proofs={5: ["\u00e9" * 44]})
    assert caught.value.reason == "bad_proof"


# -- what each refusal says (a node's operator reads it in the split-view alarm) -----------------------


def _peer_note(body: bytes, *signatures) -> bytes:  # noqa: ANN002
    return format_note(SignedNote(body, tuple(signatures)))


@pytest.mark.parametrize("case", ["garbage", "origin", "bad_hub_sig", "no_hub", "no_peer"])
def test_each_bad_peer_checkpoint_says_why(case: str) -> None:
    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    peer = CosignatureSigner("MEX", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, b"\x01" * 32).body()
    other_origin = "somex/" + "o" * 100
    other_body = Checkpoint(other_origin, 3, b"\x01" * 32).body()
    forged = NoteSignature(hub.name, hub.key_id, bytes(64))
    note, detail = {
        "garbage": (b"not a note", "a note text ends with a newline"),
        "origin": (_peer_note(other_body, hub.sign(other_body)),
                   f"checkpoint of {other_origin[:80]!r}, expected {ORIGIN!r}"),
        "bad_hub_sig": (_peer_note(body, forged, peer.cosign(body, 1)),
                        f"bad_note_signature: the signature of {ORIGIN}+{hub.key_id.hex()} does not verify"),
        "no_hub": (_peer_note(body, peer.cosign(body, 1)), "not signed by the log's key"),
        "no_peer": (_peer_note(body, hub.sign(body)), "not cosigned by the peer that served it"),
    }[case]
    with pytest.raises(WitnessError) as caught:
        verify_peer_checkpoint(note, origin=ORIGIN, log_key=hub.verifier(), peer_keys=[peer.verifier()])
    assert (caught.value.reason, caught.value.detail) == ("bad_peer_checkpoint", detail)


def test_a_split_view_says_which_sizes_disagree() -> None:
    store, roots = log(9, b"a")
    _, other = log(9, b"b")
    with pytest.raises(WitnessError) as caught:
        compare_views(Witnessed(8, roots[8]), Checkpoint(ORIGIN, 8, other[8]))
    assert (caught.value.reason, caught.value.detail) == (
        "split_view", "two roots for size 8: the hub shows witnesses different logs")
    with pytest.raises(WitnessError) as caught:
        compare_views(Witnessed(9, other[9]), Checkpoint(ORIGIN, 5, roots[5]), consistency_proof(5, 9, store))
    assert (caught.value.reason, caught.value.detail) == (
        "split_view", "checkpoint 9 does not extend checkpoint 5 (root_mismatch): the hub shows witnesses "
                      "different logs")


def test_views_are_ordered_by_size_not_by_root() -> None:
    # Roots in the opposite order to their sizes: comparing must still go from the smaller size.
    for tag in (bytes([t]) for t in range(256)):
        store, roots = log(9, tag)
        if roots[5] > roots[9]:
            break
    assert roots[5] > roots[9]
    proof = consistency_proof(5, 9, store)
    compare_views(Witnessed(9, roots[9]), Checkpoint(ORIGIN, 5, roots[5]), proof)
    compare_views(Witnessed(5, roots[5]), Checkpoint(ORIGIN, 9, roots[9]), proof)


def test_a_checkpoint_this_witness_cannot_parse_is_refused_saying_why() -> None:
    from crypto.witness import check_checkpoint

    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(WitnessError) as caught:
        check_checkpoint(b"not a note", origin=ORIGIN, log_key=hub.verifier(), last=None, proofs={})
    assert (caught.value.reason, caught.value.detail) == ("bad_checkpoint", "a note text ends with a newline")


def test_each_refusal_of_a_checkpoint_to_cosign_has_its_reason_and_words() -> None:
    from crypto.witness import check_checkpoint
    from protocol.encoding import encode_base64

    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    store, roots = log(9, b"a")
    _, other = log(9, b"b")

    def note(size: int, root: bytes, origin: str = ORIGIN, signer: NoteSigner = hub) -> bytes:
        body = Checkpoint(origin, size, root).body()
        return format_note(SignedNote(body, (signer.sign(body),)))

    def refusal(text: bytes, last: Witnessed | None, proofs: dict) -> tuple[str, str]:
        with pytest.raises(WitnessError) as caught:
            check_checkpoint(text, origin=ORIGIN, log_key=hub.verifier(), last=last, proofs=proofs)
        return caught.value.reason, caught.value.detail

    last = Witnessed(5, roots[5])
    proof = [encode_base64(h) for h in consistency_proof(5, 9, store)]
    stranger = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    forged = SignedNote(Checkpoint(ORIGIN, 9, roots[9]).body(),
                        (NoteSignature(hub.name, hub.key_id, bytes(64)),))
    assert refusal(note(9, roots[9], origin="somex/x/audit"), last, {5: proof}) == (
        "wrong_origin", f"checkpoint of 'somex/x/audit', expected {ORIGIN!r}")
    assert refusal(format_note(forged), last, {5: proof}) == (
        "bad_checkpoint_signature", f"bad_note_signature: the signature of {ORIGIN}+{hub.key_id.hex()} does not verify")
    assert refusal(note(9, roots[9], signer=stranger), last, {5: proof}) == (
        "bad_checkpoint_signature", "not signed by the log's key")
    assert refusal(note(4, roots[4]), last, {}) == ("inconsistent", "the log shrank from 5 to 4 entries")
    assert refusal(note(9, roots[9]), last, {}) == ("no_proof", "no consistency proof from size 5 was offered")
    assert refusal(note(9, roots[9]), last, {5: ["not base64!"]}) == ("bad_proof", "proof hash is not base64")
    assert refusal(note(9, other[9]), last, {5: proof}) == (
        "inconsistent", "checkpoint 9 does not extend 5: root_mismatch")
    # accepted: the first sight, the same checkpoint again (no proof needed), and a proven extension
    assert check_checkpoint(note(5, roots[5]), origin=ORIGIN, log_key=hub.verifier(), last=None, proofs={}).size == 5
    assert check_checkpoint(note(5, roots[5]), origin=ORIGIN, log_key=hub.verifier(), last=last, proofs={}).size == 5
    assert check_checkpoint(note(9, roots[9]), origin=ORIGIN, log_key=hub.verifier(), last=last,
                            proofs={5: proof}).size == 9


def test_a_witness_error_reads_as_its_reason_and_detail() -> None:
    assert (str(WitnessError("split_view", "why")), str(WitnessError("split_view"))) == ("split_view: why", "split_view")
    assert WitnessError("split_view").detail == ""


def test_the_log_keys_a_witness_checks_with_must_all_be_the_logs() -> None:
    from crypto.witness import check_checkpoint

    hub = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    rotated = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    impostor = NoteSigner("somex/other/audit", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, b"\x01" * 32).body()
    note = format_note(SignedNote(body, (hub.sign(body),)))
    # during a rotation's overlap, either key of the log will do
    assert check_checkpoint(note, origin=ORIGIN, log_key=[rotated.verifier(), hub.verifier()], last=None,
                            proofs={}).size == 3
    for keys in ([], [hub.verifier(), impostor.verifier()], [impostor.verifier(), hub.verifier()]):
        with pytest.raises(ValueError) as caught:
            check_checkpoint(note, origin=ORIGIN, log_key=keys, last=None, proofs={})
        assert not isinstance(caught.value, WitnessError)
        assert str(caught.value) == "log_key: one or more keys, all under the log's name"
