"""Dead letters and unroutable messages at the hub: audited, kept with their bytes, their sender
told, never silent; and put back on an operator's request (`somex hub requeue-dead`,
docs/audit-log.md, "Dead letters").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from aio_pika.abc import AbstractIncomingMessage

from nodes.hub.entry import ACCEPTED, AuditEntry
from nodes.hub.forwarding import Forward
from nodes.plumbing import amqp
from nodes.plumbing.config import utcnow
from protocol import envelope as wire
from protocol import policy
from protocol.receipts import HEADER as LOG_HEADER
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.hub.hub_core import HubCore

log = structlog.get_logger("somex.hub")


def dead_letter_watcher(hub: HubCore, verdict: str):  # noqa: ANN201
    """A consumer of the dead-letter or unroutable queue: each message kept and audited as `verdict`."""
    async def watch(message: AbstractIncomingMessage) -> None:
        delay = amqp.RETRY_FIRST_DELAY
        while True:  # held, never nacked: a requeue loop only fills the log with failures
            try:
                await keep_dead_letter(hub, message, verdict)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - storage trouble: retried, alarmed
                action = "free disk space or bring the database back; dead letters wait in their queue"
                if hub.alarms.raise_alarm(amqp.STORAGE_ALARM, "storage_unavailable",
                                           f"{str(exc)[:500]}; {action}", action=action):
                    log.error("ALARM: could not keep and audit a dead letter; holding it and retrying",
                              verdict=verdict, error=str(exc)[:500], message_id=message.message_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, amqp.RETRY_MAX_DELAY)
        if hub.alarms.clear(amqp.STORAGE_ALARM):
            log.warning("dead letters are kept and audited again: alarm cleared")
        await message.ack()

    return watch


async def keep_dead_letter(hub: HubCore, message: AbstractIncomingMessage, verdict: str) -> None:
    """Audit a dead letter with what can be read of it, keep its bytes, tell its sender."""
    names = wire.read_names(message.body)
    at = format_time(utcnow())
    entry = AuditEntry(
        verdict=verdict, digest=hashlib.sha256(message.body).hexdigest(), received_at=at,
        message_id=names["id"], type=names["type"], sender=names["sender"], thread=names["thread"],
        broker_user=message.user_id, reason=verdict, detail=_death_summary(message),
    )
    sender = _dead_letter_sender(hub, message, names)
    notice = None if sender is None else hub.rejection_notice(
        entry, verdict, f"the broker could not deliver this message ({entry.detail}); the hub keeps it and an "
                        "operator can put it back (somex hub requeue-dead)", sender)
    kept = {"message_id": names["id"], "broker_user": message.user_id, "queue": _death_queue(message),
            "routing_key": message.routing_key, "raw": message.body,
            "headers": json.dumps(_plain_headers(message.headers)), "kept_at": at}
    async with hub.log_lock:
        await asyncio.to_thread(hub.store.append, [entry] if notice is None else [entry, notice[1]], kept)
    hub.messages_since_checkpoint += 1
    log.error("message could not be delivered: kept at the hub and audited", verdict=verdict,
              message_id=entry.message_id, type=entry.type, sender=entry.sender, thread=entry.thread,
              seq=entry.seq, detail=entry.detail, told=sender,
              action="fix the cause, then `somex hub requeue-dead` puts it back")
    if notice is not None:
        try:
            forwards = [hub.rejection_forward(*notice)]
            parked = await hub.forward(forwards)
            done = {f.seq for f in forwards} - {f.seq for f in parked}
            await asyncio.to_thread(hub.store.mark_forwarded, done, format_time(utcnow()))
        except Exception as exc:  # noqa: BLE001 - kept and audited already; the answer is best effort
            log.warning("could not tell the sender about its dead letter", error=str(exc), told=sender,
                        message_id=entry.message_id)

def _dead_letter_sender(hub: HubCore, message: AbstractIncomingMessage, names: dict) -> str | None:
    """Whom to tell: the authenticated broker user's node; for a message the hub forwarded (it
    died in an inbox), the envelope's sender if the log accepted that very message."""
    node = hub.directory.by_broker_user(message.user_id or "")
    if node is not None and node.node_id != policy.HUB_ID:
        return node.node_id
    if names["id"] is None or names["sender"] in (None, policy.HUB_ID):
        return None
    seen = hub.store.seen([names["id"]]).get(names["id"])
    if seen is None or seen.verdict != ACCEPTED or names["sender"] not in hub.directory.node_ids():
        return None
    return names["sender"]


# -- putting dead letters back ---------------------------------------------------------------

async def requeue_dead_forever(hub: HubCore) -> None:
    while True:
        await asyncio.sleep(min(hub.config.parked_retry_interval, 1.0))
        try:
            await requeue_dead(hub)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - storage or broker away: the request waits
            log.warning("putting dead letters back failed; will try again", error=str(exc))


async def requeue_dead(hub: HubCore) -> int:
    """Put back the dead letters an operator asked for (`somex hub requeue-dead`): one that died
    in hub.in is processed again as a redelivery (a new decision, or a re-forward of its entry);
    one that died in an inbox is forwarded again with its log receipt."""
    rows = await asyncio.to_thread(hub.store.requeue_requested)
    for row in rows:
        if (row.queue or "").startswith("node."):
            headers = {k: v for k, v in json.loads(row.headers).items() if k == LOG_HEADER}
            recipient = row.queue.split(".")[1]
            await hub.forward([Forward(row.seq, recipient, row.message_id or "", row.raw, headers)])
        else:
            delivery = _KeptDelivery(row.raw, row.broker_user, row.message_id or "")
            await amqp.settle_batch([delivery], hub.process, hub.refuse_alone, log, hub.alarms)
        await asyncio.to_thread(hub.store.mark_requeued, row.id, format_time(utcnow()))
        log.warning("dead letter put back", dead_letter=row.id, message_id=row.message_id, queue=row.queue)
    return len(rows)


class _OpenChannel:
    is_closed = False


@dataclass
class _KeptDelivery:
    """A kept dead letter handed to the pipeline as a redelivery from hub.in (acks are no-ops)."""
    body: bytes
    user_id: str | None
    message_id: str
    headers: dict = field(default_factory=dict)
    redelivered: bool = True
    channel: _OpenChannel = field(default_factory=lambda: _OpenChannel())
    routing_key: str = ""

    async def ack(self, multiple: bool = False) -> None:
        return None

    async def reject(self, requeue: bool = False) -> None:
        raise RuntimeError("a put-back dead letter failed again; it stays kept")


def _death_queue(message: AbstractIncomingMessage) -> str | None:
    deaths = (message.headers or {}).get("x-death") or []
    first = deaths[0] if isinstance(deaths, list) and deaths else None
    queue = first.get("queue") if isinstance(first, dict) else None
    return queue.decode() if isinstance(queue, bytes) else queue


def _plain_headers(headers: object) -> dict:
    """Headers as JSON can hold them (the log receipt is a string; x-death is summarised elsewhere)."""
    plain = {}
    for key, value in (headers or {}).items() if isinstance(headers, dict) else ():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, (str, int, float, bool)) or value is None:
            plain[str(key)] = value
    return plain


def _death_summary(message: AbstractIncomingMessage) -> str:
    deaths = (message.headers or {}).get("x-death") or []
    parts = []
    for death in deaths if isinstance(deaths, list) else []:
        if isinstance(death, dict):
            parts.append(f"{death.get('queue')}: {death.get('reason')} x{death.get('count')}")
    return "; ".join(parts) or f"routing key {message.routing_key!r} on {message.exchange!r}"
