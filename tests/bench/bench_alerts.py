"""Alert benchmarks, each against a baseline measured in the same run.

feed:   N alerts pushed as an NDJSON feed at MEX until every one is queryable at IDN and ITA
        (parse, check, dedupe, sign batches, outbox → hub: verify, policy, audit, forward →
        each node: verify, policy, merge into the replica), against a raw SQLite executemany of
        the same replica rows.
parts:  the same feed's CPU per alert in one process without a broker (--parts N): the sender's
        intake, the hub's decision, a recipient's check and apply.
checks: single document checks against a replica of M alerts (rows written with raw executemany,
        not through the federation, to keep the run short): over HTTP on loopback (keep-alive) and
        in-process; the node's resident memory at a small and at the full replica.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web

from nodes.national.features.alerts.replica import replica_counts
from nodes.national.api import make_app
from nodes.national.node import NationalNode
from nodes.national.features.alerts.cli import push_file
from nodes.plumbing.db import sqlite_path
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import PrivateBroker, free_port
from protocol.timefmt import format_time
from tests.bench.roles import process_cpu
from tests.bench.stats import Run
from tests.integration.federation import make_federation

STATUSES = ("stolen", "lost", "revoked", "invalid")


def alert_line(issuer: str, i: int) -> str:
    return json.dumps({"document_number": f"P{i:09d}", "document_type": "passport", "issuing_country": issuer,
                       "status": STATUSES[i % 4], "action": "create", "reported": "2026-11-20",
                       "national_reference": f"NR-{i}"})


def write_feed(path: Path, issuer: str, n: int) -> int:
    with path.open("w") as out:
        for start in range(0, n, 10_000):
            out.write("\n".join(alert_line(issuer, i) for i in range(start, min(n, start + 10_000))) + "\n")
    return path.stat().st_size


def raw_replica_rows(issuer: str, start: int, n: int):  # noqa: ANN201
    key = "2026-11-23T00:00:00.000000Z~01a20000-0000-7000-8000-000000000000~"
    for i in range(start, start + n):
        yield (issuer, "passport", f"P{i:09d}", 1, f"P{i:09d}", STATUSES[i % 4], "2026-11-20", None, None, None,
               "2036-11-20", f"NR-{i}", f"{key}{i % 1000:04d}", 0, None)


def raw_insert(db: Path, issuer: str, n: int) -> float:
    """The baseline: the same replica rows, one executemany per 1,000, one commit per 1,000."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(_REPLICA_DDL)
    start = time.perf_counter()
    for offset in range(0, n, 1000):
        conn.executemany(_INSERT, raw_replica_rows(issuer, offset, min(1000, n - offset)))
        conn.commit()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


_REPLICA_DDL = (
    "CREATE TABLE IF NOT EXISTS alert_replica (issuing_country VARCHAR(3) NOT NULL, document_type VARCHAR(32) NOT NULL, "
    "number VARCHAR(64) NOT NULL, active BOOLEAN NOT NULL, document_number VARCHAR(64) NOT NULL, "
    "status VARCHAR(16) NOT NULL, reported VARCHAR(10) NOT NULL, event_date VARCHAR(10), issue_date VARCHAR(10), "
    "expiry_date VARCHAR(10), review_date VARCHAR(10) NOT NULL, national_reference VARCHAR(128), "
    "lifecycle_key VARCHAR(80), withdrawn BOOLEAN NOT NULL, update_key VARCHAR(80), "
    "PRIMARY KEY (issuing_country, document_type, number)) WITHOUT ROWID")
_INSERT = "INSERT INTO alert_replica VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"


async def feed_to_replicas(broker: PrivateBroker, work: Path, n: int) -> Run:
    fed = make_federation(broker, work, "bench-alerts")
    await fed.start_all()
    feed = work / "feed.ndjson"
    size = write_feed(feed, "MEX", n)
    node = fed.nodes["MEX"]
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = fed.federation.credentials("MEX").tokens["feed"]

    start = time.perf_counter()
    report = await push_file(f"http://127.0.0.1:{port}/api", token, feed, "ndjson", lambda *_: None)
    pushed = time.perf_counter() - start
    assert report["accepted"] == n, report
    deadline = time.monotonic() + 3600
    for country in ("IDN", "ITA"):
        engine = fed.nodes[country].store.engine
        while (await asyncio.to_thread(replica_counts, engine, "2026-01-01")).get("MEX", 0) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("the feed did not reach every replica")
            await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - start
    print(f"   feed of {size / 1e6:.0f} MB read, checked and signed into {report['batches']} batches at MEX "
          f"in {pushed:.1f} s ({n / pushed:,.0f} alerts/s)")
    await runner.cleanup()
    await fed.stop_all()
    fed.delete(broker)
    return Run("feed at MEX → queryable at IDN and ITA", n, elapsed, [])


