"""One confirm batch written through aiormq's channel internals, its answers awaited with one wait.

aiormq's `basic_publish` makes an asyncio Future per message, kept in the channel's future store
(with its done callbacks) and resolved by a loop callback per delivery tag; a batch awaited them
all through asyncio.wait. Here each delivery tag gets a `_Slot` in the channel's `confirmations`:
it answers the calls aiormq makes on a confirmation (done, cancelled, set_result, set_exception)
by recording the answer in its batch; the batch has one Future, made by the channel (so a channel
that closes rejects it), resolved when the last message is answered (issue 19,
docs/performance.md). aiormq 7.2's channel internals: hence its pin in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Protocol

import aiormq
from aiormq import spec
from aiormq.abc import ChannelFrame
from pamqp.constants import FRAME_BODY, FRAME_END_CHAR
from pamqp.header import ContentHeader

_BODY_FRAME_HEAD = struct.Struct(">BHI")  # AMQP 0-9-1 frame: type, channel, payload size


class Publishable(Protocol):
    body: bytes
    routing_key: str
    message_id: str


class Confirmations:
    """The broker's answers to one confirm batch, by position: the Ack or Nack frame, a
    DeliveryError (returned, nacked), the error that closed the channel, or None (no answer yet)."""

    def __init__(self, channel: aiormq.Channel, message_ids: Sequence[str], first_tag: int) -> None:
        self._channel, self._message_ids, self._first_tag = channel, message_ids, first_tag
        self.answers: list[object] = [None] * len(message_ids)
        self._unanswered = len(message_ids)
        self._slots = [_Slot(self, i) for i in range(len(message_ids))]
        self._all = channel.create_future()  # rejected by the channel if it closes first
        if not message_ids:
            self._all.set_result(None)

    def answer(self, index: int, answer: object) -> None:
        if self.answers[index] is not None:
            return
        self.answers[index] = answer
        self._forget(index)
        self._unanswered -= 1
        if self._unanswered == 0 and not self._all.done():
            self._all.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Until every message is answered, the channel closes, or `timeout` seconds pass."""
        await asyncio.wait([self._all], timeout=timeout)
        if self._all.done() and not self._all.cancelled() and (closed := self._all.exception()) is not None:
            for i, answer in enumerate(self.answers):
                if answer is None:
                    self.answer(i, closed)

    def abandon(self) -> None:
        """Stop waiting: a late answer for an unanswered delivery tag is ignored (by aiormq, at DEBUG)."""
        for i, answer in enumerate(self.answers):
            if answer is None:
                self._slots[i].abandoned = True
                self._forget(i)
        if not self._all.done():
            self._all.cancel()

    def _forget(self, index: int) -> None:
        ids, message_id = self._channel.message_id_delivery_tag, self._message_ids[index]
        if ids.get(message_id) == self._first_tag + index:
            ids.pop(message_id)


class _Slot:
    """One delivery tag's confirmation, as aiormq's channel uses it (`_confirm_delivery`,
    `_on_return_frame`)."""

    __slots__ = ("abandoned", "batch", "index")

    def __init__(self, batch: Confirmations, index: int) -> None:
        self.batch, self.index, self.abandoned = batch, index, False

    def done(self) -> bool:
        return self.abandoned or self.batch.answers[self.index] is not None

    def cancelled(self) -> bool:
        return self.abandoned

    def set_result(self, frame: object) -> None:
        self.batch.answer(self.index, frame)

    def set_exception(self, error: BaseException) -> None:
        self.batch.answer(self.index, error)


async def write_publishes(channel: aiormq.Channel, exchange: str,
                          items: Sequence[tuple[Publishable, spec.Basic.Properties]]) -> Confirmations:
    """aiormq's `basic_publish` for a whole batch: one frame buffer written under the channel's
    lock, each message registered under its delivery tag and message id, as `basic_publish` does."""
    if channel.is_closed:
        raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} is closed")
    payload = bytearray()
    for m, properties in items:
        if len(m.routing_key) > 255:
            raise ValueError("routing key too long (max 255 bytes)")
        payload += ChannelFrame.marshall(channel_number=channel.number, frames=[
            spec.Basic.Publish(exchange=exchange, routing_key=m.routing_key, mandatory=True),
            ContentHeader(properties=properties, body_size=len(m.body))]).payload
        _add_body_frames(payload, channel.number, m.body, channel.max_content_size)
    buffer = ChannelFrame(payload=payload, should_close=False)  # type: ignore[arg-type]  # written as is: bytes-like
    async with channel.lock:
        first = channel.delivery_tag + 1
        confirmations = Confirmations(channel, [m.message_id for m, _ in items], first)
        for tag, ((m, _), slot) in enumerate(zip(items, confirmations._slots), first):
            channel.confirmations[tag] = slot
            channel.message_id_delivery_tag[m.message_id] = tag
        channel.delivery_tag = first + len(items) - 1
        try:
            await channel.write_queue.put(buffer)
        except BaseException:  # nothing was sent: give the delivery tags back, as basic_publish does
            for tag in range(first, first + len(items)):
                channel.confirmations.pop(tag, None)
            confirmations.abandon()
            channel.delivery_tag = first - 1
            raise
    return confirmations


def _add_body_frames(payload: bytearray, channel_number: int, body: bytes, max_size: int) -> None:
    """The body's content frames appended to `payload`: the body copied once, into the buffer the
    connection writes (aiormq's `_split_body` and pamqp's marshalling copied a 7.5 MiB file chunk
    three times over: a bytes per frame, each frame joined, then the frames joined)."""
    view = memoryview(body)
    for start in range(0, len(view), max_size):
        piece = view[start:start + max_size]
        payload += _BODY_FRAME_HEAD.pack(FRAME_BODY, channel_number, len(piece))
        payload += piece
        payload += FRAME_END_CHAR


__all__ = ["Confirmations", "write_publishes"]
