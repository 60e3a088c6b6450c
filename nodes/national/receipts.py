"""Receipts at the sending node: a recipient's signed receipt counts only for a message this node
sent to its signer, with that message's digest (a forged or misdirected one is refused
`receipt_mismatch`); an accepted one is recorded, settles the delivery it answers
(nodes/national/delivery.py), and is handed to the features that care (Feature.receipt_effects)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy import Connection, insert, select

from crypto.signing import VerifiedEnvelope
from nodes.national import delivery
from nodes.national.store import messages, receipts, record_refusal
from nodes.plumbing.config import utcnow
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

log = structlog.get_logger("somex.receipts")

# (apply the feature's effect of an accepted receipt in this transaction)
Follower = Callable[[Connection, VerifiedEnvelope, Mapping[str, Any]], None]


def mismatch(conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any]) -> ProtocolError | None:
    """Why this receipt does not count, or None: it must answer a message this node sent to its
    signer, with that message's digest."""
    sender = verified.envelope.sender
    sent = conn.execute(select(messages.c.digest, messages.c.recipients).where(
        (messages.c.message_id == body["of"]) & (messages.c.direction == "out"))).first()
    if sent is None or f'"{sender}"' not in sent.recipients or sent.digest != body["digest"]:
        return ProtocolError("receipt_mismatch", f"a receipt from {sender} for {body['of']} that this node did not "
                                                 "send to it with that digest")
    return None


def accept(conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any] | None,
           followers: Sequence[Follower] = ()) -> None:
    """The inbox effect of a `receipt`, in the storing transaction."""
    assert body is not None
    env = verified.envelope
    error = mismatch(conn, verified, body)
    if error is not None:
        record_refusal(conn, env.id, env.sender, error.reason, f"{error.reason}: {error.detail}",
                       format_time(utcnow()))
        log.warning("receipt refused", message_id=env.id, thread=env.thread, reason=error.reason,
                    detail=error.detail)
        return
    existing = conn.execute(receipts.select().where(
        (receipts.c.of == body["of"]) & (receipts.c.by == env.sender) & (receipts.c.kind == body["kind"]))).first()
    if existing is None:
        conn.execute(insert(receipts), {"of": body["of"], "by": env.sender, "kind": body["kind"],
                                        "receipt_id": verified.id, "at": body["at"], "reason": body.get("reason")})
    delivery.settle(conn, body["of"], env.sender, delivery.SETTLED, body["at"])
    for follow in followers:
        follow(conn, verified, body)


__all__ = ["Follower", "accept", "mismatch"]
