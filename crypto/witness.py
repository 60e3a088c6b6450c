"""A witness's decision on a new checkpoint: authentic, same log, and consistent with the last one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crypto.directory import Directory
from crypto.merkle import ProofError, verify_consistency
from crypto.note import NoteError, NoteVerifier, verify_note
from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.checkpoint import Checkpoint, CheckpointError, parse_checkpoint_body, parse_note


class WitnessError(ValueError):
    """A checkpoint a witness must refuse; `reason` says why (an alarm when it is `inconsistent`)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Witnessed:
    size: int
    root: bytes


def check_checkpoint(note_text: bytes, *, origin: str, log_key: NoteVerifier, last: Witnessed | None,
                     proofs: Mapping[int, Sequence[str]]) -> Checkpoint:
    """The new checkpoint if this witness may cosign it; WitnessError otherwise.

    `last` is what this witness accepted before (its own record, never the log's claim);
    `proofs` maps earlier sizes to consistency proofs (base64 hashes) offered with the checkpoint.
    """
    try:
        note = parse_note(note_text)
        checkpoint = parse_checkpoint_body(note.body)
    except CheckpointError as exc:
        raise WitnessError("bad_checkpoint", exc.detail) from None
    if checkpoint.origin != origin:
        raise WitnessError("wrong_origin", f"checkpoint of {checkpoint.origin!r}, expected {origin!r}")
    try:
        signed_by = verify_note(note, [log_key])
    except NoteError as exc:
        raise WitnessError("bad_checkpoint_signature", str(exc)) from None
    if log_key.name not in signed_by:
        raise WitnessError("bad_checkpoint_signature", "not signed by the log's key")
    if last is None:
        return checkpoint  # first sight: trust on first use, recorded from now on
    if checkpoint.size < last.size:
        raise WitnessError("inconsistent", f"the log shrank from {last.size} to {checkpoint.size} entries")
    if last.size not in proofs and checkpoint.size != last.size:
        raise WitnessError("no_proof", f"no consistency proof from size {last.size} was offered")
    try:
        hashes = [decode_base64(h, "proof hash") for h in proofs.get(last.size, [])]
    except NonCanonicalEncoding as exc:
        raise WitnessError("bad_proof", str(exc)) from None
    try:
        verify_consistency(last.size, checkpoint.size, hashes, last.root, checkpoint.root_hash)
    except ProofError as exc:
        raise WitnessError("inconsistent", f"checkpoint {checkpoint.size} does not extend {last.size}: "
                                           f"{exc.reason}") from None
    return checkpoint


class QuorumError(ValueError):
    """A witness quorum that cannot be asked for (e.g. more witnesses than the directory has)."""

    reason = "bad_quorum"


def directory_witnesses(directory: Directory) -> list[str]:
    """The witnesses a directory names: every national node (the hub never witnesses its own log)."""
    return directory.node_ids()


def required_quorum(directory: Directory, override: int | None = None) -> int:
    """How many of the directory's witnesses must cosign a checkpoint before it is trusted.

    The one place the witness policy is decided: all national nodes by default; an auditor may
    lower it (`--quorum N`), never raise it past the witnesses there are. Zero means "trust the
    hub's signature alone" and is allowed only when asked for explicitly.
    """
    witnesses = len(directory_witnesses(directory))
    if override is None:
        return witnesses
    if isinstance(override, bool) or not isinstance(override, int) or not 0 <= override <= witnesses:
        raise QuorumError(f"a quorum is 0..{witnesses} (the directory's witnesses), not {override!r}")
    return override


# -- comparing what witnesses saw (split-view detection) -----------------------------------------


def verify_peer_checkpoint(note_text: bytes, *, origin: str, log_key: NoteVerifier,
                           peer_keys: Sequence[NoteVerifier]) -> Checkpoint:
    """A peer witness's latest cosigned checkpoint, if the hub signed it and the peer cosigned it.

    `peer_keys` are the peer's cosigner keys from the root-signed directory (several during a key
    rollover); WitnessError("bad_peer_checkpoint") otherwise.
    """
    try:
        note = parse_note(note_text)
        checkpoint = parse_checkpoint_body(note.body)
    except CheckpointError as exc:
        raise WitnessError("bad_peer_checkpoint", exc.detail) from None
    if checkpoint.origin != origin:
        raise WitnessError("bad_peer_checkpoint", f"checkpoint of {checkpoint.origin[:80]!r}, expected {origin!r}")
    try:
        signed_by = verify_note(note, [log_key, *peer_keys])
    except NoteError as exc:
        raise WitnessError("bad_peer_checkpoint", str(exc)) from None
    if log_key.name not in signed_by:
        raise WitnessError("bad_peer_checkpoint", "not signed by the log's key")
    if not any(k.name in signed_by for k in peer_keys):
        raise WitnessError("bad_peer_checkpoint", "not cosigned by the peer that served it")
    return checkpoint


def consistency_sizes(mine: Witnessed, theirs: Checkpoint) -> tuple[int, int] | None:
    """The (first, second) sizes of the consistency proof needed to compare two views; None if equal sizes."""
    if mine.size == theirs.size:
        return None
    return (min(mine.size, theirs.size), max(mine.size, theirs.size))


def compare_views(mine: Witnessed, theirs: Checkpoint, proof: Sequence[bytes] = ()) -> None:
    """Raise WitnessError("split_view") unless both checkpoints describe one append-only log.

    Same size: same root. Otherwise `proof` is the log's consistency proof from the smaller size
    to the larger; it cannot be forged, so a hub that shows two witnesses two logs is caught.
    """
    if mine.size == theirs.size:
        if mine.root != theirs.root_hash:
            raise WitnessError("split_view", f"two roots for size {mine.size}: the hub shows witnesses different logs")
        return
    (first, first_root), (second, second_root) = sorted(
        [(mine.size, mine.root), (theirs.size, theirs.root_hash)], key=lambda view: view[0])
    try:
        verify_consistency(first, second, list(proof), first_root, second_root)
    except ProofError as exc:
        raise WitnessError("split_view", f"checkpoint {second} does not extend checkpoint {first} ({exc.reason}): "
                                         "the hub shows witnesses different logs") from None
