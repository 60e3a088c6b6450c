"""A restored node gets back what it missed (docs/operations.md, "Restoring a node").

What a node received after its backup was acknowledged to the broker and is gone with the
database it restored over. Its peers still hold what they sent it: every sent envelope stays in
their `messages` table (direction `out`, the signed bytes, sealed payloads still sealed to the
recipient) until its retention date.

- The restored node (`somex node restore`, `ask_peers`) queues one signed `resend.request` to each
  peer, naming the window it lost: from the newest message of that peer it holds (less MARGIN, for
  messages that overtook one another) to the restore. It goes out when the node starts.
- The peer (`Resender`, the effect of a `resend.request`) selects what it sent the requester in
  that window and publishes those SAME signed envelopes again, with the RESEND_TO header naming the
  requester. The hub forwards each to the requester alone, under its existing audit entry (it
  refuses an expired one, `expired`; a message it never saw is audited as new); the requester
  stores it once (it deduplicates by id) and applies its effect once, and sends its receipt.

Nothing is weakened: the request is an ordinary signed, audited message (a forged one fails the
signature check, a replayed id is refused `replay` by the hub, a re-delivered one is deduplicated
by id at the peer); the re-sends are the original signed bytes, so the recipient checks them as
it checked them the first time.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, func, select

from crypto.signing import VerifiedEnvelope, sign_envelope
from nodes.national import delivery
from nodes.national.store import messages, queue_outgoing
from nodes.plumbing.amqp import Outgoing, Publisher
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.federation import Federation
from protocol import envelope as wire
from protocol import policy
from protocol.resend import RESEND_TO, WINDOW
from protocol.timefmt import format_time, parse_time


class ResendingNode(Protocol):
    """What the Resender needs of the node (nodes/national/node.py)."""
    country: str
    log: Any

    def call_soon(self, callback: Callable[[], Any]) -> None: ...
    async def publisher(self, delay: float) -> Publisher | None: ...

log = structlog.get_logger("somex.resend")

REQUEST = "resend.request"
MARGIN = timedelta(minutes=10)  # before the newest message held of a peer: messages may overtake one another
REQUEST_TTL = timedelta(days=7)  # the node may stay stopped that long after the restore
DELIVERY_DEADLINE = timedelta(minutes=10)  # no receipt by then: the request is re-sent (delivery.py)
BATCH = 500
HELD = 1000  # at most this many ids of messages held per request (protocol/core_messages.py)
NOT_RESENT = (REQUEST, "receipt")  # receipts: the restored node re-sends what it sent and gets them again


# -- the restored node ----------------------------------------------------------------------------

def windows(conn: Connection, peers: Sequence[str], now: datetime) -> dict[str, tuple[str, list[str]]]:
    """Per peer: where the lost window starts, and the ids of the messages of that peer held from
    there on (the peer skips them: nothing comes again that the node has). The start is the newest
    message of that peer held, less MARGIN (messages may overtake one another), but no earlier than
    its HELD-th newest; the newest message of anyone if none of that peer; the whole WINDOW if none."""
    newest = dict(conn.execute(select(messages.c.sender, func.max(messages.c.created))
                               .where(messages.c.direction == "in").group_by(messages.c.sender)).all())
    anyone = max(newest.values(), default=None)
    floor = now - WINDOW
    starts: dict[str, tuple[str, list[str]]] = {}
    for peer in peers:
        held = newest.get(peer) or anyone
        start = parse_time(held) - MARGIN if held else floor
        since = format_time(min(max(start, floor), now - timedelta(seconds=1)))
        recent = conn.execute(select(messages.c.message_id, messages.c.created)
                              .where((messages.c.direction == "in") & (messages.c.sender == peer)
                                     & (messages.c.created >= since))
                              .order_by(messages.c.created.desc()).limit(HELD)).all()
        if len(recent) == HELD:  # a busy peer: the window starts at the HELD-th newest held
            since = recent[-1].created
        starts[peer] = (since, sorted(r.message_id for r in recent))
    return starts


def ask_peers(engine: Engine, federation: Federation, country: str, now: datetime) -> dict[str, Any]:
    """Queue a signed `resend.request` to each peer in the restored database's outbox (sent when
    the node starts). Returns what was asked of whom, and the peers whose directory entry does not
    allow the type yet (docs/operations.md)."""
    directory = federation.directory
    key = federation.credentials(country).signing_key
    allowed = directory.node(country).allowed_types
    peers = [n for n in directory.node_ids() if n != country]
    if REQUEST not in allowed:
        return {"asked": {}, "not_asked": peers,
                "why": f"the directory does not allow {country} to send {REQUEST} (an older directory)"}
    until = format_time(now)
    envs = []
    with engine.begin() as conn:
        starts = windows(conn, peers, now)
        for peer, (since, held) in starts.items():
            body = {"since": since, "until": until, "held": held}
            env = wire.build(message_id=new_message_id(), type=REQUEST, sender=country, recipients=[peer],
                             created=now, ttl=REQUEST_TTL, body=body)
            policy.resolve_recipients(env, allowed_types=allowed, countries=directory.node_ids())
            policy.check_body(env, body)
            envs.append(sign_envelope(env, key))
        _queue(conn, envs, now)
    return {"asked": {e.recipients[0]: {"message_id": e.id, "since": starts[e.recipients[0]][0], "until": until}
                      for e in envs}, "not_asked": [], "why": None}


def _queue(conn: Connection, envs: Sequence[Any], now: datetime) -> None:
    """What NationalNode.enqueue writes, for a node that is not running: outbox, `messages`, tracking."""
    stamp = format_time(now)
    queue_outgoing(conn, envs, [wire.encode(e) for e in envs], stamp)
    delivery.track(conn, envs, now, DELIVERY_DEADLINE.total_seconds())


# -- the peer -------------------------------------------------------------------------------------

class Resender:
    """The effect of a `resend.request` and the task that publishes what it selected."""

    def __init__(self, node: ResendingNode) -> None:
        self.node = node
        self.pending: deque[tuple[str, str, bytes]] = deque()  # (to, message id, signed bytes)
        self.wake = asyncio.Event()
        self.resent = 0  # published since start (tests and the log read it)

    def on_request(self, node: Any, conn: Connection, verified: VerifiedEnvelope,
                   body: Mapping[str, Any] | None) -> None:
        """Select what this node sent the requester in the window, unexpired, and queue it."""
        assert body is not None
        env = verified.envelope
        to, now = env.sender, utcnow()
        since, held = format_time(parse_time(body["since"])), set(body.get("held", ()))
        until = format_time(min(parse_time(body["until"]), parse_time(env.created)))
        rows = conn.execute(select(messages.c.message_id, messages.c.recipients, messages.c.raw)
                            .where((messages.c.direction == "out") & (messages.c.sender == self.node.country)
                                   & messages.c.type.not_in(NOT_RESENT) & (messages.c.created >= since)
                                   & (messages.c.created <= until))
                            .order_by(messages.c.created)).all()
        chosen, expired, not_kept = [], 0, 0
        for message_id, recipients, raw in rows:
            named = json.loads(recipients)
            if (to not in named and policy.BROADCAST not in named) or message_id in held:
                continue
            if not raw:  # its copy is not kept (a file chunk once sent): nothing to re-send
                not_kept += 1
                continue
            if wire.decode(raw).expires_at <= now:
                expired += 1  # the hub would refuse it `expired`
                continue
            chosen.append((to, message_id, raw))
        self.pending.extend(chosen)
        self.node.call_soon(self.wake.set)
        self.node.log.warning("a restored node asked for what it missed: re-sending it", message_id=env.id,
                              thread=env.thread, requester=to, since=since, until=until, resending=len(chosen),
                              expired_not_resent=expired, copy_not_kept=not_kept)

    async def run(self) -> None:
        """Publish the queued re-sends with the RESEND_TO header; a failed publish is retried."""
        delay = 0.2
        while True:
            if not self.pending:
                self.wake.clear()
                await self.wake.wait()
            batch = [self.pending.popleft() for _ in range(min(BATCH, len(self.pending)))]
            publisher = await self.node.publisher(delay)
            results = [RuntimeError("no broker link")] * len(batch) if publisher is None else \
                await publisher.publish_many([Outgoing(raw, self.node.country, mid, headers={RESEND_TO: to})
                                              for to, mid, raw in batch])
            failed = [item for item, r in zip(batch, results) if r is not None]
            self.resent += len(batch) - len(failed)
            for to, mid, _ in batch:
                log.debug("message re-sent to a restored node", message_id=mid, recipient=to)
            if failed:
                self.pending.extendleft(reversed(failed))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.2


__all__ = ["MARGIN", "REQUEST", "Resender", "ask_peers", "windows"]
