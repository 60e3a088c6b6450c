"""Federation rules that a well-formed, authentic message must also satisfy.

Checked by the hub before anything is relayed, and again by each receiving node.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from protocol import messages
from protocol.catalog import REGISTRY
from protocol.envelope import BROADCAST, Envelope
from protocol.errors import PolicyError
from protocol.message_class import BodyRule

HUB_ID = "HUB"

# The rules that need the clear body, by type, as each class declares them (protocol/catalog.py).
BODY_RULES: Mapping[str, BodyRule] = {name: t.body_rule for name, t in REGISTRY.items() if t.body_rule is not None}


def resolve_recipients(
    env: Envelope, *, allowed_types: Collection[str], countries: Collection[str]
) -> tuple[str, ...]:
    """The countries `env` goes to, or PolicyError saying which rule it breaks."""
    spec = messages.lookup(env.type)
    is_hub = env.sender == HUB_ID
    if (spec.sender_role == "hub") != is_hub:
        raise PolicyError("sender_role", f"{env.type} is sent by the {spec.sender_role} only")
    if env.type not in allowed_types:
        raise PolicyError("type_not_allowed", f"{env.sender} may not send {env.type}")
    if spec.envelope_rule is not None:  # on the envelope alone: checked even for sealed types
        spec.envelope_rule(env)
    if spec.to_hub:
        if env.recipients != (HUB_ID,):
            raise PolicyError("bad_recipients", f"{env.type} is addressed to the hub alone")
        return ()
    if env.is_broadcast:
        if not spec.broadcast:
            raise PolicyError("broadcast_not_allowed", f"{env.type} cannot be sent to every node")
        if isinstance(countries, Members):
            return countries.all_but(env.sender)
        return tuple(c for c in countries if c != env.sender)
    unknown = [r for r in env.recipients if r not in countries]
    if unknown:
        raise PolicyError("unknown_recipient", f"not members of the federation: {unknown}")
    if env.sender in env.recipients:
        raise PolicyError("self_addressed", "a node cannot send to itself")
    return env.recipients


class Members(tuple):
    """The federation's members in directory order, with membership by hash (`resolve_recipients`
    asks `r in countries` for each recipient of a multicast: O(N) each on a list) and each sender's
    broadcast recipients written once (`all_but`: the same tuple for every broadcast of one sender,
    so that what the hub writes per recipient list is written once per list; issue 23)."""

    def __new__(cls, ids: Iterable[str]) -> Members:
        members = super().__new__(cls, ids)
        members._set = frozenset(members)  # type: ignore[attr-defined]
        members._all_but = {}  # type: ignore[attr-defined]
        return members

    def __contains__(self, item: object) -> bool:
        return item in self._set  # type: ignore[attr-defined]

    def all_but(self, sender: str) -> tuple[str, ...]:
        """Every member but `sender`, in order."""
        others = self._all_but.get(sender)  # type: ignore[attr-defined]
        if others is None:
            others = self._all_but[sender] = tuple(c for c in self if c != sender)  # type: ignore[attr-defined]
        return others


def check_body(env: Envelope, body: Mapping[str, Any]) -> None:
    rule = BODY_RULES.get(env.type)
    if rule is not None:
        rule(env, body)


def is_for(env: Envelope, node_id: str) -> bool:
    return node_id in env.recipients or (env.is_broadcast and env.sender != node_id)


__all__ = ["BROADCAST", "HUB_ID", "Members", "check_body", "is_for", "resolve_recipients"]
