"""Where a border check's CPU goes, by phase: the check called in-process (no HTTP) on the bench's
replica (tests/bench/bench_border_check.py builds it once and this reuses it), each phase timed
with the thread's CPU clock (`time.thread_time_ns`, so the machine's load barely moves it) and
the wall clock. Then the same zones over HTTP, the client in a process of its own, and the
server's whole CPU per request: what the HTTP layer adds to the check.

Phases of a hit: `read_query` (the zone's check digits and fields), `look_up` (document probe,
candidates, scoring), `reports` (the `person.hit` bodies and ids), `log` (the access-log
transaction: `log_check`, `journal`, `hold_reports` and the commit, the rest of `log`); of a no-hit:
`quiet_log`. After the answer, the reporter's rounds (reports.py), timed apart: `build` (building
and signing), `queue` (the outbox transaction: `enqueue`, its `track` and `encode`, `release`). Run: python -m tests.bench.profile_border_check [--persons N] [--documents N]
[--samples N] [--http N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from nodes.national import node as node_module
from nodes.national import reads
from nodes.national.api import make_app
from nodes.national.features.person import check as check_module
from nodes.national.features.person import store as person_store
from nodes.national.node import NationalNode
from nodes.plumbing.config import utcnow
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import free_port
from tests.bench.bench_border_check import CHECKED_AT, client_process, checking_node, queries, replica

CPU: dict[str, int] = defaultdict(int)  # the current check's phases
WALL: dict[str, int] = defaultdict(int)
REPORTER_CPU: dict[str, list[int]] = defaultdict(list)  # the reporter's, each call apart
REPORTER_WALL: dict[str, list[int]] = defaultdict(list)


def _timed(name: str, function: Callable[..., Any], apart: bool = False) -> Callable[..., Any]:
    """`function` timed into the current check's phases, or `apart` (the reporter's), each call."""
    def timed(*args: Any, **kwargs: Any) -> Any:
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            cpu, wall = time.thread_time_ns() - c0, time.perf_counter_ns() - w0
            if apart:
                REPORTER_CPU[name].append(cpu)
                REPORTER_WALL[name].append(wall)
            else:
                CPU[name] += cpu
                WALL[name] += wall
    return timed


def _instrument(node: NationalNode) -> None:
    """Every phase wrapped where the check calls it (module attributes, looked up at call time)."""
    checks = check_module.BorderChecks
    for method, name in (("_look_up", "look_up"), ("_hit_reports", "reports"), ("_log", "log"),
                         ("_log_quietly", "quiet_log")):
        setattr(checks, method, _timed(name, getattr(checks, method)))
    check_module.read_query = _timed("read_query", check_module.read_query)
    for name in ("log_check", "hold_reports"):
        setattr(person_store, name, _timed(name, getattr(person_store, name)))
    reads.journal = _timed("journal", reads.journal)
    reporter = node.contexts["person"].service.reporter
    reporter._build = _timed("build", reporter._build, apart=True)
    reporter._queue = _timed("queue", reporter._queue, apart=True)
    person_store.release_reports = _timed("release", person_store.release_reports, apart=True)
    outbox = node.contexts["person"].outbox
    outbox.enqueue = _timed("enqueue", outbox.enqueue, apart=True)
    node_module.delivery.track = _timed("track", node_module.delivery.track, apart=True)
    node_module.wire.encode = _timed("encode", node_module.wire.encode, apart=True)


def _ms(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] / 1e6


async def _http_cpu(node: NationalNode, token: str, zones: list[str]) -> tuple[float, float]:
    """The server process's CPU per request (ms: user, system), the client in a process of its own.
    The system time includes the loopback's TCP work for both ends of what the server sends."""
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async def drive(batch: list[str]) -> tuple[float, float]:
            t0 = os.times()
            await client_process(port, token, batch)
            t1 = os.times()
            return (t1.user - t0.user) * 1000 / len(batch), (t1.system - t0.system) * 1000 / len(batch)
        await drive(zones[:50])  # the connection and the route warm
        return await drive(zones)
    finally:
        await runner.cleanup()


async def run(args: argparse.Namespace) -> None:
    node, token, work = checking_node(replica(args), "profile")
    service = node.contexts["person"].service
    _instrument(node)
    reporting = asyncio.create_task(service.reporter.run())  # as node.start() runs it
    year = utcnow().year
    whole = {True: [], False: []}
    cpu = {True: defaultdict(list), False: defaultdict(list)}
    wall = {True: defaultdict(list), False: defaultdict(list)}
    for warm, _, _ in queries(args.persons, 200, seed=99):
        await service.check(check_module.read_query({"mrz": warm}, year), "focal")
    wanted = queries(args.persons, args.samples, seed=7)
    for zone, hit, _ in wanted:
        CPU.clear()
        WALL.clear()
        c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        outcome = await service.check(check_module.read_query({"mrz": zone}, year), "focal")
        outcome.as_json(CHECKED_AT)
        CPU["whole"], WALL["whole"] = time.thread_time_ns() - c0, time.perf_counter_ns() - w0
        if "log" in CPU:  # what the log transaction spends outside the timed calls: the commit mostly
            inner = ("log_check", "hold_reports", "journal")
            CPU["log: rest"] = CPU["log"] - sum(CPU.get(n, 0) for n in inner)
            WALL["log: rest"] = WALL["log"] - sum(WALL.get(n, 0) for n in inner)
        for name in CPU:
            cpu[hit][name].append(CPU[name])
            wall[hit][name].append(WALL[name])
        whole[hit].append(CPU["whole"])
        assert bool(outcome.matches) == hit, zone
        if hit:  # the reporter's round, as a server gives it the loop after the answer (timed apart)
            while service.reporter.busy():
                await asyncio.sleep(0.0005)
    print(f"== {args.samples} checks in-process ({len(whole[True])} hits), thread CPU p50 / p99 ms "
          f"(wall p50 / p99); whole: read_query and check:")
    for hit in (True, False):
        print(f"   {'hits' if hit else 'no hits'}:")
        for name in sorted(cpu[hit]):
            c, w = cpu[hit][name], wall[hit][name]
            print(f"     {name:12} {_ms(c, 50):.3f} / {_ms(c, 99):.3f}   (wall {_ms(w, 50):.3f} / {_ms(w, 99):.3f})")
    print("   the reporter, per call (a round builds each report, then queues the round's):")
    for name in sorted(REPORTER_CPU):
        c, w = REPORTER_CPU[name], REPORTER_WALL[name]
        print(f"     {name:12} {_ms(c, 50):.3f} / {_ms(c, 99):.3f}   (wall {_ms(w, 50):.3f} / {_ms(w, 99):.3f}), "
              f"{len(c)} calls")
    if args.http:
        zones = [z for z, _, _ in queries(args.persons, args.http, seed=11)]
        user, system = await _http_cpu(node, token, zones)
        reporter_cpu = sum(sum(REPORTER_CPU[n]) for n in ("build", "queue"))
        inside = (sum(whole[True] + whole[False]) + reporter_cpu) / len(whole[True] + whole[False]) / 1e6
        print(f"== over HTTP, {len(zones)} checks: server CPU a request (mean) {user:.3f} ms user + {system:.3f} ms "
              f"system; the check in-process {inside:.3f} ms (mean, user and system, the reporter's rounds included): HTTP adds "
              f"~{user + system - inside:.3f} ms")
    print(f"   load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    reporting.cancel()
    await node.stop()
    shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="profile_border_check", description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--http", type=int, default=2_000, help="checks over HTTP (0: none)")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("SOMEX_LOG_LEVEL", "WARNING"), json=True)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
