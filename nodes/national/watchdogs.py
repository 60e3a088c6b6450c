"""A node's watchdogs: conditions raised as alarms (health, console, ERROR log) instead of info lines.

- hub_silent: the node published messages that call for an answer from the hub and heard nothing
  from it for `hub_silence_alarm` seconds. The sender never sees the log receipt of its own
  message (it travels to the recipients), so the liveness signal is anything that comes through
  the hub: a checkpoint (signed within seconds of any new entry, so of ours), a rejection, a
  recipient's receipt, any forwarded message with its log receipt.
- clock_skew: this host's clock differs from the hub's by more than `clock_skew_alarm`, judged
  from the hub's log receipts (`at`), checkpoints and rejections (protocol/clock.py) — raised
  before the hub's own bound (5 min) starts refusing messages.
- outgoing_rejected: the hub refused a message this node sent (one alarm per reason, counted).
- delivery_overdue: nodes/national/delivery.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from crypto.signing import VerifiedEnvelope
from nodes.national import delivery
from nodes.plumbing.alarms import AlarmBoard
from nodes.plumbing.config import utcnow
from protocol import messages
from protocol.clock import ClockWatch
from protocol.envelope import Envelope
from protocol.errors import DecodeError
from protocol.timefmt import parse_time

if TYPE_CHECKING:
    from nodes.national.parts import EffectTable, NodeBasics

HUB_SILENT, CLOCK_SKEW, OUTGOING_REJECTED = "hub_silent", "clock_skew", "outgoing_rejected"


class Watchdogs:
    def __init__(self, node: EffectTable) -> None:
        self.node = node
        self.alarms: AlarmBoard = node.alarms
        self.clock = ClockWatch(node.config.clock_skew_alarm)
        self._expecting: set[str] = set()  # queued ids whose publication the hub answers (see module doc)
        self._unanswered_since: float | None = None  # monotonic time of the first publish not yet answered
        self._last_heard: float | None = None

    def install(self) -> None:
        witness = self.node.effects["hub.checkpoint"]

        def on_checkpoint(n: Any, conn: Connection, verified: VerifiedEnvelope,
                          body: Mapping[str, Any] | None) -> Sequence[Envelope] | None:
            self.heard_from_hub(verified.envelope.created)
            return witness(n, conn, verified, body)

        self.node.effects["hub.checkpoint"] = on_checkpoint

    # -- hooks ----------------------------------------------------------------------------------

    def queued(self, envs: Iterable[Envelope]) -> None:
        """Envelopes entering the outbox: all but messages to the hub itself (cosignatures are
        answered by a checkpoint only after `idle_checkpoint_interval`) get an answer within seconds."""
        self._expecting.update(e.id for e in envs if not messages.lookup(e.type).to_hub)

    def published(self, message_ids: Iterable[str]) -> None:
        answered = [m for m in message_ids if m in self._expecting]
        if answered:
            self._expecting.difference_update(answered)
            if self._unanswered_since is None:
                self._unanswered_since = time.monotonic()

    def heard_from_hub(self, hub_time: str) -> None:
        """Something the hub stamped with `hub_time` reached this node."""
        self._last_heard, self._unanswered_since = time.monotonic(), None
        self.alarms.clear(HUB_SILENT)
        try:
            stamped = parse_time(hub_time)
        except DecodeError:
            return
        verdict = self.clock.observe(stamped, utcnow())
        if verdict.skewed:
            self.alarms.raise_alarm(
                CLOCK_SKEW, CLOCK_SKEW,
                f"{verdict.describe()} (alarm at {self.clock.threshold.total_seconds():g} s; the hub refuses "
                "messages beyond its own bound): fix this host's clock (NTP)",
                count=1, offset_seconds=round(verdict.offset.total_seconds(), 1))
        else:
            self.alarms.clear(CLOCK_SKEW)

    def outgoing_rejected(self, verified: VerifiedEnvelope, body: Mapping[str, Any]) -> None:
        self.heard_from_hub(verified.envelope.created)
        reason = body["reason"]
        self.alarms.raise_alarm(
            f"{OUTGOING_REJECTED}:{reason}", OUTGOING_REJECTED,
            f"the hub refused message(s) this node sent: {reason} ({body['detail'][:200]}); "
            "see /api/messages/<id> for each, fix the cause, send again",
            message_id=body.get("of"), rejected_reason=reason)

    # -- the periodic check ---------------------------------------------------------------------

    def check_hub_silence(self) -> None:
        since = self._unanswered_since
        limit = self.node.config.hub_silence_alarm
        if since is not None and time.monotonic() - since > limit:
            self.alarms.raise_alarm(
                HUB_SILENT, HUB_SILENT,
                f"no checkpoint, receipt or rejection from the hub for {time.monotonic() - since:.0f} s while "
                f"messages this node published await it (alarm at {limit:g} s): check the hub and the broker",
                count=1)

    async def run(self) -> None:
        interval = min(1.0, self.node.config.hub_silence_alarm / 4)
        while True:
            await asyncio.sleep(interval)
            self.check_hub_silence()


def health_counts(node: NodeBasics) -> dict[str, int]:
    with node.store.engine.connect() as conn:
        return delivery.counts(conn)


__all__ = ["CLOCK_SKEW", "HUB_SILENT", "OUTGOING_REJECTED", "Watchdogs", "health_counts"]
