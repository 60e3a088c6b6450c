"""Confirmations (nodes/plumbing/confirms.py) answered by aiormq's own confirm handling: one wait
per confirm batch, each message its own answer, the channel's delivery tags and message ids kept
as aiormq's `basic_publish` keeps them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from functools import partial

import aiormq
import pytest
from aiormq import spec
from aiormq.exceptions import DeliveryError

from nodes.plumbing.amqp import Outgoing
from nodes.plumbing.confirms import write_publishes


class Channel:
    """The parts of an aiormq 7.2 Channel that publishing and confirming use; the confirm handling
    itself is aiormq's (`_on_confirm_frame`, `_confirm_delivery`), run on this."""

    number, is_closed, publisher_confirms, max_content_size = 1, False, True, 128 * 1024

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.lock, self.write_queue = asyncio.Lock(), asyncio.Queue()
        self.delivery_tag = 0
        self.confirmations: OrderedDict = OrderedDict()
        self.message_id_delivery_tag: dict[str, int] = {}
        self._split_body = partial(aiormq.Channel._split_body, self)
        self._confirm_delivery = partial(aiormq.Channel._confirm_delivery, self)

    def create_future(self) -> asyncio.Future:
        return self.loop.create_future()

    async def confirm(self, frame: object) -> None:
        await aiormq.Channel._on_confirm_frame(self, frame)  # type: ignore[arg-type]
        await asyncio.sleep(0)  # aiormq answers a `multiple` confirm through call_soon
        await asyncio.sleep(0)


def _items(*ids: str) -> list:
    return [(Outgoing(b"x", "IDN", i), spec.Basic.Properties(message_id=i)) for i in ids]


async def test_a_multiple_ack_answers_the_batch_and_one_wait_returns() -> None:
    channel = Channel()
    confirmations = await write_publishes(channel, "node.out", _items("a", "b", "c"))
    assert channel.write_queue.qsize() == 1 and channel.delivery_tag == 3
    assert channel.message_id_delivery_tag == {"a": 1, "b": 2, "c": 3}
    await channel.confirm(spec.Basic.Ack(delivery_tag=3, multiple=True))
    await asyncio.wait_for(confirmations.wait(30), 5)
    assert all(isinstance(a, spec.Basic.Ack) for a in confirmations.answers)
    assert channel.message_id_delivery_tag == {} and not channel.confirmations
    later = await write_publishes(channel, "node.out", _items("d"))  # counted on from the right tag
    assert list(channel.confirmations) == [4]
    await channel.confirm(spec.Basic.Ack(delivery_tag=4))
    await asyncio.wait_for(later.wait(30), 5)


async def test_each_message_gets_its_own_answer() -> None:
    channel = Channel()
    confirmations = await write_publishes(channel, "node.out", _items("a", "b", "c"))
    await channel.confirm(spec.Basic.Nack(delivery_tag=2))
    await channel.confirm(spec.Basic.Ack(delivery_tag=1))
    assert confirmations.answers[2] is None  # c: not yet
    await channel.confirm(spec.Basic.Ack(delivery_tag=3))
    await asyncio.wait_for(confirmations.wait(30), 5)
    ack, nack, ack3 = confirmations.answers
    assert isinstance(ack, spec.Basic.Ack) and isinstance(ack3, spec.Basic.Ack)
    assert isinstance(nack, DeliveryError) and isinstance(nack.frame, spec.Basic.Nack)


async def test_a_closing_channel_answers_every_unanswered_message_with_its_error() -> None:
    channel = Channel()
    confirmations = await write_publishes(channel, "node.out", _items("a", "b"))
    await channel.confirm(spec.Basic.Ack(delivery_tag=1))
    closed = aiormq.exceptions.ChannelInvalidStateError("closed")
    confirmations._all.set_exception(closed)  # what the channel's future store does when it closes
    await asyncio.wait_for(confirmations.wait(30), 5)
    assert isinstance(confirmations.answers[0], spec.Basic.Ack) and confirmations.answers[1] is closed


async def test_after_a_timeout_a_late_confirm_is_ignored() -> None:
    channel = Channel()
    confirmations = await write_publishes(channel, "node.out", _items("a", "b"))
    await channel.confirm(spec.Basic.Ack(delivery_tag=1))
    await confirmations.wait(0.05)
    confirmations.abandon()
    assert confirmations.answers[1] is None and channel.message_id_delivery_tag == {}
    await channel.confirm(spec.Basic.Ack(delivery_tag=2))
    assert confirmations.answers[1] is None and not channel.confirmations


async def test_a_failed_write_gives_the_delivery_tags_back() -> None:
    channel = Channel()

    async def refuse(_buffer: object) -> None:
        raise ConnectionResetError("gone")

    channel.write_queue.put = refuse  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        await write_publishes(channel, "node.out", _items("a", "b"))
    assert channel.delivery_tag == 0 and not channel.confirmations and not channel.message_id_delivery_tag
