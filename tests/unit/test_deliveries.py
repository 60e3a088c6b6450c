"""Delivered (nodes/plumbing/deliveries.py): what the consumers read of an aiormq delivery, and
settling it by its delivery tag on the channel it came on."""

from __future__ import annotations

import asyncio

import pytest
from aiormq import spec
from aiormq.abc import DeliveredMessage
from pamqp.header import ContentHeader

from nodes.plumbing import deliveries
from nodes.plumbing.deliveries import Delivered


class Channel:
    """An aiormq channel as far as settling and consuming go: records the frames it would send."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.consumers: dict = {}

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.sent.append(("ack", delivery_tag, multiple))

    async def basic_nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        self.sent.append(("nack", delivery_tag, multiple, requeue))

    async def basic_reject(self, delivery_tag: int, *, requeue: bool = True) -> None:
        self.sent.append(("reject", delivery_tag, requeue))

    async def basic_consume(self, queue: str, callback, *, consumer_tag: str):  # noqa: ANN001, ANN201
        self.consumers[consumer_tag] = (queue, callback)

    async def get_underlay_channel(self):  # noqa: ANN201 - the aio-pika channel's side of it
        return self


def delivered_message(channel: Channel, tag: int, *, redelivered: bool = False, headers: dict | None = None,
                      user_id: str | None = "mex", message_id: str | None = "m1") -> DeliveredMessage:
    return DeliveredMessage(
        delivery=spec.Basic.Deliver(consumer_tag="c", delivery_tag=tag, redelivered=redelivered,
                                    exchange="hub.in", routing_key="MEX"),
        header=ContentHeader(properties=spec.Basic.Properties(user_id=user_id, message_id=message_id,
                                                              headers=headers)),
        body=b'{"v":1}', channel=channel)


def test_delivered_carries_what_the_consumers_read() -> None:
    channel = Channel()
    d = Delivered.of(delivered_message(channel, 7, redelivered=True, headers={"x-resend-to": "IDN"}))
    assert (d.body, d.user_id, d.message_id, d.redelivered, d.delivery_tag) == (b'{"v":1}', "mex", "m1", True, 7)
    assert d.headers == {"x-resend-to": "IDN"} and d.channel is channel
    bare = Delivered.of(delivered_message(channel, 8, headers=None, user_id=None, message_id=None))
    assert (bare.headers, bare.user_id, bare.message_id, bare.redelivered) == ({}, None, None, False)


async def test_delivered_settles_by_its_tag_on_its_channel() -> None:
    channel = Channel()
    first, second, third = (Delivered.of(delivered_message(channel, tag)) for tag in (1, 2, 3))
    await second.ack(multiple=True)
    await first.nack(requeue=False)
    await third.reject(requeue=False)
    await third.ack()
    assert channel.sent == [("ack", 2, True), ("nack", 1, False, False), ("reject", 3, False), ("ack", 3, False)]


def test_delivered_is_frozen() -> None:
    d = Delivered.of(delivered_message(Channel(), 1))
    with pytest.raises(AttributeError):
        d.body = b"other"  # type: ignore[misc]


async def test_consume_puts_each_delivery_on_the_inbox_in_order() -> None:
    channel = Channel()
    inbox: asyncio.Queue[Delivered] = asyncio.Queue()
    await deliveries.consume(channel, "hub.in", inbox, "somex-hub")  # type: ignore[arg-type]
    queue, callback = channel.consumers["somex-hub"]
    assert queue == "hub.in"
    for tag in (1, 2, 3):
        await callback(delivered_message(channel, tag))
    assert [inbox.get_nowait().delivery_tag for _ in range(3)] == [1, 2, 3]
