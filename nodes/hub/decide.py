"""The hub's accept/refuse decision for one delivery from `hub.in`, as a pure function.

`decide(delivery, context)` takes the bytes and the broker's validated user (a plain `Delivery`,
no aio-pika object) and what it needs of the hub's state as plain values (directory, trust store,
the clock reading, the log's record of ids already spent); it returns a `Verdict`: forward to
recipients, forward again a re-send already in the log, keep a hub-addressed message (a witness
cosignature), or refuse with a reason code. It reads no clock, opens no socket or database and
signs nothing: the relay (nodes/hub/relay.py) does the I/O around it, and tests call it directly
(tests/unit/test_hub_decide.py). It lives in nodes/hub/, not protocol/, because it verifies
signatures and reads the directory: crypto, which protocol may not import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta
from typing import Protocol

from crypto.directory import Directory, TrustStore
from crypto.errors import CryptoError
from crypto.note import NoteError, NoteVerifier, verify_cosignature
from crypto.keys import verify_signature
from crypto.signing import CheckSignature, verify_envelope
from crypto.witness import WitnessError, admit_cosignature, required_quorum
from nodes.hub.entry import ACCEPTED, REJECTED, AuditEntry, SeenMessage
from protocol import envelope as wire
from protocol import policy
from protocol.checkpoint import CheckpointError, NoteSignature, SignedNote, parse_note
from protocol.envelope import Envelope
from protocol.errors import DecodeError, ProtocolError
from protocol.policy import Members
from protocol.resend import narrowed
from protocol.timefmt import format_time

# What the relay does with a delivery (Verdict.action).
FORWARD = "forward"  # audited now, then published to its recipients
FOR_HUB = "for_hub"  # audited now, addressed to the hub itself (a witness cosignature): nothing to publish
FORWARD_AGAIN = "forward_again"  # a re-send of an accepted message already in the log: forwarded under that entry
SETTLED = "settled"  # a re-send of a message refused before: its sender was told once, nothing more to do
REFUSE = "refuse"  # audited as rejected with a reason code; the authenticated sender is told
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class Delivery:
    """One message as taken from hub.in: what the broker vouches for, nothing else."""
    body: bytes
    broker_user: str | None  # the AMQP user_id the broker validated against the connection's login
    redelivered: bool = False  # the broker's flag; a re-send is recognised by the log, not by this
    resend_to: str | None = None  # a restored node's re-send (protocol/resend.py): the one recipient it is for


@dataclass(frozen=True)
class Cosignature:
    """A witness's verified cosignature of a hub checkpoint, to be stored (AuditStore.add_cosignatures)."""
    size: int
    witness: str
    signature: NoteSignature
    timestamp: int
    rank: int
    quorum: int

    def as_row(self) -> tuple:
        return (self.size, self.witness, self.signature, self.timestamp, self.rank, self.quorum)


class CheckpointLookup(Protocol):
    """What checking a cosignature reads of the log: one key lookup each, whatever N."""
    def signed_checkpoint(self, size: int) -> SignedNote | None: ...
    def latest_cosignature_time(self, witness: str) -> int | None: ...


@dataclass(frozen=True)
class Context:
    directory: Directory
    trust: TrustStore
    now: datetime  # the batch's clock reading
    max_clock_skew: timedelta
    seen: Mapping[str, SeenMessage]  # ids of this batch already spent in the log
    checkpoints: CheckpointLookup
    revoked: Set[str] = frozenset()  # revoked key ids: a witness with no other key is neither required nor counted
    check_signature: CheckSignature = verify_signature  # or the batch's worker checks (nodes/hub/signature_checks.py)

    @property
    def received_at(self) -> str:
        return format_time(self.now)

    @cached_property
    def members(self) -> Members:
        """The directory's member ids, sorted once per batch rather than once per message."""
        return Members(self.directory.node_ids())


@dataclass(frozen=True)
class Verdict:
    action: str  # FORWARD, FOR_HUB, FORWARD_AGAIN, SETTLED or REFUSE
    entry: AuditEntry  # the audit entry (for FORWARD_AGAIN / SETTLED: the one in the log, seq set)
    envelope: Envelope | None = None
    recipients: tuple[str, ...] = ()
    answer_to: str | None = None  # REFUSE: the authenticated node told with a hub.rejection, if any
    cosignature: Cosignature | None = None  # FOR_HUB witness.cosign

    @property
    def reason(self) -> str | None:
        return self.entry.reason

    @property
    def in_log_already(self) -> bool:
        return self.action in (FORWARD_AGAIN, SETTLED)


class DecisionFailed(Exception):
    """Deciding one delivery failed unexpectedly (a bug, or the log's storage away): `entry` is what
    had been read of it, the cause is chained. decide_batch refuses it alone or re-raises the cause."""

    def __init__(self, entry: AuditEntry, cause: Exception) -> None:
        super().__init__(f"deciding message {entry.message_id} failed: {type(cause).__name__}")
        self.entry, self.cause = entry, cause