async def feed_to_replicas_in_processes(work: Path, n: int) -> Run:
    """The same feed with the hub and each node in a process of its own, as `somex demo` runs them
    (and as deployed: each country on its own machine), so that both cores work."""
    from nodes.plumbing.config import utcnow
    from nodes.plumbing.demo_steps import Processes, wait_for
    from nodes.app.ceremony import init_federation
    from nodes.plumbing.federation import load_federation
    from nodes.app.local import NodeClient, broker_down, broker_up

    state = work / "state"
    init_federation(state / "federation", "bench", ["MEX", "IDN", "ITA"], utcnow())
    deployment = broker_up(state)
    procs = Processes(state)
    feed = work / "feed.ndjson"
    write_feed(feed, "MEX", n)
    try:
        procs.start("hub", "hub", "run")
        for country in ("MEX", "IDN", "ITA"):
            procs.start(f"node-{country}", "node", "run", "--country", country)
        tokens = {c: load_federation(deployment.federation_dir, utcnow()).credentials(c).tokens for c in ("MEX", "IDN", "ITA")}
        async with aiohttp.ClientSession() as session:
            for country in ("MEX", "IDN", "ITA"):
                client = NodeClient.for_country(session, deployment, country)
                await wait_for(f"{country} node", lambda c=client: _connected(c), procs=procs)

            async def held(country: str) -> int:
                async with session.get(f"http://127.0.0.1:{deployment.node_http_ports[country]}/api/documents/replica",
                                       headers={"Authorization": f"Bearer {tokens[country]['focal']}"}) as r:
                    return (await r.json())["active_alerts"].get("MEX", 0)

            cpu_start = {name: process_cpu(proc.pid) for name, proc in procs.running.items()}
            samplers = _sample_with_pyspy(procs)
            start = time.perf_counter()
            report = await push_file(f"http://127.0.0.1:{deployment.node_http_ports['MEX']}/api", tokens["MEX"]["feed"],
                                     feed, "ndjson", lambda *_: None)
            pushed = time.perf_counter() - start
            assert report["accepted"] == n, report
            last = f"P{n - 1:09d}"
            for country in ("IDN", "ITA"):
                # A primary-key probe of the feed's last alert, then the count: counting the whole replica
                # every 0.2 s cost each recipient ~20-40 ms of CPU a time near 200,000 alerts (~15 µs/alert).
                db = sqlite_path(deployment.node_config(country).db_url)
                await wait_for(f"the last alert at {country}", lambda d=db: _holds(d, last), timeout=3600, procs=procs)
                await wait_for(f"the feed at {country}", lambda c=country: _all(held(c), n), timeout=3600, procs=procs)
            elapsed = time.perf_counter() - start
            cpu = {name: process_cpu(proc.pid) - cpu_start[name] for name, proc in procs.running.items()}
            for sampler in samplers:
                sampler.send_signal(signal.SIGINT)
                sampler.wait(30)
        print(f"   feed read, checked and signed at MEX in {pushed:.1f} s ({n / pushed:,.0f} alerts/s)")
        roles = {"node-MEX": "sender node MEX", "hub": "hub", "node-IDN": "recipient IDN", "node-ITA": "recipient ITA"}
        for name, label in roles.items():  # the bound process is the one near `elapsed` CPU seconds
            print(f"   CPU {label:<16} {cpu[name]:6.1f} s   {cpu[name] / n * 1e6:5.1f} µs/alert")
    finally:
        procs.stop()
        broker_down(state)
    return Run("same, hub and each node in its own process", n, elapsed, [])


