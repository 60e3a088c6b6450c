"""The soak: alerts MEX → IDN at a steady rate for a long time with the hub and both nodes in
processes of their own (tests/bench/roles.py), sampled every minute: each process's resident memory
(VmRSS from /proc/<pid>/status, the broker's too), the messages sent by MEX and stored by IDN in
that minute, the backlog between them, and the latency (created → stored) p50/p99 of the messages
stored in that minute. At the end: how many were offered, stored and lost, and a verdict against
the goal of issue 18 (nothing lost; each Python process's memory flat within 10 % after the
warm-up).

    .venv/bin/python -m tests.bench.bench_load --soak 3600 --rate 100
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, literal_column, select

from nodes.national.store import messages as message_table
from protocol.timefmt import parse_time
from tests.bench import roles
from tests.integration.federation import make_federation

FLAT = 0.10  # the goal: memory within 10 % after the warm-up


def rss_mib(pid: int | None) -> float:
    """A process's resident memory in MiB (VmRSS), nan if it is gone or unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"  # nan: nothing stored in that interval


@dataclass
class Sample:
    minute: float  # seconds since the load started, at the end of the interval
    sent: int  # MEX's outgoing alerts in this interval
    stored: int  # IDN's stored alerts in this interval
    backlog: int  # sent so far − stored so far (in flight)
    p50: float
    p99: float
    rss: dict[str, float]


@dataclass
class Soak:
    rate: float
    seconds: float
    every: float
    warmup: float
    samples: list[Sample] = field(default_factory=list)
    offered: int = 0
    stored: int = 0
    distinct: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.offered - self.distinct

    def memory_spread(self) -> dict[str, tuple[float, float, float] | None]:
        """Per process: (RSS at the first sample after the warm-up, lowest and highest since), None if
        the run had no sample after the warm-up."""
        later = [s for s in self.samples if s.minute >= self.warmup]
        spreads: dict[str, tuple[float, float, float] | None] = {}
        for name in (self.samples[0].rss if self.samples else {}):
            values = [s.rss[name] for s in later if s.rss[name] == s.rss[name]]
            spreads[name] = (values[0], min(values), max(values)) if values else None
        return spreads

    def report(self) -> list[str]:
        names = list(self.samples[0].rss) if self.samples else []
        lines = [f"{'t (s)':>6} {'sent':>6} {'stored':>6} {'backlog':>7} {'p50 ms':>8} {'p99 ms':>8}   "
                 + "  ".join(f"{'RSS ' + n:>12}" for n in names) + "   (RSS in MiB)"]
        for s in self.samples:
            lines.append(f"{s.minute:>6.0f} {s.sent:>6} {s.stored:>6} {s.backlog:>7} {_ms(s.p50):>8} {_ms(s.p99):>8}   "
                         + "  ".join(f"{s.rss[n]:>12.1f}" for n in names))
        lines.append(f"whole run: offered {self.offered}, stored {self.stored} ({self.distinct} distinct ids), "
                     f"lost {self.lost}; latency p50 {percentile(self.latencies, 50):.1f} ms, "
                     f"p99 {percentile(self.latencies, 99):.1f} ms, max {max(self.latencies, default=float('nan')):.1f} ms")
        verdicts = [("nothing lost", self.lost == 0 and self.stored == self.distinct,
                     f"{self.lost} lost, {self.stored - self.distinct} stored twice")]
        for name, spread in self.memory_spread().items():
            if name == "broker":
                continue  # RabbitMQ's own memory is reported, not judged: its quorum-queue log is its business
            if spread is None:
                verdicts.append((f"memory of {name} flat", None, f"no sample after the {self.warmup:g} s warm-up"))
                continue
            base, low, high = spread
            drift = max(high - base, base - low) / base
            verdicts.append((f"memory of {name} flat within {FLAT:.0%} after {self.warmup:g} s", drift <= FLAT,
                             f"{base:.1f} MiB at first, {low:.1f}–{high:.1f} since, drift {drift:.1%}"))
        lines.append("verdict:")
        for what, ok, detail in verdicts:
            lines.append(f"  {'PASS' if ok else 'n/a ' if ok is None else 'FAIL'}  {what}: {detail}")
        overall = all(ok for _, ok, _ in verdicts if ok is not None)
        lines.append(f"SOAK {'PASSED' if overall else 'FAILED'} (goal: nothing lost, each Python process's memory "
                     f"flat within {FLAT:.0%} after the first {self.warmup:g} s)")
        return lines


