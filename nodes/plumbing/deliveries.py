"""Consuming a queue through aiormq directly: one small `Delivered` value per delivery.

aio-pika wraps each delivery in an `IncomingMessage` (every AMQP property decoded into an
attribute, expiration and timestamp parsed) and runs the consumer callback in a task of its own on
top of aiormq's; the hub and the nodes read five fields of it. Here aiormq's DeliveredMessage
becomes a frozen `Delivered` with just those, put on the consumer's queue, and settled by its
delivery tag on the channel it came on (issue 19, docs/performance.md).

Prefetch, consumer tags, cancellation and reconnection stay the channel's and BrokerSession's:
`consume` only registers the callback on the channel's aiormq channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiormq
from aio_pika.abc import AbstractChannel

NO_HEADERS: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a consumer reads of one delivery, and how it settles it."""

    body: bytes
    user_id: str | None  # validated by the broker: the sending node's broker user
    message_id: str | None
    headers: Mapping[str, Any]
    redelivered: bool
    delivery_tag: int
    channel: aiormq.abc.AbstractChannel

    @classmethod
    def of(cls, message: aiormq.abc.DeliveredMessage) -> Delivered:
        properties = message.header.properties
        delivery = message.delivery
        return cls(message.body, properties.user_id, properties.message_id, properties.headers or NO_HEADERS,
                   bool(delivery.redelivered), delivery.delivery_tag, message.channel)

    async def ack(self, multiple: bool = False) -> None:
        await self.channel.basic_ack(self.delivery_tag, multiple=multiple)

    async def nack(self, requeue: bool = True) -> None:
        await self.channel.basic_nack(self.delivery_tag, requeue=requeue)

    async def reject(self, requeue: bool = False) -> None:
        await self.channel.basic_reject(self.delivery_tag, requeue=requeue)


async def consume(channel: AbstractChannel, queue: str, inbox: asyncio.Queue[Delivered], consumer_tag: str) -> None:
    """Consume `queue` (declared by the broker's definitions, not here) on `channel`: each delivery
    goes onto `inbox` as a Delivered, in delivery order."""

    async def deliver(message: aiormq.abc.DeliveredMessage) -> None:
        inbox.put_nowait(Delivered.of(message))

    underlay = await channel.get_underlay_channel()
    await underlay.basic_consume(queue, deliver, consumer_tag=consumer_tag)


__all__ = ["Delivered", "consume"]
