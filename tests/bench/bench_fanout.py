"""Broadcasts at N = 3, 25, 100, 190 members (issue 23): hub and broker CPU per broadcast alert,
log entries per broadcast, and delivery p50/p99 to every inbox; fan-out by the broker against the
former one-publish-per-recipient, same broker, same run.

Hub CPU per broadcast: COUNT signed broadcast alerts wait in hub.in; a hub starts and takes them
(decode, verify, policy, audit commit, forward with confirms); its process CPU (the hub alone runs
in this process meanwhile) is read once the hub has taken its first SKIP (start-up and first batch
left out) and again when it has taken all, and divided by the broadcasts taken in between. Broker
CPU: the same window, read from /proc. (Until 2026-12-02 this was the difference of a drain of 220
and one of 20, start-up cancelling out: it did not, by up to ±0.2 ms a broadcast at N = 3.)
Delivery: a hub runs while one sender publishes broadcasts at a steady rate, and lightweight
receivers (one connection reading every inbox, in this process) decode and verify each copy's
signature for real; latency = arrival - the envelope's creation.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import aio_pika
import structlog

import broker_config
from crypto.signing import sign_envelope, verify_envelope
from nodes.hub.relay import Hub
from nodes.plumbing.config import HubConfig, new_message_id, utcnow
from nodes.plumbing.rabbit import ADMIN_USER, PrivateBroker, free_port
from protocol import envelope as wire
from protocol.timefmt import parse_time
from tests.bench.bench_witness import _codes
from tests.bench.roles import process_cpu
from tests.integration.federation import RunningFederation, make_federation

SIZES = (3, 25, 100, 190)
REPEATS = 3
COUNT, SKIP = 600, 20  # broadcasts per drain; the hub's CPU is measured after its first SKIP
# How often the bench looks whether the hub is done: its own CPU counts as the hub's, and the drains
# last longer at larger N (the broker's copies), so it polls seldom (every 10 ms cost ~0.1 ms a
# broadcast at N = 190).
POLL = 0.1
IDLE = 2.0  # seconds the hub's idle CPU rate is read for, after each drain
# Delivery latency: broadcasts for SECONDS at up to 10 a second, fewer at larger N so that the
# simulated receivers (one process, verifying every copy) take COPIES_PER_SECOND, not a backlog.
SECONDS, COPIES_PER_SECOND = 5, 300


def latency_rate(members: int) -> float:
    return min(10.0, COPIES_PER_SECOND / max(members - 1, 1))


class PerRecipientHub(Hub):
    """The hub as it was before issue 23: every recipient's copy is a publish of its own."""

    async def _on_connect(self, connection) -> None:  # noqa: ANN001
        await super()._on_connect(connection)
        self.routable_inboxes = set()


def _alert(issuer: str, i: int) -> dict:
    return {"document_number": f"B{i:08d}", "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20"}


def _broadcasts(fed: RunningFederation, sender: str, count: int, start: int) -> list[bytes]:
    key = fed.federation.credentials(sender).signing_key
    return [wire.encode(sign_envelope(wire.build(
        message_id=new_message_id(), type="alert.document", sender=sender, recipients=["*"], created=utcnow(),
        ttl=timedelta(hours=1), body=_alert(sender, start + i)), key)) for i in range(count)]


async def _publish(fed: RunningFederation, sender: str, raws: list[bytes] | None = None, *,
                   rate: float | None = None, count: int = 0, start: int = 0) -> None:
    """Publish `raws` to hub.in as `sender`; or, at `rate` a second, `count` broadcasts each signed
    just before it is sent (its `created` is when it left the sender)."""
    connection = await aio_pika.connect(fed.url_for(sender))
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker_config.HUB_IN_EXCHANGE, ensure=False)
        user = fed.federation.credentials(sender).broker_user
        t0 = time.monotonic()
        for i in range(len(raws) if raws is not None else count):
            if rate:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            raw = raws[i] if raws is not None else _broadcasts(fed, sender, 1, start + i)[0]
            await exchange.publish(aio_pika.Message(raw, user_id=user, delivery_mode=2), routing_key=sender)


def _purge(broker: PrivateBroker, fed: RunningFederation) -> None:
    for node_id in fed.federation.directory.node_ids():
        broker.api("DELETE", f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.inbox_queue(node_id)}/contents")


def _hub(kind: type[Hub], fed: RunningFederation, db: Path) -> Hub:
    return kind(HubConfig(fed.path / "federation", f"sqlite:///{db}", fed.address, inbox_watch_interval=3600,
                          checkpoint_interval=3600, checkpoint_every=10**9), fed.federation)


