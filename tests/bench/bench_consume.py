"""The consumer's own CPU per delivery (issue 19): aio-pika's IncomingMessage and task per delivery
against nodes/plumbing/deliveries.py's Delivered from aiormq, both through consume_in_batches with a
handler that only acks (ack_batch), on a real quorum queue; alternated in the same run.

    PYTHONPATH=$PWD python -m tests.bench.bench_consume --messages 20000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import aio_pika
import structlog

from nodes.plumbing.alarms import AlarmBoard
from nodes.plumbing.amqp import ack_batch, consume_in_batches
from nodes.plumbing.deliveries import consume
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import ADMIN_USER
from tests.support.broker import bench_broker

QUEUE = "bench.consume"
PREFETCH, BATCH = 512, 256  # the hub's defaults


async def _fill(url: str, n: int, size: int) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.purge()
        body, window = os.urandom(size // 2).hex().encode(), asyncio.Semaphore(512)

        async def publish(i: int) -> None:
            async with window:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, message_id=f"m-{i}", user_id=ADMIN_USER, delivery_mode=2,
                                     headers={"x-somex-log": "r" * 200}), routing_key=QUEUE)

        await asyncio.gather(*(publish(i) for i in range(n)))


async def _drain(url: str, n: int, direct: bool) -> float:
    """CPU µs per delivery (this process, all threads) to consume and ack `n` messages."""
    connection = await aio_pika.connect(url)
    inbox: asyncio.Queue = asyncio.Queue()
    done = asyncio.Event()
    count = [0]

    async def handle(batch: list, retry: bool) -> None:
        await ack_batch(batch)
        count[0] += len(batch)
        if count[0] >= n:
            done.set()

    async def refuse(message: object, error: BaseException) -> None:
        raise error

    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        worker = asyncio.create_task(consume_in_batches(inbox, handle, BATCH, structlog.get_logger("bench"),
                                                        refuse=refuse, alarms=AlarmBoard()))
        cpu = time.process_time()
        if direct:
            await consume(channel, QUEUE, inbox, "bench")
        else:
            await (await channel.get_queue(QUEUE, ensure=False)).consume(inbox.put, consumer_tag="bench")
        await asyncio.wait_for(done.wait(), 300)
        cpu = time.process_time() - cpu
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    return cpu / n * 1e6


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_consume")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=900, help="body bytes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    configure_logging("WARNING", json=True)
    with bench_broker("bench-consume") as url:
        figures: dict[str, list[float]] = {"aio-pika IncomingMessage": [], "aiormq Delivered": []}
        for _ in range(args.runs):
            for label, direct in (("aio-pika IncomingMessage", False), ("aiormq Delivered", True)):
                await _fill(url, args.messages, args.size)
                figures[label].append(await _drain(url, args.messages, direct))
        for label, values in figures.items():
            print(f"{label:<26} consumer CPU per delivery {min(values):.0f}–{max(values):.0f} µs "
                  f"({', '.join(f'{v:.0f}' for v in values)}), {args.messages} deliveries a run, batches "
                  f"of up to {BATCH}, prefetch {PREFETCH}")

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
