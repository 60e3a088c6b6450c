"""settle_batch (nodes/plumbing/amqp.py) without a broker: one failing message is narrowed down and
refused alone; a failure of our own storage holds the batch unacked (never nacked) and retries it."""

from __future__ import annotations

import asyncio

import aiormq
import pytest
import sqlalchemy.exc
import structlog

from nodes.plumbing import amqp
from nodes.plumbing.alarms import AlarmBoard as Alarms



class FakeChannel:
    is_closed = False


class FakeMessage:
    def __init__(self, n: int) -> None:
        self.n, self.message_id, self.channel = n, f"m{n}", FakeChannel()
        self.nacked = self.rejected = False

    async def nack(self, requeue: bool = True) -> None:
        self.nacked = True

    async def reject(self, requeue: bool = False) -> None:
        self.rejected = True


LOG = structlog.get_logger("test")


async def test_one_failing_message_is_refused_alone_and_the_rest_handled_once() -> None:
    batch = [FakeMessage(n) for n in range(9)]
    committed: list[int] = []
    refused: list[int] = []

    async def handle(part, retry):  # noqa: ANN001, ANN202 - all or nothing, like a transaction
        if any(m.n == 5 for m in part):
            raise RuntimeError("a bug that message 5 triggers")
        committed.extend(m.n for m in part)

    async def refuse(message, error):  # noqa: ANN001, ANN202
        refused.append(message.n)

    alarms = Alarms()
    await amqp.settle_batch(batch, handle, refuse, LOG, alarms)
    assert sorted(committed) == [0, 1, 2, 3, 4, 6, 7, 8] and len(committed) == 8
    assert committed == sorted(committed)  # delivery order kept (batches ack with `multiple`)
    assert refused == [5]
    assert not any(m.nacked for m in batch) and alarms.raised == 0


async def test_storage_failure_holds_the_batch_raises_and_clears_an_alarm_and_never_nacks(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(amqp, "RETRY_MAX_DELAY", 0.05)
    batch = [FakeMessage(n) for n in range(3)]
    attempts: list[bool] = []
    alarms = Alarms()
    seen_open: list[bool] = []

    async def handle(part, retry):  # noqa: ANN001, ANN202
        attempts.append(retry)
        seen_open.append(alarms.is_open(amqp.STORAGE_ALARM))
        if len(attempts) <= 3:
            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database or disk is full"))

    async def refuse(message, error):  # noqa: ANN001, ANN202
        raise AssertionError("a storage failure refuses nothing")

    await asyncio.wait_for(amqp.settle_batch(batch, handle, refuse, LOG, alarms), 10)
    assert attempts == [False, True, True, True]
    assert seen_open == [False, True, True, True]
    assert alarms.raised == 1 and alarms.cleared == 1 and not alarms.open()
    assert not any(m.nacked or m.rejected for m in batch)


@pytest.mark.parametrize("closed", [ConnectionError("channel closed"),
                                    # what a publish on a channel closed by a missed heartbeat raises (a
                                    # RuntimeError): once refused as `internal_error` (CI, test_hang.py)
                                    aiormq.exceptions.ChannelInvalidStateError("<Channel: 1> is closed")])
async def test_a_batch_whose_channel_closed_is_left_to_the_broker(closed: Exception) -> None:
    batch = [FakeMessage(n) for n in range(2)]

    async def handle(part, retry):  # noqa: ANN001, ANN202
        for m in part:
            m.channel.is_closed = True
        raise closed

    refused: list[int] = []

    async def refuse(message, error):  # noqa: ANN001, ANN202
        refused.append(message.n)

    await asyncio.wait_for(amqp.settle_batch(batch, handle, refuse, LOG, Alarms()), 5)
    assert refused == [] and not any(m.rejected or m.nacked for m in batch)  # the broker redelivers them


async def test_a_message_that_cannot_even_be_refused_is_dead_lettered_not_retried() -> None:
    batch = [FakeMessage(n) for n in range(3)]

    async def handle(part, retry):  # noqa: ANN001, ANN202
        if any(m.n == 1 for m in part):
            raise ValueError("bug")

    async def refuse(message, error):  # noqa: ANN001, ANN202
        raise KeyError("a second bug")

    await asyncio.wait_for(amqp.settle_batch(batch, handle, refuse, LOG, Alarms()), 5)
    assert [m.rejected for m in batch] == [False, True, False]


class SizedMessage(FakeMessage):
    def __init__(self, n: int, size: int) -> None:
        super().__init__(n)
        self.body = bytes(size)


async def test_a_batch_stops_growing_at_its_byte_bound_so_large_messages_are_taken_a_few_at_a_time() -> None:
    """The consumer decodes and holds a batch whole: 4 MiB file chunks go one at a time however many
    the prefetch delivered, small messages still up to the count bound, nothing reordered or left."""
    chunk, small = 4 * 1024 * 1024, 1500
    inbox: asyncio.Queue = asyncio.Queue()
    messages = [SizedMessage(n, chunk) for n in range(5)] + [SizedMessage(n, small) for n in range(5, 305)]
    for m in messages:
        inbox.put_nowait(m)
    batches: list[list[int]] = []

    async def handle(part, retry):  # noqa: ANN001, ANN202
        batches.append([m.n for m in part])

    async def refuse(message, error):  # noqa: ANN001, ANN202
        raise AssertionError("nothing fails here")

    worker = asyncio.create_task(amqp.consume_in_batches(inbox, handle, 256, LOG, refuse=refuse, alarms=Alarms()))
    try:
        while sum(map(len, batches)) < len(messages):
            await asyncio.sleep(0.01)
    finally:
        worker.cancel()
    assert amqp.MAX_BATCH_BYTES == chunk
    assert batches[:4] == [[0], [1], [2], [3]]  # a chunk reaches the bound alone
    assert batches[4] == [4] and len(batches[5]) == 256  # the last chunk, then small ones up to the count bound
    assert [n for b in batches for n in b] == list(range(305))