@dataclass(frozen=True)
class Reading:
    """What a delivery says of itself: its entry so far, its envelope, or the refusal of bytes that do not decode."""
    delivery: Delivery
    entry: AuditEntry
    envelope: Envelope | None
    refusal: Verdict | None
    failure: Exception | None = None  # a decoder bug behind an internal_error refusal, for the caller's log


def read(delivery: Delivery, received_at: str, directory: Directory) -> Reading:
    """Decode `delivery` (the first step of `decide`; the relay looks up the ids read in the log)."""
    entry = AuditEntry(verdict=REJECTED, digest=hashlib.sha256(delivery.body).hexdigest(),
                       received_at=received_at, broker_user=delivery.broker_user)
    try:
        env = wire.decode(delivery.body)
    except DecodeError as exc:
        entry.message_id, entry.sender, entry.type = exc.message_id, exc.sender, exc.type
        return Reading(delivery, entry, None, refuse(entry, exc.reason, exc.detail, directory))
    except Exception as exc:  # noqa: BLE001 - a decoder bug: this message alone is refused
        detail = f"the hub could not decode this message ({type(exc).__name__})"
        return Reading(delivery, entry, None, refuse(entry, INTERNAL_ERROR, detail, directory), exc)
    entry.message_id, entry.type, entry.sender = env.id, env.type, env.sender
    entry.thread, entry.kid = env.thread, env.sig.kid if env.sig else None
    entry.recipients = env.recipients
    entry.header = dict(env.header) or None
    entry.handling = dict(env.handling)
    return Reading(delivery, entry, env, None)


def decide(delivery: Delivery | Reading, context: Context, spent: Mapping[str, Verdict] | None = None) -> Verdict:
    """The verdict on one delivery. `spent`: verdicts on ids first seen earlier in the same batch.
    Raises DecisionFailed (nothing else) if deciding fails unexpectedly."""
    reading = delivery if isinstance(delivery, Reading) else read(delivery, context.received_at, context.directory)
    if reading.refusal is not None:
        return reading.refusal
    env, entry = reading.envelope, reading.entry
    assert env is not None
    try:
        return _decide_authentic(reading.delivery, env, entry, context, spent or {})
    except (ProtocolError, CryptoError) as exc:
        return refuse(entry, exc.reason, getattr(exc, "detail", "") or str(exc), context.directory, env)
    except Exception as exc:
        raise DecisionFailed(entry, exc) from exc


def _decide_authentic(delivery: Delivery, env: Envelope, entry: AuditEntry, context: Context,
                      spent: Mapping[str, Verdict]) -> Verdict:
    node = context.directory.by_broker_user(delivery.broker_user or "")
    if node is None or node.node_id != env.sender:
        raise ProtocolError("sender_mismatch", f"broker user {delivery.broker_user!r} may not send as {env.sender}")
    verified = verify_envelope(env, context.trust, context.now, context.check_signature)
    entry.digest = verified.digest
    if env.expires_at <= context.now:
        raise ProtocolError("expired", f"expired at {env.expires}")
    if env.created_at > context.now + context.max_clock_skew:
        raise ProtocolError("clock_skew", f"created {env.created} is in the future")
    if delivery.resend_to is not None and not narrowed(_recipients(env, context), delivery.resend_to):
        raise ProtocolError("misrouted", f"a re-send to {delivery.resend_to}, whom message {env.id} is not for")
    previous, first = context.seen.get(env.id), spent.get(env.id)
    if previous is not None or first is not None:
        # The same signed bytes again (same digest, hence same sender, who passed the broker user
        # check above) are a re-send of the audited entry, not a replay: a redelivery after the
        # hub's own crash, a node's publish retried after a confirm timed out, or the sender's
        # delivery assurance re-sending an unreceipted message. Forward it again under the entry
        # already in the log; only a different message under a known id is a replay. A re-send of
        # a message refused before is settled: its sender was told once. (docs/security.md,
        # "Delivery assurance")
        if previous is not None and previous.digest == verified.digest:
            entry.seq = previous.seq
            if previous.verdict != ACCEPTED:
                entry.verdict, entry.reason = previous.verdict, "settled"
                return Verdict(SETTLED, entry, env)
            entry.verdict = ACCEPTED
            return Verdict(FORWARD_AGAIN, entry, env, narrowed(_recipients(env, context), delivery.resend_to))
        if first is not None and first.entry.digest == verified.digest and first.entry.verdict == ACCEPTED:
            return Verdict(FORWARD_AGAIN, first.entry, env,  # twice in one batch: one entry
                           narrowed(first.recipients, delivery.resend_to))
        raise ProtocolError("replay", f"message id {env.id} was already received")
    entry.marks_seen = True  # from here on the id is spent, whatever the verdict
    recipients = narrowed(_recipients(env, context), delivery.resend_to)
    cosignature = None
    if env.body is not None:
        body = wire.decode_body(env)
        policy.check_body(env, body)
        if env.type == "witness.cosign":
            cosignature = check_cosignature(env.sender, body, context)
    entry.verdict, entry.recipients = ACCEPTED, recipients or env.recipients
    return Verdict(FOR_HUB if env.recipients == (policy.HUB_ID,) else FORWARD, entry, env, recipients,
                   cosignature=cosignature)


