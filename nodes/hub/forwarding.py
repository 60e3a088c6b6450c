"""Forwards at the hub: one recipient's copy of a message, a message for several recipients (the
broker makes the copies: docs/broker.md, "Fan-out by the broker"), the publishes that carry them,
and the forwards parked while a recipient's inbox is full (kept in the log's storage, retried,
alarmed until delivered).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import structlog
from aio_pika.abc import AbstractConnection

import broker_config
from nodes.plumbing.amqp import Outgoing, Publisher, PublishNacked
from nodes.plumbing.config import utcnow
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.plumbing.alarms import AlarmBoard


class ParkingStore(Protocol):
    """What the forwarder keeps in the log's storage (nodes/hub/log_storage.py)."""
    def park(self, rows: Sequence[dict[str, Any]]) -> None: ...
    def parked(self, limit: int) -> list[Any]: ...
    def unpark(self, ids: Sequence[int]) -> list[int]: ...
    def parked_counts(self) -> dict[str, int]: ...
    def mark_forwarded(self, seqs: Iterable[int], at: str) -> None: ...

log = structlog.get_logger("somex.hub")


class Forward(NamedTuple):
    """One recipient's copy of a message (parked, retried and marked one by one)."""
    seq: int  # the audit entry that lets this message through
    to: str
    message_id: str
    body: bytes
    headers: dict[str, str]


class Copies(NamedTuple):
    """One message for several recipients: the broker makes the copies (plan_publishes). Kept whole
    until a copy must stand alone: at 190 members, an object per recipient was the hub's largest
    cost per broadcast (issue 23)."""
    seq: int
    recipients: tuple[str, ...]
    message_id: str
    body: bytes
    headers: dict[str, str]

    def each(self, recipients=None) -> list[Forward]:  # noqa: ANN001 - a subset of recipients
        return [Forward(self.seq, to, self.message_id, self.body, self.headers)
                for to in (self.recipients if recipients is None else recipients)]


class Publish(NamedTuple):
    """One publish: `first` to its recipient, and the same message to each of `bcc`."""
    first: Forward
    bcc: tuple[str, ...] = ()

    def each(self) -> list[Forward]:
        f = self.first
        return [f, *(Forward(f.seq, to, f.message_id, f.body, f.headers) for to in self.bcc)]


INBOX_FULL = "inbox_full"  # alarm: a recipient's inbox refuses forwards, which wait parked at the hub


