"""What a message class declares: its message types, each with its schemas, bounds, rules and
retention. protocol/catalog.py lists the classes; the registry, the policy rules, the retention
table and the types a country or the hub may send are all computed from that one list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from protocol.schema import Schema

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 1 * MiB
DEFAULT_RETENTION_DAYS = 730  # a stored row whose type is not (or no longer) registered


class EnvelopeView(Protocol):
    """What a rule reads of a message: the signed members of its envelope. protocol.envelope's
    `Envelope` is one; rules are typed against this view because the decoder imports the registry
    built from the class modules, which must not import the decoder back (no import cycle)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def recipients(self) -> tuple[str, ...]: ...
    @property
    def thread(self) -> str | None: ...
    @property
    def handling(self) -> Mapping[str, Any]: ...
    @property
    def header(self) -> Mapping[str, Any]: ...


SenderRole = Literal["node", "hub"]
SENDER_ROLES = ("node", "hub")
# A rule that needs the clear body (the sender checks it before sealing, the recipient after opening).
BodyRule = Callable[[EnvelopeView, Mapping[str, Any]], None]
# A rule on the envelope alone, so the hub checks it even for sealed types.
EnvelopeRule = Callable[[EnvelopeView], None]
# The last day (YYYY-MM-DD) a stored message is kept when that depends on its body: (created, body).
KeptUntil = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class MessageType:
    name: str
    sender_role: SenderRole  # "node": the countries may send it; "hub": the hub alone
    header: Schema
    body: Schema  # for sealed types: the schema of the plaintext, checked by the recipient
    sealed: bool = False
    broadcast: bool = False  # may be addressed to "*"
    receipted: bool = False  # the recipient answers with a signed `receipt`
    to_hub: bool = False  # addressed to the hub itself (recipients == ["HUB"]), never forwarded
    max_bytes: int = DEFAULT_MAX_BYTES
    body_rule: BodyRule | None = None
    envelope_rule: EnvelopeRule | None = None
    # How long a stored copy is kept (protocol/retention.py): exactly one of the two, so that no type
    # keeps personal data for a default nobody chose.
    retention_days: int | None = None  # days after `created`
    kept_until: KeptUntil | None = None  # the body decides (document alerts: their review dates)
    # The clear body carries personal data (person alerts): a node stores it only in the signed
    # envelope and lets it out through its journaled read path, like a sealed body.
    personal_data: bool = False
    # The sealed plaintext is raw bytes, not JSON (a file chunk: no base64 layer inside the seal);
    # the body is then {"data": plaintext}, checked against `body` and the body rule like any other.
    raw_plaintext: bool = False
    # The sealed payload travels as raw bytes beside the envelope's JSON in one binary frame
    # (protocol/frame.py), not as base64url text in it; only such a type may, and it must.
    framed: bool = False

    def __post_init__(self) -> None:
        if self.sender_role not in SENDER_ROLES:
            raise ValueError(f"{self.name}: sender_role must be one of {SENDER_ROLES}, not {self.sender_role!r}")
        if (self.retention_days is None) == (self.kept_until is None):
            raise ValueError(f"{self.name}: declare exactly one of retention_days and kept_until")
        if self.raw_plaintext and not self.sealed:
            raise ValueError(f"{self.name}: only a sealed type carries a raw plaintext")
        if self.framed and not self.sealed:
            raise ValueError(f"{self.name}: only a sealed type travels framed")


@dataclass(frozen=True)
class MessageClass:
    """One class of messages (alerts, cases, MLA, ...): declared once, in its own protocol module."""

    name: str
    types: tuple[MessageType, ...]
