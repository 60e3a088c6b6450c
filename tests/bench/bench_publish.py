"""The publisher's own CPU per message (issue 19): Publisher.publish_many with confirms, batches as
the hub publishes them, to a real quorum queue. Run it from two trees (PYTHONPATH) to compare.

    PYTHONPATH=$PWD python -m tests.bench.bench_publish --batches 40 --size 256 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import aio_pika

from nodes.plumbing.amqp import Outgoing, Publisher
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import ADMIN_USER
from tests.support.broker import bench_broker

QUEUE = "bench.publish"


async def _run(url: str, batches: int, size: int, body_size: int) -> float:
    """CPU µs per message (this process, all threads), every confirm awaited."""
    connection = await aio_pika.connect(url)
    async with connection:
        setup = await connection.channel()
        queue = await setup.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        await queue.purge()
        publisher = await Publisher.open(connection, "", ADMIN_USER)
        body = os.urandom(body_size // 2).hex().encode()
        work = [[Outgoing(body, QUEUE, f"m-{b}-{i}", {"x-somex-log": "r" * 200}) for i in range(size)]
                for b in range(batches)]
        cpu = time.process_time()
        for batch in work:
            results = await publisher.publish_many(batch)
            assert not any(results), results
        cpu = time.process_time() - cpu
        await queue.purge()
    return cpu / (batches * size) * 1e6


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_publish")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--size", type=int, default=256, help="messages per publish_many")
    parser.add_argument("--body", type=int, default=900, help="body bytes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    configure_logging("WARNING", json=True)
    with bench_broker("bench-publish") as url:
        figures = [await _run(url, args.batches, args.size, args.body) for _ in range(args.runs)]
        print(f"publisher CPU per message {min(figures):.0f}–{max(figures):.0f} µs "
              f"({', '.join(f'{v:.0f}' for v in figures)}), {args.batches} batches of {args.size}")

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
