"""The hub's CPU per message for small batches, in process and without a broker (issue 19): what its
per-batch costs (transactions, thread hops) weigh at the rates where batches are small.

`Hub._process` through `settle_batch`, deliveries faked as in tests/integration/test_pipeline_fuzz.py,
every publish confirmed; SQLite WAL synchronous=FULL in a temporary directory.

    PYTHONPATH=$PWD python -m tests.bench.bench_hub_batches --size 1 --batches 400
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import structlog

from crypto.signing import sign_envelope
from nodes.app.ceremony import init_federation
from nodes.hub.relay import Hub
from nodes.plumbing.amqp import settle_batch
from nodes.plumbing.config import BrokerAddress, HubConfig, new_message_id, utcnow
from nodes.plumbing.federation import load_federation
from nodes.plumbing.heap import settle_heap
from nodes.plumbing.logs import configure_logging
from protocol import envelope as wire
from tests.integration.test_pipeline_fuzz import FakeDelivery

WARMUP = 5  # batches not timed


async def run(size: int, batches: int, work: Path) -> tuple[float, float]:
    """(CPU µs, wall µs) per message."""
    init_federation(work / "federation", "somex-bench", ["MEX", "IDN"], utcnow())
    federation = load_federation(work / "federation", utcnow())
    hub = Hub(HubConfig(work / "federation", f"sqlite:///{work / 'audit.db'}", BrokerAddress()), federation)

    async def confirmed(forwards):  # noqa: ANN001, ANN202 - every publish confirmed
        return []

    hub._forward = confirmed  # type: ignore[method-assign]
    key, user = federation.credentials("MEX").signing_key, federation.directory.node("MEX").broker_user

    def note() -> FakeDelivery:
        env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender="MEX", recipients=["IDN"],
                                       created=utcnow(), ttl=timedelta(hours=1), body={"text": "x" * 600}), key)
        return FakeDelivery(wire.encode(env), user, env.id)

    work_batches = [[note() for _ in range(size)] for _ in range(batches + WARMUP)]
    log = structlog.get_logger("bench")
    for batch in work_batches[:WARMUP]:
        await settle_batch(batch, hub._process, hub._refuse_alone, log, hub.alarms)
    settle_heap()  # as nodes/app/serve.py does once the hub started
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in work_batches[WARMUP:]:
        await settle_batch(batch, hub._process, hub._refuse_alone, log, hub.alarms)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await hub.stop()
    return cpu / (batches * size) * 1e6, wall / (batches * size) * 1e6


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_hub_batches")
    parser.add_argument("--size", type=int, default=1, help="messages per batch")
    parser.add_argument("--batches", type=int, default=400)
    args = parser.parse_args(argv)
    configure_logging("WARNING", json=True)
    with tempfile.TemporaryDirectory(prefix="somex-bench-") as tmp:
        cpu, wall = asyncio.run(run(args.size, args.batches, Path(tmp)))
    print(f"hub, batches of {args.size}: CPU {cpu:.0f} µs per message (all threads), wall {wall:.0f} µs")


if __name__ == "__main__":
    main(sys.argv[1:])