async def soak_in_processes(broker: Any, path: Path, rate: float, seconds: float, body: dict, *,
                            every: float = 60, warmup: float = 300, drain: float = 300,
                            printer=print) -> Soak:  # noqa: ANN001
    """Run the soak; print each interval's row as it comes (a long run is readable while it runs)."""
    mtype = "alert.document"
    fed = make_federation(broker, path, "soak", countries=["MEX", "IDN"])
    hub = await roles.Role.start(roles.hub_role, path, fed.address)
    recipient = await roles.Role.start(roles.node_role, "IDN", path, fed.address)
    sender = await roles.Role.start(roles.node_role, "MEX", path, fed.address)
    pids = {"hub": hub.pid, "MEX": sender.pid, "IDN": recipient.pid, "broker": broker.pid()}
    received = create_engine(f"sqlite:///{path / 'IDN.db'}")
    sent = create_engine(f"sqlite:///{path / 'MEX.db'}")
    alerts = (message_table.c.type == mtype)
    rowid = literal_column("rowid")
    soak = Soak(rate, seconds, every, warmup)
    last_rowid = [0]

    def count_sent() -> int:
        with sent.connect() as conn:
            return conn.execute(select(func.count()).select_from(message_table)
                                .where(alerts, message_table.c.direction == "out")).scalar_one()

    def newly_stored() -> list[float]:
        """Latencies (ms) of the alerts IDN stored since the last call."""
        with received.connect() as conn:
            rows = conn.execute(select(rowid, message_table.c.created, message_table.c.stored_at)
                                .where(alerts, message_table.c.direction == "in", rowid > last_rowid[0])
                                .order_by(rowid)).all()
        if rows:
            last_rowid[0] = rows[-1][0]
        return [(parse_time(s) - parse_time(c)).total_seconds() * 1000 for _, c, s in rows]

    def count_stored() -> int:
        with received.connect() as conn:
            return conn.execute(select(func.count()).select_from(message_table)
                                .where(alerts, message_table.c.direction == "in")).scalar_one()

    async def sample(since: float, sent_before: int) -> int:
        fresh = await asyncio.to_thread(newly_stored)  # first: what is stored was sent before
        sent_now = await asyncio.to_thread(count_sent)
        soak.latencies.extend(fresh)
        soak.stored += len(fresh)
        soak.samples.append(Sample(time.monotonic() - since, sent_now - sent_before, len(fresh),
                                   sent_now - soak.stored, percentile(fresh, 50), percentile(fresh, 99),
                                   {name: rss_mib(pid) for name, pid in pids.items()}))
        if len(soak.samples) == 1:
            printer(soak.report()[0])
        printer(soak.report()[len(soak.samples)])
        return sent_now

    try:
        start = time.monotonic()
        sender.send(("rate", rate, seconds, "IDN", mtype, body))
        sent_so_far, offered = 0, None
        waiting = asyncio.ensure_future(sender.result(seconds + 600))
        next_sample = start + every
        while time.monotonic() < start + seconds + drain:
            await asyncio.sleep(max(0.0, min(next_sample - time.monotonic(), 1.0)))
            if offered is None and waiting.done():
                offered = waiting.result()
            if time.monotonic() >= next_sample:
                sent_so_far = await sample(start, sent_so_far)
                next_sample += every
            if offered is not None and await asyncio.to_thread(count_stored) >= offered:
                break
        if not soak.samples or time.monotonic() - start - soak.samples[-1].minute > 1:
            await sample(start, sent_so_far)  # the tail: what arrived since the last full interval
        soak.offered = offered or 0
        with received.connect() as conn:
            soak.distinct = conn.execute(select(func.count(func.distinct(message_table.c.message_id)))
                                         .where(alerts, message_table.c.direction == "in")).scalar_one()
    finally:
        for role in (sender, recipient, hub):
            await role.stop()
        received.dispose()
        sent.dispose()
    return soak


__all__ = ["Soak", "soak_in_processes"]