async def _drain(broker: PrivateBroker, fed: RunningFederation, kind: type[Hub], count: int, db: Path,
                 start: int) -> tuple[float, float, float, float]:
    """(hub CPU ms, broker CPU ms, log entries, hub CPU ms less its idle rate) per broadcast, over the
    `count` broadcasts waiting in hub.in but those the hub took first (SKIP or more: start-up and its
    first batch). The hub's idle CPU rate (background work that runs per second, not per broadcast)
    is read for IDLE seconds after the drain; the broker makes the drain last longer at larger N."""
    sender = fed.federation.directory.node_ids()[0]
    await _publish(fed, sender, _broadcasts(fed, sender, count, start))
    hub = _hub(kind, fed, db)
    await hub.start()
    deadline = time.monotonic() + 600
    while hub.processed < SKIP:  # often: a batch in progress when the window opens is counted whole
        await _wait(hub, count, deadline, 0.002)
    cpu, broker_cpu, taken, entries = time.process_time(), process_cpu(broker.pid()), hub.processed, hub.store.size
    wall = time.monotonic()
    while hub.processed < count:
        await _wait(hub, count, deadline, POLL)
    cpu, broker_cpu = time.process_time() - cpu, process_cpu(broker.pid()) - broker_cpu
    taken, entries, wall = hub.processed - taken, hub.store.size - entries, time.monotonic() - wall
    idle = time.process_time()
    await asyncio.sleep(IDLE)  # the hub's background work (heartbeats, periodic polls), nothing to take
    idle = (time.process_time() - idle) / IDLE
    odd = [(e["verdict"], e["reason"], e["type"]) for e in hub.store.trail(limit=1000) if e["verdict"] != "accepted"]
    await hub.stop()
    _purge(broker, fed)
    if odd:
        print(f"  note: entries not accepted: {odd[:5]}", flush=True)
    taken = taken or float("nan")  # a warm-up drain may be taken in its first batch
    return cpu / taken * 1e3, broker_cpu / taken * 1e3, entries / taken, (cpu - idle * wall) / taken * 1e3


async def _wait(hub: Hub, count: int, deadline: float, poll: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"the hub took {hub.processed} of {count} broadcasts in 600 s")
    await asyncio.sleep(poll)


async def _latency(broker: PrivateBroker, fed: RunningFederation, db: Path, start: int) -> list[float]:
    """Delivery latency (ms) of every copy of the broadcasts sent for SECONDS at `latency_rate`, each
    copy's signature verified."""
    broker.set_permissions(fed.vhost, ADMIN_USER, ".*", ".*", ".*")  # the simulated receivers read every inbox
    directory = fed.federation.directory
    sender, receivers = directory.node_ids()[0], directory.node_ids()[1:]
    rate = latency_rate(len(directory.node_ids()))
    count = max(5, int(rate * SECONDS))
    expected = count * len(receivers)
    latencies: list[float] = []
    done = asyncio.Event()

    async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        env = wire.decode(message.body)
        verify_envelope(env, fed.federation.trust, utcnow())
        latencies.append((utcnow() - parse_time(env.created)).total_seconds() * 1000)
        await message.ack()
        if len(latencies) >= expected:
            done.set()

    connection = await aio_pika.connect(broker.admin_url(fed.vhost))
    hub = _hub(Hub, fed, db)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=256)
        for node_id in receivers:
            await (await channel.get_queue(broker_config.inbox_queue(node_id), ensure=False)).consume(receive)
        await hub.start()
        await hub.wait_connected()
        await _publish(fed, sender, rate=rate, count=count, start=start)
        await asyncio.wait_for(done.wait(), 600)
    await hub.stop()
    _purge(broker, fed)
    return latencies


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def measure(broker: PrivateBroker, work: Path, members: int, repeats: int) -> dict:
    fed = make_federation(broker, work / f"n{members}", f"bench-fanout-{members}", _codes(members))
    result: dict = {"members": members, "fanout_ms": [], "fanout_busy_ms": [], "per_recipient_busy_ms": [],
                    "fanout_broker_ms": [], "per_recipient_ms": [],
                    "per_recipient_broker_ms": [], "p50": [], "p99": [], "entries": []}
    # A first hub in this process does one-time work (imports, caches) the later ones do not: once,
    # unmeasured (it made a run's N = 3 figure negative).
    await _drain(broker, fed, Hub, SKIP, work / f"h{members}-warm-up.db", 0)
    serial = SKIP
    for rep in range(repeats):
        for kind, key in ((Hub, "fanout"), (PerRecipientHub, "per_recipient")):
            hub_ms, broker_ms, entries, busy_ms = await _drain(broker, fed, kind, COUNT,
                                                               work / f"h{members}-{rep}-{key}.db", serial)
            serial += COUNT
            result[f"{key}_ms"].append(hub_ms)
            result[f"{key}_busy_ms"].append(busy_ms)
            result[f"{key}_broker_ms"].append(broker_ms)
            result["entries"].append(entries)
        latencies = await _latency(broker, fed, work / f"h{members}-{rep}-lat.db", serial)
        serial += 100
        result["p50"].append(_pct(latencies, 50))
        result["p99"].append(_pct(latencies, 99))
    fed.delete(broker)
    return result


