"""Fixed offered load, end to end: latency percentiles at a steady rate, the raw aio-pika relay of
the same shape as the baseline in the same run; and a soak mode (`--soak SECONDS`) that keeps the
rate up for minutes and reports loss and the process's memory over time.

    .venv/bin/python -m tests.bench.bench_load --rate 300 --seconds 20
    .venv/bin/python -m tests.bench.bench_load --rate 200 --soak 600

By default the hub and each node run in processes of their own (the load generator inside the
sending node's, as a focal point's submissions would be), and the raw relay's producer, relay and
consumer likewise (tests/bench/roles.py). `--one-process` runs everything in this process, as the
first measurements did. The soak (tests/bench/soak.py) likewise runs the hub and each node in its
own process and prints, every minute, each process's resident memory, the messages sent, stored and
in flight, and the latency p50/p99 of that minute, then a verdict (nothing lost, memory flat within
10 % after the first 5 minutes):

    .venv/bin/python -m tests.bench.bench_load --soak 3600 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from nodes.national.store import messages as message_table
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import PrivateBroker, free_port
from protocol.timefmt import parse_time
from tests.bench import roles
from tests.bench.soak import rss_mib, soak_in_processes
from tests.support.broker import admin_vhost
from tests.bench.bench_relay import RawRelay, sample_alert, sample_envelope
from tests.bench.stats import Run
from tests.integration.federation import make_federation

async def raw_fixed_rate(url: str, rate: float, seconds: float, size: int) -> Run:
    relay = await RawRelay.open(url, size, prefix="load")

    async def offer(k: int) -> None:
        await asyncio.gather(*(relay.publish() for _ in range(k)))

    start = time.perf_counter()
    offered = await roles.steady(rate, seconds, offer)
    await relay.wait_for(offered, timeout=120)
    elapsed = time.perf_counter() - start
    await relay.close()
    return Run(f"raw aio-pika relay @ {rate:g}/s", len(relay.latencies), elapsed, relay.latencies)


async def somex_fixed_rate(broker: PrivateBroker, workdir: Path, rate: float, seconds: float, text_size: int,
                           *, sample_every: float = 0.0) -> tuple[Run, int, list[tuple[float, float]]]:
    """Alerts MEX → IDN at `rate`; returns the run, how many were offered, and (t, RSS MiB) samples."""
    fed = make_federation(broker, workdir, f"load-{int(rate)}", countries=["MEX", "IDN"])
    await fed.start_hub()
    sender, recipient = await fed.start_node("MEX"), await fed.start_node("IDN")
    await fed.hub.wait_connected()
    await asyncio.wait_for(recipient.session.connected.wait(), 30)
    body = sample_alert("MEX", text_size)
    memory: list[tuple[float, float]] = []
    t0 = time.monotonic()

    async def offer(k: int) -> None:
        await sender.submit([sender.build("alert.document", ["IDN"], body=body) for _ in range(k)])
        if sample_every and (not memory or time.monotonic() - t0 - memory[-1][0] >= sample_every):
            memory.append((time.monotonic() - t0, rss_mib(os.getpid())))

    def count() -> int:
        with recipient.store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(message_table)
                                .where(message_table.c.direction == "in",
                                       message_table.c.type == "alert.document")).scalar_one()

    start = time.perf_counter()
    offered = await roles.steady(rate, seconds, offer)
    deadline = time.monotonic() + 300
    while await asyncio.to_thread(count) < offered and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - start
    with recipient.store.engine.connect() as conn:
        rows = conn.execute(select(message_table.c.created, message_table.c.stored_at)
                            .where(message_table.c.direction == "in", message_table.c.type == "alert.document")).all()
    latencies = [(parse_time(stored) - parse_time(created)).total_seconds() * 1000 for created, stored in rows]
    await fed.stop_all()
    return Run(f"somex path (alerts) @ {rate:g}/s", len(rows), elapsed, latencies), offered, memory


async def raw_in_processes(url: str, rate: float, seconds: float, size: int, broker_pid: int | None) -> Run:
    measured = await roles.raw_in_processes(url, size, ("rate", rate, seconds), f"load{int(rate)}", broker_pid)
    return Run.of(f"raw aio-pika relay @ {rate:g}/s", measured)


async def somex_in_processes(broker: PrivateBroker, workdir: Path, rate: float, seconds: float,
                             text_size: int) -> tuple[Run, int]:
    measured = await roles.somex_in_processes(
        broker, workdir, f"load-{int(rate)}", "alert.document", ("rate", rate, seconds, sample_alert("MEX", text_size)))
    return Run.of(f"somex path (alerts) @ {rate:g}/s", measured), measured.offered


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_load")
    parser.add_argument("--rate", type=float, action="append", help="offered msg/s (repeatable; default 100, 300, 1000: the goal of issue 8 is p99 < 50 ms at 1,000/s)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--soak", type=float, default=0, help="instead: one somex run this long, sampled every minute")
    parser.add_argument("--every", type=float, default=60, help="soak: seconds between samples")
    parser.add_argument("--warmup", type=float, default=300, help="soak: memory is judged after this many seconds")
    parser.add_argument("--text", type=int, default=1000)
    parser.add_argument("--one-process", action="store_true", help="everything in this process")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("SOMEX_LOG_LEVEL", "WARNING"), json=True)
    rates = args.rate or [100.0, 300.0, 1000.0]
    with tempfile.TemporaryDirectory(prefix="somex-load-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-load-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            if args.soak and not args.one_process:
                print(f"== soak: alerts MEX → IDN at {rates[0]:g}/s for {args.soak:g} s; hub, MEX and IDN each in "
                      f"its own process, sampled every {args.every:g} s; {os.cpu_count()} cores, load average "
                      + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
                soak = await soak_in_processes(broker, work / "soak", rates[0], args.soak, sample_alert("MEX", args.text),
                                               every=args.every, warmup=args.warmup,
                                               printer=lambda line: print(line, flush=True))
                for line in soak.report()[len(soak.samples) + 1:]:
                    print(line)
                print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
                return
            if args.soak:
                print(f"== soak (one process): alerts at {rates[0]:g}/s for {args.soak:g} s, memory sampled every 30 s")
                run, offered, memory = await somex_fixed_rate(broker, work / "soak", rates[0], args.soak, args.text,
                                                              sample_every=30)
                print(run.line())
                print(f"offered {offered}, delivered {run.messages}, lost {offered - run.messages}")
                print("RSS MiB over time: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in memory))
                return
            admin_vhost(broker, "load-raw")
            shape = "one process" if args.one_process else "each party in its own process"
            print(f"== fixed offered load, {args.seconds:g} s per rate, quorum queues, confirms, persistent; "
                  f"{shape}, {os.cpu_count()} cores")
            size = len(sample_envelope(args.text))
            for rate in rates:
                if args.one_process:
                    raw = await raw_fixed_rate(broker.admin_url("load-raw"), rate, args.seconds, size)
                    somex, offered, _ = await somex_fixed_rate(broker, work / f"r{int(rate)}", rate, args.seconds,
                                                               args.text)
                else:
                    raw = await raw_in_processes(broker.admin_url("load-raw"), rate, args.seconds, size, broker.pid())
                    somex, offered = await somex_in_processes(broker, work / f"r{int(rate)}", rate, args.seconds,
                                                              args.text)
                print(raw.line())
                print(somex.line())
                print(f"  delivered {somex.messages}/{offered}; p99 ratio somex/raw "
                      f"{somex.percentile(99) / max(raw.percentile(99), 1e-9):.1f}x")
        finally:
            broker.stop()


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
