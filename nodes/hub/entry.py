"""One audit log entry and the leaf the Merkle tree commits to: plain values, no I/O.

Shared by the hub's pure decisions (nodes/hub/decide.py), which fill entries in, and the log
(storage, sequencer), which numbers and stores them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.canonical import canonical_json
from protocol.errors import DecodeError

ACCEPTED, REJECTED, ISSUED, DEAD_LETTERED, UNROUTABLE, REQUEUED = (
    "accepted", "rejected", "issued", "dead_lettered", "unroutable", "requeued",
)
LEAF_FIELDS = ("seq", "message_id", "type", "sender", "broker_user", "recipients", "thread", "digest", "kid",
               "verdict", "reason", "detail", "received_at", "header", "handling")


@dataclass
class AuditEntry:
    verdict: str
    digest: str  # Envelope.digest() when decodable, else SHA-256 of the raw bytes
    received_at: str
    message_id: str | None = None
    type: str | None = None
    sender: str | None = None
    broker_user: str | None = None
    recipients: Sequence[str] = ()
    thread: str | None = None
    kid: str | None = None
    reason: str | None = None
    detail: str | None = None
    header: dict[str, Any] | None = None  # the envelope's header: what auditors may see (e.g. MLA status)
    handling: dict[str, Any] | None = None  # the envelope's handling code and condition, as the sender declared
    marks_seen: bool = False  # an authentic message whose id is now spent
    seq: int = field(default=-1)
    leaf_hash: bytes = b""

    def leaf(self) -> bytes:
        """The canonical JSON the tree commits to. It can always be written: strings with lone
        surrogates (which JSON allows and RFC 8785 refuses, so only a message the hub rejects can
        carry them) are recorded with U+FFFD in their place; the raw message's digest is kept.

        The recipient list, which names every member of a broadcast, is written once per
        recipient set (`recipients_json`) and set in place of an empty list: RFC 8785 writes an
        object's members in key order, each as its own value's canonical form, so the bytes are
        those of `canonical_json` over the whole entry (`leaf_of_whole`;
        tests/unit/test_audit_entry.py)."""
        try:
            recipients = recipients_json(tuple(self.recipients))
            leaf = canonical_json(self._content([]))
        except DecodeError:  # lone surrogates somewhere (or what JCS cannot write: refused as before)
            return self.leaf_of_whole()
        # The top level's member: only scalars follow it ("sender" .. "verdict"), and a string's
        # JSON escapes its quotes, so no later text can match.
        at = leaf.rindex(_EMPTY_RECIPIENTS) + len(b'"recipients":')  # at its "[]"
        return b"".join((leaf[:at], recipients, leaf[at + 2:]))

    def leaf_of_whole(self) -> bytes:
        """`leaf`, written as one canonical JSON object (what `leaf` must equal, byte for byte)."""
        content = self._content(list(self.recipients))
        try:
            return canonical_json(content)
        except DecodeError:  # protocol.canonical refuses lone surrogates this way
            return canonical_json(without_lone_surrogates(content))

    def _content(self, recipients: list[str]) -> dict[str, Any]:
        return {
            "seq": self.seq, "message_id": self.message_id, "type": self.type, "sender": self.sender,
            "broker_user": self.broker_user, "recipients": recipients, "thread": self.thread,
            "digest": self.digest, "kid": self.kid, "verdict": self.verdict, "reason": self.reason,
            "detail": self.detail, "received_at": self.received_at, "header": self.header,
            "handling": self.handling,
        }


@functools.lru_cache(maxsize=1024)
def recipients_json(recipients: tuple[str, ...]) -> bytes:
    """The canonical JSON of a recipient list, written once per list: at 190 members, writing the
    189 names of each broadcast was the largest part of the hub's cost that grew with N (issue 23).
    DecodeError if JCS cannot write it (a lone surrogate), as canonical_json."""
    return canonical_json(list(recipients))


@functools.lru_cache(maxsize=1024)
def recipients_column(recipients: tuple[str, ...]) -> str:
    """The log table's `recipients` column for a recipient list (JSON, lone surrogates replaced as in
    the leaf), written once per list."""
    return without_lone_surrogates(json.dumps(list(recipients)))


_EMPTY_RECIPIENTS = b'"recipients":[],"sender":'
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_lone_surrogates(v) for v in value]
    return value


@dataclass(frozen=True)
class SeenMessage:
    seq: int
    digest: str
    verdict: str = "accepted"  # of the entry that spent the id: only an accepted one is forwarded again


def decode_leaf(leaf: bytes) -> dict[str, Any]:
    return json.loads(leaf)