async def profile(broker: PrivateBroker, work: Path, members: int, count: int) -> dict[str, float]:
    """Hub CPU per broadcast by function (µs, own time), one drain of `count` broadcasts under
    cProfile. Profiling a thread needs its own profiler, so the hub's thread work (the log's commit)
    runs inline on the event loop meanwhile: the same work, attributed."""
    fed = make_federation(broker, work / f"p{members}", f"bench-fanout-prof-{members}", _codes(members))
    sender = fed.federation.directory.node_ids()[0]
    await _publish(fed, sender, _broadcasts(fed, sender, count, 0))
    to_thread = asyncio.to_thread

    async def inline(func, /, *args, **kwargs):  # noqa: ANN001, ANN202
        return func(*args, **kwargs)

    asyncio.to_thread = inline
    profiler = cProfile.Profile(time.process_time)
    try:
        hub = _hub(Hub, fed, work / f"p{members}.db")
        await hub.start()
        while hub.processed < min(SKIP, count):  # start-up and the first batch are not profiled
            await asyncio.sleep(0.005)
        done = hub.processed
        profiler.enable()
        while hub.processed < count:
            await asyncio.sleep(POLL)
        profiler.disable()
        done = hub.processed - done
        await hub.stop()
    finally:
        asyncio.to_thread = to_thread
    _purge(broker, fed)
    fed.delete(broker)
    if os.environ.get("SOMEX_BENCH_PROFILE_DIR"):  # the whole profile, for pstats
        profiler.dump_stats(Path(os.environ["SOMEX_BENCH_PROFILE_DIR"]) / f"fanout-{members}.pstats")
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return {f"{Path(file).name}:{line}({name})": tottime / done * 1e6
            for (file, line, name), (_, _, tottime, _, _) in stats.items()}


def _print_profiles(profiles: dict[int, dict[str, float]], top: int = 30) -> None:
    small, large = min(profiles), max(profiles)
    a, b = profiles[small], profiles[large]
    print(f"hub CPU per broadcast under cProfile (own time, µs): N={small} total {sum(a.values()):.0f}, "
          f"N={large} total {sum(b.values()):.0f}; the {top} functions that grow most:")
    growth = sorted(set(a) | set(b), key=lambda f: a.get(f, 0.0) - b.get(f, 0.0))
    for f in growth[:top]:
        print(f"  {b.get(f, 0.0) - a.get(f, 0.0):8.1f}  {a.get(f, 0.0):8.1f} -> {b.get(f, 0.0):8.1f}  {f}")


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


async def run(sizes: tuple[int, ...], repeats: int, profile_count: int = 0) -> list[dict]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="somex-bench-fanout-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-fanout-{id(work)}@localhost")
        broker.ensure_installed()
        broker.start(stop_with_caller=True)  # the broker stops with this process, whatever happens
        try:
            if profile_count:
                _print_profiles({n: await profile(broker, work, n, profile_count) for n in sizes})
                return []
            results = []
            for n in sizes:
                results.append(await measure(broker, work, n, repeats))
                _print([results[-1]], header=len(results) == 1)
            if len(results) > 1:  # the goal: hub CPU per broadcast at the largest N within 2x the smallest's
                small, large = results[0], results[-1]
                for key, what in (("fanout_ms", "hub fan-out"), ("fanout_busy_ms", "less idle")):
                    a, b = small[key], large[key]
                    print(f"{what}: N={large['members']} / N={small['members']} = {sum(b) / sum(a):.2f} (means), "
                          f"{max(b) / min(a):.2f} (worst pair), {min(b) / max(a):.2f} (best pair)", flush=True)
            return results
        finally:
            broker.stop()


def _print(results: list[dict], header: bool = True) -> None:
    if header:
        print(f"broadcast alerts (ranges over runs): hub and broker CPU per broadcast, ms; delivery ms "
              f"at min(10, {COPIES_PER_SECOND}/(N-1)) broadcasts/s; {COUNT} broadcasts per drain, the first {SKIP}+ left out")
        print(f"{'N':>4} {'hub fan-out':>13} {'less idle':>11} {'hub per-recip.':>15} {'broker fan-out':>15} "
              f"{'broker per-recip.':>17} {'p50':>13} {'p99':>13} {'entries/bcast':>13}")
    for r in results:
        print(f"{r['members']:>4} {_range(r['fanout_ms']):>13} {_range(r['fanout_busy_ms']):>11} "
              f"{_range(r['per_recipient_ms']):>15} "
              f"{_range(r['fanout_broker_ms']):>15} {_range(r['per_recipient_broker_ms']):>17} "
              f"{_range(r['p50']):>13} {_range(r['p99']):>13} {_range(r['entries']):>13}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=SIZES)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--profile", type=int, default=0, metavar="COUNT",
                        help="instead: profile the hub over COUNT broadcasts at the smallest and largest size")
    args = parser.parse_args(argv)
    asyncio.run(run(args.sizes, args.repeats, args.profile))


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
