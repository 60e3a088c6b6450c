"""The hub's watchdog over the recipients' inboxes: an inbox that holds messages and has not gone
down for `inbox_stall_alarm` seconds (its node stopped, hung or gone) raises an alarm at the hub.

The broker answers a passive queue.declare with the queue's message and consumer counts; the hub
asks for each node's inbox every `inbox_watch_interval` seconds. The rule (pure) is `InboxTrend`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog

import broker_config
from nodes.plumbing.alarms import AlarmBoard

log = structlog.get_logger("somex.hub.inboxes")
INBOX_STALLED = "inbox_stalled"


@dataclass
class InboxTrend:
    """Since when an inbox has held messages without going down (None: it is empty or draining)."""
    depth: int = 0
    stalled_since: float | None = None

    def observe(self, depth: int, now: float) -> float | None:
        if depth == 0 or depth < self.depth:
            self.stalled_since = None
        elif self.stalled_since is None:
            self.stalled_since = now
        self.depth = depth
        return self.stalled_since


async def watch_inboxes(hub, alarms: AlarmBoard) -> None:  # noqa: ANN001 - nodes.hub.relay.Hub
    trends: dict[str, InboxTrend] = {}
    channel = None
    while True:
        await asyncio.sleep(hub.config.inbox_watch_interval)
        connection = hub.session.connection if hub.session else None
        if connection is None or connection.is_closed:
            channel = None
            continue
        try:
            if channel is None or channel.is_closed:
                channel = await connection.channel()
            for node_id in hub.directory.node_ids():
                queue = await channel.declare_queue(broker_config.inbox_queue(node_id), passive=True)
                hub.routable_inboxes.add(node_id)  # a member added since connecting: its inbox exists now
                result = queue.declaration_result
                depth, consumers = result.message_count, result.consumer_count
                since = trends.setdefault(node_id, InboxTrend()).observe(depth, time.monotonic())
                key = f"{INBOX_STALLED}:{node_id}"
                if since is not None and time.monotonic() - since >= hub.config.inbox_stall_alarm:
                    alarms.raise_alarm(
                        key, INBOX_STALLED,
                        f"{node_id}'s inbox holds {depth} message(s) and has not been consumed for "
                        f"{time.monotonic() - since:.0f} s ({consumers} consumer(s)): its node is stopped or hung; "
                        "tell its operator (messages wait in the inbox, nothing is lost until it fills)",
                        count=depth, node_id=node_id, consumers=consumers)
                else:
                    alarms.clear(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the broker went away or refused: try again later
            log.warning("cannot read the inboxes' depth; will try again", error=str(exc))
            channel = None


__all__ = ["INBOX_STALLED", "InboxTrend", "watch_inboxes"]
