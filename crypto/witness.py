"""A witness's decision on a new checkpoint: authentic, same log, and consistent with the last one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from crypto.directory import Directory
from crypto.keys import kid_of
from crypto.merkle import ProofError, verify_consistency
from crypto.note import NoteError, NoteVerifier, verify_note
from crypto.witness_policy import MAX_SERVED_COSIGNATURES
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


# Above this many witnesses, all of them cannot cosign one served checkpoint (the note cap).
ALL_WITNESS_LIMIT = MAX_SERVED_COSIGNATURES
DEFAULT_COSIGN_INTERVAL_ABOVE_LIMIT = 60  # seconds; see docs/audit-log.md, "Witness policy"


NO_REVOCATIONS: Set[str] = frozenset()


def directory_witnesses(directory: Directory, revoked: Set[str] = NO_REVOCATIONS) -> list[str]:
    """The directory's witnesses in policy order: those its witness policy names, else every
    national node by node id (the hub never witnesses its own log).

    `revoked` is the root's revocation list (key ids): a node every key of which the directory
    lists is revoked can sign nothing, so it is no witness any more, neither required nor counted
    (otherwise an all-witness quorum could never be met again after a revocation).
    """
    policy = directory.witness_policy
    if policy is not None and policy.witnesses is not None:
        named = list(policy.witnesses)
    else:
        named = directory.node_ids()
    if not revoked:
        return named
    return [w for w in named if _holds_an_unrevoked_key(directory, w, revoked)]


def _holds_an_unrevoked_key(directory: Directory, node_id: str, revoked: Set[str]) -> bool:
    return any(kid_of(cert.public_key()) not in revoked for cert in directory.node(node_id).certificates)


def policy_quorum(directory: Directory, revoked: Set[str] = NO_REVOCATIONS) -> int:
    """The cosignatures a checkpoint needs under the directory's policy, counted over the witnesses
    that can still sign (`revoked`: see `directory_witnesses`).

    Stated by the root, or by default: every witness while there are at most 99 (today's rule),
    a majority above (any two quorum checkpoints then share a witness, so a split view needs a
    witness that cosigns both), never more than a served checkpoint can carry. A stated quorum
    above the witnesses left (some revoked or removed) is all of them: the root's revocation says
    their cosignatures are worth nothing, so they can neither be required nor counted. With a
    national node but no usable witness, 1, which no cosignature can meet: never 0, which would
    trust the hub's signature alone.
    """
    policy = directory.witness_policy
    witnesses = len(_ranks(directory, revoked))
    if policy is not None and policy.quorum is not None:
        quorum = min(policy.quorum, witnesses)
    elif witnesses <= ALL_WITNESS_LIMIT:
        quorum = witnesses
    else:
        quorum = min(witnesses // 2 + 1, MAX_SERVED_COSIGNATURES)
    return quorum if quorum or not directory.node_ids() else 1


def cosign_interval(directory: Directory, revoked: Set[str] = NO_REVOCATIONS) -> int:
    """Seconds per window in which a witness cosigns at most one checkpoint (0: every checkpoint).

    By default 0 while every witness is in the quorum, 60 s above (docs/audit-log.md): the
    cosignatures of 190 witnesses would otherwise be most of the log.
    """
    policy = directory.witness_policy
    if policy is not None and policy.cosign_interval is not None:
        return policy.cosign_interval
    return 0 if len(_ranks(directory, revoked)) <= ALL_WITNESS_LIMIT else DEFAULT_COSIGN_INTERVAL_ABOVE_LIMIT


def cosign_window(timestamp: int, interval: int) -> int:
    """The window a cosignature time falls in: a witness cosigns once per window, and windows are
    the same for every witness (clock-aligned), so witnesses keep cosigning the same checkpoints."""
    return timestamp if interval <= 0 else timestamp // interval


# The current directory's (by identity) under the current revocations.
_last_ranks: list[tuple[Directory, Set[str], dict[str, int]]] = []


def _ranks(directory: Directory, revoked: Set[str] = NO_REVOCATIONS) -> dict[str, int]:
    """witness -> place in policy order, computed once per directory and revocation list (checked
    per cosignature)."""
    if not _last_ranks or _last_ranks[0][0] is not directory or _last_ranks[0][1] != revoked:
        ranks = {w: i for i, w in enumerate(directory_witnesses(directory, revoked))}
        _last_ranks[:] = [(directory, frozenset(revoked), ranks)]
    return _last_ranks[0][2]


def admit_cosignature(directory: Directory, witness: str, timestamp: int, previous: int | None,
                      revoked: Set[str] = NO_REVOCATIONS) -> int:
    """The witness's rank in policy order if its cosignature made at `timestamp` may be stored,
    given the time of its previous stored one; WitnessError otherwise.

    not_a_witness             the directory's witness policy does not name this node, or the root
                              revoked every key of it (`revoked`)
    cosignature_too_frequent  a second cosignature in one `cosign_interval` window (or one older
                              than the last): each is a log entry, so their rate is the policy's
    """
    rank = _ranks(directory, revoked).get(witness)
    if rank is None:
        raise WitnessError("not_a_witness", f"{str(witness)[:16]} is not a witness under the directory's "
                                            "witness policy: it need not cosign")
    interval = cosign_interval(directory, revoked)
    if previous is not None and interval and cosign_window(timestamp, interval) <= cosign_window(previous, interval):
        raise WitnessError("cosignature_too_frequent", f"{witness} already cosigned at {previous}; the witness "
                                                       f"policy allows one cosignature per {interval} s window")
    return rank


def required_quorum(directory: Directory, override: int | None = None, revoked: Set[str] = NO_REVOCATIONS) -> int:
    """How many of the directory's witnesses must cosign a checkpoint before it is trusted.

    The one place the witness quorum is decided: the policy's (`policy_quorum`); an auditor may
    lower it (`--quorum N`), never raise it past the witnesses there are (those the root has not
    revoked, `revoked`) or past what a served checkpoint carries. Zero means "trust the hub's signature alone" and is allowed only when asked
    for explicitly.
    """
    if override is None:
        return policy_quorum(directory, revoked)
    most = min(len(_ranks(directory, revoked)), MAX_SERVED_COSIGNATURES)
    if isinstance(override, bool) or not isinstance(override, int) or not 0 <= override <= most:
        raise QuorumError(f"a quorum is 0..{most} (the directory's witnesses, at most "
                          f"{MAX_SERVED_COSIGNATURES} per served checkpoint), not {override!r}")
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
