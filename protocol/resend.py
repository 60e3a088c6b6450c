"""Recovering what a restored node lost (docs/operations.md, "Restoring a node"): the rules of a
`resend.request` and of the re-sends that answer it, pure.

A node restored from a backup asks each peer for what the peer sent it in a window; the peer
publishes those same signed envelopes again with the RESEND_TO header naming the one recipient,
and the hub forwards such a re-send to that recipient alone (`narrowed`), never to the others the
message was addressed to (they have it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from protocol.errors import ProtocolError
from protocol.message_class import EnvelopeView
from protocol.timefmt import parse_time

# The AMQP header of a re-send: the one recipient it is for. It is not signed, and needs not be:
# the hub honours it only on a message from its own authenticated sender, and it can only narrow
# the recipients the signed envelope names.
RESEND_TO = "somex-resend-to"

# The longest window one request may name: a peer re-sends at most this much of what it sent (and
# only what has not expired: the hub refuses an expired envelope whoever sends it).
WINDOW = timedelta(days=30)


def window_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """`since` before `until`, at most WINDOW apart (a `resend.request`'s body rule)."""
    since, until = parse_time(body["since"]), parse_time(body["until"])
    if since >= until:
        raise ProtocolError("bad_body", f"resend window: since {body['since']} is not before until {body['until']}")
    if until - since > WINDOW:
        raise ProtocolError("bad_body", f"resend window longer than {WINDOW.days} days")


def narrowed(recipients: Sequence[str], resend_to: str | None) -> tuple[str, ...]:
    """The recipients a delivery goes to: all of them, or for a re-send the one it names if it is
    one of them (else none: a re-send cannot reach anyone the message was not for)."""
    if resend_to is None:
        return tuple(recipients)
    return (resend_to,) if resend_to in recipients else ()


__all__ = ["RESEND_TO", "WINDOW", "narrowed", "window_rule"]
