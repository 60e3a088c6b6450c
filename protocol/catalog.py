"""The one list of message classes. Everything that depends on which message types exist — the
registry the decoder looks types up in, the policy rules, the retention table, the types a country
or the hub may send (written into the directory) — is computed from CLASSES; add a class here,
and nowhere else (docs/adding-a-message-class.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol import alerts, cases, core_messages, files, mla, person, profiles
from protocol.message_class import MessageClass, MessageType

CLASSES: tuple[MessageClass, ...] = (
    core_messages.MESSAGE_CLASS,
    alerts.MESSAGE_CLASS,
    cases.MESSAGE_CLASS,
    mla.MESSAGE_CLASS,
    person.MESSAGE_CLASS,
    profiles.MESSAGE_CLASS,
    files.MESSAGE_CLASS,
)


def index(classes: Iterable[MessageClass]) -> dict[str, MessageType]:
    """Every type of `classes` by name; a name declared twice is a programming error."""
    registry: dict[str, MessageType] = {}
    for message_class in classes:
        for message_type in message_class.types:
            if message_type.name in registry:
                raise ValueError(f"message type {message_type.name} is declared twice (class {message_class.name})")
            registry[message_type.name] = message_type
    return registry


def sent_by(registry: Mapping[str, MessageType], role: str) -> frozenset[str]:
    """The types whose sender role is `role`: what a directory entry of that role allows by default."""
    return frozenset(name for name, spec in registry.items() if spec.sender_role == role)


REGISTRY: Mapping[str, MessageType] = index(CLASSES)
COUNTRY_TYPES = sent_by(REGISTRY, "node")  # every country's default `allowed_types`
HUB_TYPES = sent_by(REGISTRY, "hub")  # the hub's