def _recipients(env: Envelope, context: Context) -> tuple[str, ...]:
    node = context.directory.node(env.sender)
    return policy.resolve_recipients(env, allowed_types=node.allowed_types, countries=context.members)


def refuse(entry: AuditEntry, reason: str, detail: str, directory: Directory,
           envelope: Envelope | None = None) -> Verdict:
    """Refuse: the entry records the reason; the node behind the broker user (if any) is told."""
    entry.verdict, entry.reason, entry.detail = REJECTED, reason, detail[:2000]
    entry.recipients = ()
    node = directory.by_broker_user(entry.broker_user or "")
    return Verdict(REFUSE, entry, envelope, answer_to=None if node is None else node.node_id)


def refuse_internal(delivery: Delivery, error: BaseException, context: Context,
                    entry: AuditEntry | None = None) -> Verdict:
    """Refuse a delivery whose processing failed unexpectedly (`internal_error`), with what can be
    read of it; if even that cannot be written to the log, by the digest of its bytes alone."""
    if entry is None:
        entry = read(delivery, context.received_at, context.directory).entry  # what it says of itself
    entry.header, entry.marks_seen = None, False  # what it carried may be what failed
    detail = f"the hub could not process this message ({type(error).__name__}); it was not forwarded"
    verdict = refuse(entry, INTERNAL_ERROR, detail, context.directory)
    try:
        entry.leaf()
    except Exception:  # noqa: BLE001 - what it says of itself fails too: audit the bytes alone
        return refuse_bare(verdict)
    return verdict


def refuse_bare(verdict: Verdict) -> Verdict:
    """`verdict`'s refusal with the entry stripped to the digest of the raw bytes."""
    e = verdict.entry
    e.message_id = e.sender = e.type = e.thread = e.kid = None
    e.header, e.handling, e.marks_seen = None, None, False
    e.recipients, e.verdict = (), REJECTED
    return Verdict(REFUSE, e, None, answer_to=verdict.answer_to)


DecideOne = Callable[[Reading, Context, Mapping[str, Verdict]], Verdict]


def decide_batch(readings: Iterable[Reading], context: Context,
                 may_refuse_alone: Callable[[AuditEntry, Exception], bool] = lambda entry, exc: True,
                 decide_one: DecideOne | None = None) -> list[Verdict]:
    """The verdicts on a batch, in order. An unexpected failure deciding one delivery refuses it
    alone (`internal_error`), unless `may_refuse_alone(entry, exc)` says no (a transient failure of
    the hub's own storage: it propagates and the batch is retried, nothing refused). `decide_one`:
    `decide` unless the caller wraps it."""
    spent: dict[str, Verdict] = {}
    verdicts = []
    for reading in readings:
        try:
            verdict = (decide_one or decide)(reading, context, spent)
        except Exception as exc:
            entry, cause = (exc.entry, exc.cause) if isinstance(exc, DecisionFailed) else (reading.entry, exc)
            if not may_refuse_alone(entry, cause):
                raise cause from None
            verdict = refuse_internal(reading.delivery, cause, context, entry)
        if verdict.entry.marks_seen and verdict.envelope is not None:
            spent.setdefault(verdict.envelope.id, verdict)
        verdicts.append(verdict)
    return verdicts


def check_cosignature(witness: str, body: Mapping, context: Context) -> Cosignature:
    """A cosignature to store, checked at a cost independent of how many others the checkpoint has."""
    note = context.checkpoints.signed_checkpoint(body["size"])
    if note is None:
        raise ProtocolError("bad_cosignature", f"the hub signed no checkpoint of size {body['size']}")
    try:
        signature = parse_note(note.body + b"\n" + body["signature"].encode() + b"\n").signatures[0]
        # The witness's key that made it: any of its keys valid now (a rotation's overlap has two).
        keys = [NoteVerifier(witness, k, cosigner=True) for k in context.trust.valid_keys(witness, context.now)]
        verifier = next((k for k in keys if k.key_id == signature.key_id), None)
        if verifier is None:
            raise ProtocolError("bad_cosignature", f"cosigned by {signature.name}+{signature.key_id.hex()}, "
                                                   f"which is no key of {witness} valid now")
        timestamp = verify_cosignature(note.body, signature, verifier)
    except (CheckpointError, NoteError) as exc:
        raise ProtocolError("bad_cosignature", str(exc)) from None
    try:
        rank = admit_cosignature(context.directory, witness, timestamp,
                                 context.checkpoints.latest_cosignature_time(witness), context.revoked)
    except WitnessError as exc:
        raise ProtocolError(exc.reason, exc.detail) from None
    return Cosignature(body["size"], witness, signature, timestamp, rank,
                       required_quorum(context.directory, revoked=context.revoked))


__all__ = [
    "FORWARD", "FORWARD_AGAIN", "FOR_HUB", "REFUSE", "SETTLED", "CheckpointLookup", "Context", "Cosignature",
    "DecisionFailed", "Delivery", "Members", "Reading", "Verdict", "check_cosignature", "decide", "decide_batch",
    "read", "refuse", "refuse_bare", "refuse_internal",
]