class FanOut:
    """The recipients the broker may copy a message to (`to`: inboxes seen to exist, none holding
    parked forwards), and per recipient list how plan_publishes splits it, worked out once per list
    while `to` stays the same: every broadcast of one sender names the same 189 members at N = 190
    (issue 23). A new member, one gone, a full inbox or one that has room again is a new FanOut."""

    MEMO = 1024  # recipient lists remembered (senders × the lists they multicast to), then forgotten

    def __init__(self, to: Iterable[str]) -> None:
        self.to = frozenset(to)
        self._splits: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def split(self, recipients: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(fanned, alone): the recipients one publish reaches, in order (none unless two or more),
        and those that get a publish each."""
        recipients = tuple(recipients)  # the same tuple when it is one already
        split = self._splits.get(recipients)
        if split is None:
            fanned = tuple(to for to in recipients if to in self.to)
            split = ((fanned, tuple(to for to in recipients if to not in self.to)) if len(fanned) > 1
                     else ((), tuple(recipients)))
            if len(self._splits) >= self.MEMO:
                self._splits.clear()
            self._splits[recipients] = split
        return split


def plan_publishes(forwards: list[Forward | Copies], fan_out_to: FanOut | set[str]) -> list[Publish]:
    """The publishes for `forwards`, in order: the copies of one message to recipients in
    `fan_out_to` make one publish (the broker copies it); every other copy is a publish alone."""
    fan_out = fan_out_to if isinstance(fan_out_to, FanOut) else FanOut(fan_out_to)
    plan: list[Publish] = []
    for forward in forwards:
        if isinstance(forward, Forward):
            plan.append(Publish(forward))
            continue
        fanned, alone = fan_out.split(forward.recipients)
        if fanned:
            first = Forward(forward.seq, fanned[0], forward.message_id, forward.body, forward.headers)
            plan.append(Publish(first, fanned[1:]))
        plan.extend(Publish(f) for f in forward.each(alone))
    return plan


def outgoing(publish: Publish) -> Outgoing:
    f = publish.first
    return Outgoing(f.body, f.to, f.message_id, f.headers, bcc=publish.bcc)


async def existing_inboxes(connection: AbstractConnection, node_ids) -> set[str]:  # noqa: ANN001
    """The nodes among `node_ids` whose inbox queue exists (a passive declare; a missing queue
    closes the channel, so a new one is opened after each)."""
    found: set[str] = set()
    channel = None
    for node_id in node_ids:
        try:
            if channel is None or channel.is_closed:
                channel = await connection.channel()
            await channel.declare_queue(broker_config.inbox_queue(node_id), passive=True)
            found.add(node_id)
        except Exception as exc:  # noqa: BLE001 - NOT_FOUND: that node's publishes go alone, via the AE
            log.warning("inbox missing in the broker: forwards to it are published alone", node=node_id,
                        error=str(exc)[:200], action="apply the federation's broker definitions (somex broker up)")
            channel = None
    if channel is not None:
        await channel.close()
    return found


Send = Callable[[list["Forward | Copies"]], Awaitable[list["Forward"]]]


class Forwarder:
    """Publishes forwards with confirms and keeps what a full inbox refused: parked in the log's
    storage, retried every `retry_interval`, alarmed (inbox_full) until delivered.

    `send` is how the hub forwards (Hub._forward, which opens the publishing channel and calls
    `publish`); parked forwards are retried through it too."""

    def __init__(self, store: ParkingStore, alarms: AlarmBoard, send: Send, retry_interval: float) -> None:
        self._store, self._alarms, self._send = store, alarms, send
        self.retry_interval = retry_interval
        self.routable_inboxes: set[str] = set()  # inboxes seen to exist: a fan-out may include them
        self.parked_recipients: set[str] = set(store.parked_counts())
        self._fan_out = FanOut(())

    async def publish(self, publisher: Publisher, forwards: list[Forward | Copies]) -> list[Forward]:
        """Publish with confirms; return what a full inbox refused. Any other failure raises (the
        batch is redelivered).

        The recipients of one message go out as ONE publish (BCC: the broker makes the copies),
        except those with forwards parked or an inbox not seen to exist, which get a publish of
        their own. A full inbox among the BCC recipients nacks the whole publish while the others
        keep their copy, and nobody can tell which refused: that message alone is then published
        to each of its recipients separately; a recipient that has it already drops the copy by its
        id (exactly-once effect), the full one refuses it again and it is parked.
        """
        fan_out_to = self.routable_inboxes - self.parked_recipients
        if fan_out_to != self._fan_out.to:
            self._fan_out = FanOut(fan_out_to)
        plan = plan_publishes(forwards, self._fan_out)
        results = await publisher.publish_many([outgoing(publish) for publish in plan])
        refused, singly = [], []
        for publish, result in zip(plan, results):
            if isinstance(result, PublishNacked) and publish.bcc:
                singly += publish.each()
            elif isinstance(result, PublishNacked):
                refused.append(publish.first)
            elif result is not None:
                raise result
        if singly:
            log.warning("a fanned-out message was refused by a full inbox: publishing it to each recipient",
                        messages=len({f.message_id for f in singly}), recipients=len(singly))
            for forward, result in zip(singly, await publisher.publish_many([outgoing(Publish(f)) for f in singly])):
                if isinstance(result, PublishNacked):
                    refused.append(forward)
                elif result is not None:
                    raise result
        if refused:  # the next publish asks the queues afresh (docs/broker.md: a nack may be stale)
            self.parked_recipients |= {f.to for f in refused}
            await publisher.renew()
        return refused

    def park(self, parked: list[Forward], at: str) -> None:
        """Keep refused forwards in the log's storage (synchronous: run it in a thread)."""
        self._store.park([{"seq": f.seq, "recipient": f.to, "message_id": f.message_id, "raw": f.body,
                           "headers": json.dumps(f.headers), "parked_at": at} for f in parked])

    def alarm_parked(self, parked: list[Forward]) -> None:
        for recipient in sorted({f.to for f in parked}):
            action = f"bring {recipient}'s node back, or raise its inbox bounds; the hub delivers what is parked"
            self._alarms.raise_alarm(f"{INBOX_FULL}:{recipient}", INBOX_FULL,
                                     f"{recipient}'s inbox is full: forwards to it are parked at the hub; {action}",
                                     count=sum(1 for f in parked if f.to == recipient), node=recipient, action=action)

    async def retry_parked_forever(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                await self.retry_parked()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away; parked rows wait
                log.warning("retrying parked forwards failed; will try again", error=str(exc))

    async def retry_parked(self) -> int:
        """Send parked forwards whose recipient has room again; return how many went out."""
        rows = await asyncio.to_thread(self._store.parked, 1000)
        if not rows:
            self._clear_parked_alarms(set())
            return 0
        forwards = {row.id: Forward(row.seq, row.recipient, row.message_id, row.raw, json.loads(row.headers))
                    for row in rows}
        still_full = await self._send(list(forwards.values()))
        refused = {id(f) for f in still_full}
        sent = [row_id for row_id, f in forwards.items() if id(f) not in refused]
        done = await asyncio.to_thread(self._store.unpark, sent)
        await asyncio.to_thread(self._store.mark_forwarded, done, format_time(utcnow()))
        self._clear_parked_alarms(set(await asyncio.to_thread(self._store.parked_counts)))
        if still_full:
            log.error("recipient inbox still full: forwards stay parked at the hub",
                      parked=await asyncio.to_thread(self._store.parked_counts),
                      action="bring the recipient's node back, or raise its inbox bounds")
        elif sent:
            log.info("parked forwards delivered", count=len(sent))
        return len(sent)

    def _clear_parked_alarms(self, still_parked: set[str]) -> None:
        self.parked_recipients = set(still_parked)
        for alarm in self._alarms.open():
            recipient = alarm.key.removeprefix(f"{INBOX_FULL}:")
            if alarm.key.startswith(f"{INBOX_FULL}:") and recipient not in still_parked:
                self._alarms.clear(alarm.key)
                log.warning("parked forwards delivered: inbox-full alarm cleared", node=recipient)
