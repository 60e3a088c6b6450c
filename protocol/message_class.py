"""What a message class declares: its message types, each with its schemas, bounds, rules and
retention. protocol/catalog.py lists the classes; the registry, the policy rules, the retention
table and the types a country or the hub may send are all computed from that one list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from protocol.schema import Schema

if TYPE_CHECKING:  # protocol.envelope imports the registry, which is built from these declarations
    from protocol.envelope import Envelope

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 1 * MiB
DEFAULT_RETENTION_DAYS = 730  # a stored message of a type that declares no retention of its own

SenderRole = Literal["node", "hub"]
SENDER_ROLES = ("node", "hub")
# A rule that needs the clear body (the sender checks it before sealing, the recipient after opening).
BodyRule = Callable[["Envelope", Mapping[str, Any]], None]
# A rule on the envelope alone, so the hub checks it even for sealed types.
EnvelopeRule = Callable[["Envelope"], None]
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
    retention_days: int = DEFAULT_RETENTION_DAYS  # days after `created` a stored copy is kept...
    kept_until: KeptUntil | None = None  # ...unless its body decides (then retention_days is unused)

    def __post_init__(self) -> None:
        if self.sender_role not in SENDER_ROLES:
            raise ValueError(f"{self.name}: sender_role must be one of {SENDER_ROLES}, not {self.sender_role!r}")


@dataclass(frozen=True)
class MessageClass:
    """One class of messages (alerts, cases, MLA, ...): declared once, in its own protocol module."""

    name: str
    types: tuple[MessageType, ...]