def _sample_with_pyspy(procs) -> list[subprocess.Popen]:  # noqa: ANN001
    """`SOMEX_BENCH_PYSPY=<dir>`: py-spy samples each process during the feed (raw stacks, as
    tests/bench/roles.py does), py-spy taken from PATH or next to this interpreter."""
    profiles = os.environ.get("SOMEX_BENCH_PYSPY")
    if not profiles:
        return []
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [subprocess.Popen([exe, "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "250", "--gil",
                              "-o", f"{profiles}/{name}-{proc.pid}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, proc in procs.running.items()]


def feed_parts(work: Path, n: int) -> dict[str, float]:
    """The feed's CPU per alert in process, without a broker (process CPU time, µs per alert): the
    sender's intake (read, check, dedupe, sign, outbox), the hub's decision on the batches, and a
    recipient's check and apply (the hub's log receipts signed here), 8 batches per transaction."""
    from nodes.app.ceremony import init_federation
    from nodes.hub.decide import FORWARD, Context, Delivery, decide_batch, read
    from nodes.national.features.alerts.feeds import FeedIntake
    from nodes.plumbing.config import NodeConfig, utcnow
    from nodes.plumbing.federation import load_federation
    from protocol import envelope as wire
    from protocol.receipts import HEADER, LogReceipt

    init_federation(work / "federation", "bench-parts", ["MEX", "IDN", "ITA"], utcnow())
    fed = load_federation(work / "federation", utcnow())
    sender, recipient = (NationalNode(NodeConfig(c, work / "federation", f"sqlite:///{work / c}.db"), fed)
                         for c in ("MEX", "IDN"))
    lines = [alert_line("MEX", i).encode() for i in range(n)]
    cpu: dict[str, float] = {}

    def timed(part: str, step) -> Any:  # noqa: ANN001
        start = time.process_time()
        result = step()
        cpu[part] = (time.process_time() - start) / n * 1e6
        return result

    def intake() -> FeedIntake:
        feed = FeedIntake(sender.contexts["alerts"], "ndjson")
        for start in range(0, n, 3000):
            block = lines[start:start + 3000]
            feed.take(block, sum(len(line) + 1 for line in block))
        feed.finish()
        return feed

    assert timed("sender", intake).counts["accepted"] == n
    batches = [raw for _, _, raw in sender.store.pending(n)]
    user = fed.directory.node("MEX").broker_user

    def hub() -> None:
        context = Context(fed.directory, fed.trust, utcnow(), timedelta(minutes=5), {}, _NoCheckpoints())
        at = format_time(context.now)
        verdicts = decide_batch([read(Delivery(raw, user), at, fed.directory) for raw in batches], context)
        assert all(v.action == FORWARD for v in verdicts)

    timed("hub", hub)
    key, at = fed.credentials("HUB").signing_key, format_time(utcnow())
    deliveries = []
    for index, raw in enumerate(batches):
        env = wire.decode(raw)
        receipt = LogReceipt(env.id, index, "00" * 32, env.digest(), at, kid=key.kid)
        receipt = replace(receipt, sig=base64.b64encode(key.sign(receipt.signing_input())).decode())
        deliveries.append(SimpleNamespace(body=raw, headers={HEADER: receipt.to_header()}, message_id=env.id))

    def receive() -> None:
        for start in range(0, len(deliveries), 8):
            now = utcnow()
            checked = []
            for delivery in deliveries[start:start + 8]:
                verified, receipt, body = recipient._check(delivery, now)
                checked.append((verified, receipt, body, delivery.body))
            recipient._apply(checked, [], {})

    timed("recipient", receive)
    assert replica_counts(recipient.store.engine, "2026-01-01").get("MEX") == n
    for node in (sender, recipient):
        node.store.engine.dispose()
    return cpu


class _NoCheckpoints:
    def signed_checkpoint(self, size: int) -> None:
        return None

    def latest_cosignature_time(self, witness: str) -> None:
        return None


async def _holds(db: Path, number: str) -> bool:
    """Whether the node's replica holds MEX's passport `number` (the bench reads the node's SQLite
    file itself: one primary-key probe, no work for the node)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT 1 FROM alert_replica WHERE issuing_country = 'MEX' AND document_type = 'passport' "
                            "AND number = ?", (number,)).fetchone() is not None
    finally:
        conn.close()


async def _all(count, n: int) -> bool:  # noqa: ANN001
    return await count >= n


async def _connected(client) -> bool:  # noqa: ANN001
    return bool((await client.health()).get("broker_connected"))


def _latency_line(label: str, latencies_ms: list[float], seconds: float | None = None) -> str:
    run = Run(label, len(latencies_ms), seconds or sum(latencies_ms) / 1000, latencies_ms)
    return (f"{label:<44} p50 {run.percentile(50) * 1000:7.0f} µs   p99 {run.percentile(99) * 1000:7.0f} µs   "
            f"({run.messages} sequential checks, {run.rate:,.0f}/s)")


def rss_kib() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def checks(broker: PrivateBroker, work: Path, m: int, samples: int) -> None:
    fed = make_federation(broker, work, "bench-checks", countries=["MEX", "IDN"])
    node = NationalNode(fed.node_config("IDN"), fed.federation)  # no broker needed: checks are local
    db = work / "IDN.db"
    conn = sqlite3.connect(db)
    build = time.perf_counter()
    for offset in range(0, m, 100_000):
        conn.executemany(_INSERT, raw_replica_rows("MEX", offset, min(100_000, m - offset)))
        conn.commit()
    conn.close()
    print(f"   replica of {m:,} alerts written with raw executemany in {time.perf_counter() - build:.0f} s "
          f"({db.stat().st_size / 1e9:.2f} GB)")
    rng = random.Random(7)
    reader = node.alerts.reader
    wanted = [f"P{rng.randrange(2 * m):09d}" for _ in range(samples)]  # about half of them hit
    latencies = []
    for number in wanted:
        t0 = time.perf_counter()
        reader.check("MEX", "passport", number, "2026-11-23")
        latencies.append((time.perf_counter() - t0) * 1000)
    print(_latency_line("check in-process (one primary-key probe)", latencies))

    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = fed.federation.credentials("IDN").tokens["focal"]
    misses = [f"Q{rng.randrange(10 * m):09d}" for _ in range(samples)]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for label, numbers in (("check over HTTP, no hit", misses), ("check over HTTP, hit (+ durable alert.hit)",
                                                                    wanted[: samples // 10])):
            latencies = []
            start = time.perf_counter()
            for number in numbers:
                t0 = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/api/documents/check",
                                       params={"country": "MEX", "type": "passport", "number": number}) as r:
                    await r.read()
                latencies.append((time.perf_counter() - t0) * 1000)
            print(_latency_line(label, latencies, time.perf_counter() - start))
    rss, peak = rss_kib()
    print(f"   resident memory of the bench process (node, client and builder): {rss / 1024:.0f} MiB, "
          f"peak {peak / 1024:.0f} MiB")
    await runner.cleanup()
    await node.stop()
    fed.delete(broker)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_alerts")
    parser.add_argument("--alerts", type=int, default=1_000_000, help="alerts in the feed")
    parser.add_argument("--replica", type=int, default=10_000_000, help="alerts in the checked replica")
    parser.add_argument("--samples", type=int, default=20_000, help="single checks timed")
    parser.add_argument("--skip-feed", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--processes-only", action="store_true",
                        help="only the feed with the hub and each node in its own process (no broker of its own)")
    parser.add_argument("--parts", type=int, metavar="N",
                        help="only the feed's parts in process, N alerts: CPU per alert of the sender's intake, "
                             "the hub's decision and a recipient's check and apply (no broker)")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("SOMEX_LOG_LEVEL", "WARNING"), json=True)
    if args.parts:
        with tempfile.TemporaryDirectory(prefix="somex-bench-alerts-") as tmp:
            cpu = feed_parts(Path(tmp), args.parts)
        print(f"feed parts in process, {args.parts:,} alerts, CPU per alert: "
              + "   ".join(f"{part} {us:.1f} µs" for part, us in cpu.items()))
        return
    if args.processes_only:
        with tempfile.TemporaryDirectory(prefix="somex-bench-alerts-") as tmp:
            spread = await feed_to_replicas_in_processes(Path(tmp), args.alerts)
        print(f"{spread.name:<44} {spread.rate:>9,.0f} alerts/s   ({args.alerts:,} in {spread.seconds:.1f} s)")
        return
    with tempfile.TemporaryDirectory(prefix="somex-bench-alerts-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-alerts-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            print(f"== alert benchmarks: this machine ({os.cpu_count()} cores), hub and nodes in one process, "
                  "SQLite (WAL, synchronous=FULL), quorum queues, publisher confirms")
            if not args.skip_feed:
                baseline = raw_insert(work / "raw.db", "MEX", args.alerts)
                raw = Run("raw SQLite executemany of the replica rows", args.alerts, baseline, [])
                print(f"{raw.name:<44} {raw.rate:>9,.0f} alerts/s")
                fed_run = await feed_to_replicas(broker, work / "feed", args.alerts)
                print(f"{fed_run.name:<44} {fed_run.rate:>9,.0f} alerts/s   ({args.alerts:,} in {fed_run.seconds:.1f} s)"
                      f"   ratio to raw {fed_run.rate / raw.rate:.2f}   (goal ≥ 50,000 alerts/s)")
                (work / "processes").mkdir()
                spread = await feed_to_replicas_in_processes(work / "processes", args.alerts)
                print(f"{spread.name:<44} {spread.rate:>9,.0f} alerts/s   ({args.alerts:,} in {spread.seconds:.1f} s)"
                      f"   ratio to raw {spread.rate / raw.rate:.2f}")
            if not args.skip_checks:
                (work / "checks").mkdir()
                small = min(args.replica, 100_000)
                await checks(broker, work / "checks", small, min(args.samples, 2_000))
                (work / "checks-full").mkdir()
                await checks(broker, work / "checks-full", args.replica, args.samples)
        finally:
            broker.stop()


if __name__ == "__main__":
    asyncio.run(main(__import__("sys").argv[1:]))
