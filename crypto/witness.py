"""A witness's decision on a new checkpoint: authentic, same log, and consistent with the last one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


def check_checkpoint(note_text: bytes, *, origin: str, log_key: NoteVerifier | Sequence[NoteVerifier],
                     last: Witnessed | None, proofs: Mapping[int, Sequence[str]]) -> Checkpoint:
    """The new checkpoint if this witness may cosign it; WitnessError otherwise.

    `last` is what this witness accepted before (its own record, never the log's claim);
    `proofs` maps earlier sizes to consistency proofs (base64 hashes) offered with the checkpoint.
    `log_key` may be several keys of the log, all under its name (during a key rotation's overlap
    the log may still sign with the old one): a signature by any of them will do.
    """
    log_keys = [log_key] if isinstance(log_key, NoteVerifier) else list(log_key)
    if not log_keys or len({k.name for k in log_keys}) != 1:
        raise ValueError("log_key: one or more keys, all under the log's name")
    try:
        note = parse_note(note_text)
        checkpoint = parse_checkpoint_body(note.body)
    except CheckpointError as exc:
        raise WitnessError("bad_checkpoint", exc.detail) from None
    if checkpoint.origin != origin:
        raise WitnessError("wrong_origin", f"checkpoint of {checkpoint.origin!r}, expected {origin!r}")
    try:
        signed_by = verify_note(note, log_keys)
    except NoteError as exc:
        raise WitnessError("bad_checkpoint_signature", str(exc)) from None
    if log_keys[0].name not in signed_by:
        raise WitnessError("bad_checkpoint_signature", "not signed by the log's key")
    if last is None:
        return checkpoint  # first sight: trust on first use, recorded from now on
    if checkpoint.size < last.size:
        raise WitnessError("inconsistent", f"the log shrank from {last.size} to {checkpoint.size} entries")
    if last.size not in proofs and checkpoint.size != last.size:
        raise WitnessError("no_proof", f"no consistency proof from size {last.size} was offered")
    try:
        hashes = [decode_base64(h, "proof hash") for h in proofs.get(last.size, [])]
        verify_consistency(last.size, checkpoint.size, hashes, last.root, checkpoint.root_hash)
    except NonCanonicalEncoding as exc:
        raise WitnessError("bad_proof", str(exc)) from None
    except ProofError as exc:
        raise WitnessError("inconsistent", f"checkpoint {checkpoint.size} does not extend {last.size}: "
                                           f"{exc.reason}") from None
    return checkpoint
