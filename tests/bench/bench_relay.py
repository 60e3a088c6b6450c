"""End-to-end relay benchmark: raw aio-pika two-hop relay vs the somex path, same broker, same run.

raw:   publish → quorum queue → relay consumer republishes (confirms) → quorum queue → consumer
somex: node outbox (sign, commit) → hub.in → hub (decode, verify, policy, audit commit, forward
       with confirms) → node inbox (decode, verify envelope and log receipt, dedup, commit)

By default each of the three parties of either path runs in its own process (tests/bench/roles.py),
as deployed; `--one-process` runs everything in this process, as the first measurements did.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import aio_pika
from sqlalchemy import func, select

from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.national.store import messages as message_table
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.heap import settle_heap
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import PrivateBroker, free_port
from protocol import envelope as wire
from tests.bench import hub_floor, roles
from tests.support.broker import admin_vhost
from tests.bench.stats import Run
from tests.integration.federation import make_federation


def sample_alert(issuer: str, size: int) -> dict:
    """A valid alert padded to about `size` characters (the national reference carries the padding)."""
    return {"document_number": "YA1234567", "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20",
            "national_reference": "R" * min(max(size - 150, 1), 128)}


def signed_alerts(key: SigningKey, n: int, text_size: int) -> list[bytes]:
    """`n` alerts MEX → IDN as the somex path sends them, signed with `key`."""
    return [wire.encode(sign_envelope(wire.build(
        message_id=new_message_id(), type="alert.document", sender="MEX", recipients=["IDN"], created=utcnow(),
        ttl=timedelta(hours=1), body=sample_alert("MEX", text_size)), key)) for _ in range(n)]


def sample_envelope(text_size: int) -> bytes:
    """A signed alert as the somex path sends it: the raw relay's messages are this size."""
    return signed_alerts(SigningKey.generate(), 1, text_size)[0]


class RawRelay:
    """The baseline's shape: publish → quorum queue → relay consumer republishes (confirms) →
    quorum queue → consumer, on three connections, each message stamped with its send time."""

    def __init__(self, conns: list, out, size: int, names: tuple[str, str]) -> None:  # noqa: ANN001
        self._conns, self._out, self._names = conns, out, names
        self.body = os.urandom(size // 2).hex().encode()[:size]
        self.latencies: list[float] = []

    @classmethod
    async def open(cls, url: str, size: int, prefix: str = "bench") -> RawRelay:
        names = (f"{prefix}.a", f"{prefix}.b")
        conns = [await aio_pika.connect(url) for _ in range(3)]
        producer, relay_conn, consumer = conns
        setup = await producer.channel()
        for name in names:
            queue = await setup.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
            await queue.purge()
        relay_out = await relay_conn.channel(publisher_confirms=True)
        relay_in = await relay_conn.channel()
        await relay_in.set_qos(prefetch_count=512)
        sink = await consumer.channel()
        await sink.set_qos(prefetch_count=512)
        self = cls(conns, await producer.channel(publisher_confirms=True), size, names)

        async def relay(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await relay_out.default_exchange.publish(
                aio_pika.Message(message.body, headers=message.headers,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=names[1], mandatory=True)
            await message.ack()

        async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            self.latencies.append((time.time() - float(message.headers["t0"])) * 1000)
            await message.ack()

        await (await relay_in.get_queue(names[0])).consume(relay)
        await (await sink.get_queue(names[1])).consume(receive)
        return self

    async def publish(self) -> None:
        await self._out.default_exchange.publish(
            aio_pika.Message(self.body, headers={"t0": repr(time.time())},
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=self._names[0], mandatory=True)

    async def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()


async def raw_relay(url: str, n: int, size: int) -> Run:
    relay = await RawRelay.open(url, size)
    window = asyncio.Semaphore(512)

    async def publish_one() -> None:
        async with window:
            await relay.publish()

    start = time.perf_counter()
    await asyncio.gather(*(publish_one() for _ in range(n)))
    await relay.wait_for(n, timeout=600)
    elapsed = time.perf_counter() - start
    await relay.close()
    return Run("raw aio-pika two-hop relay", n, elapsed, relay.latencies)


async def somex_path(broker: PrivateBroker, workdir: Path, n: int, text_size: int, mtype: str) -> Run:
    fed = make_federation(broker, workdir, f"bench-{mtype}", countries=["MEX", "IDN"])
    await fed.start_hub()
    sender, recipient = await fed.start_node("MEX"), await fed.start_node("IDN")
    await fed.hub.wait_connected()
    await asyncio.wait_for(recipient.session.connected.wait(), 30)
    body = {"text": "x" * text_size} if mtype == "note" else sample_alert("MEX", text_size)
    start = time.perf_counter()
    for offset in range(0, n, 200):
        chunk = [sender.build(mtype, ["IDN"], body=body) for _ in range(min(200, n - offset))]
        await sender.submit(chunk)
    engine = recipient.store.engine

    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(message_table)
                                .where(message_table.c.direction == "in", message_table.c.type == mtype)).scalar_one()

    deadline = time.monotonic() + 600
    while await asyncio.to_thread(count) < n:
        if time.monotonic() > deadline:
            raise TimeoutError("somex path did not deliver every message in 600 s")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:
        rows = conn.execute(select(message_table.c.created, message_table.c.stored_at)
                            .where(message_table.c.direction == "in", message_table.c.type == mtype)).all()
    latencies = [(_t(stored) - _t(created)).total_seconds() * 1000 for created, stored in rows]
    await fed.stop_all()
    label = "somex path, alert (no receipt)" if mtype != "note" else "somex path, note (+ signed receipt back)"
    return Run(label, n, elapsed, latencies)


async def hub_drain(broker: PrivateBroker, workdir: Path, n: int, text_size: int, verify_workers: int = 1) -> Run:
    """The hub alone: N signed messages wait in hub.in; time the hub verifying, auditing and forwarding them."""
    fed = make_federation(broker, workdir, "bench-hub", countries=["MEX", "IDN"])
    key = fed.federation.credentials("MEX").signing_key
    raws = signed_alerts(key, n, text_size)
    connection = await aio_pika.connect(fed.url_for("MEX"))
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange("hub.in", ensure=False)
    user = fed.federation.credentials("MEX").broker_user
    window = asyncio.Semaphore(512)

    async def publish(raw: bytes) -> None:
        async with window:
            await exchange.publish(aio_pika.Message(raw, user_id=user, delivery_mode=2), routing_key="MEX")

    await asyncio.gather(*(publish(r) for r in raws))
    await connection.close()
    start, start_cpu = time.perf_counter(), time.process_time()
    hub = await fed.start_hub(verify_workers=verify_workers)
    thresholds, pauses = gc.get_threshold(), GcPauses()
    gc.callbacks.append(pauses)
    settle_heap()  # as nodes/app/serve.py does once the hub started; undone after the drain
    # The hub's set-up (its store opened, the schema created: Alembic's import alone is ~0.5 s of CPU)
    # is not per entry: the drain is timed from here, where the hub connects and consumes.
    set_up, set_up_cpu, broker_cpu = time.perf_counter(), time.process_time(), roles.process_cpu(broker.pid())
    while hub.processed < n:
        await asyncio.sleep(0.02)
    end, end_cpu = time.perf_counter(), time.process_time()
    elapsed = end - set_up
    gc.callbacks.remove(pauses)
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    # process_time: every thread of this process, which runs the hub alone while it drains
    cpu, broker_cpu = end_cpu - set_up_cpu, roles.process_cpu(broker.pid()) - broker_cpu
    assert hub.store.size >= n
    batches = {s.name: s.value for s in hub.telemetry.batch_seconds.collect()[0].samples}
    workers = sum(roles.process_cpu(pid) for pid in hub.signatures.pids())  # started with the drain
    print(f"    hub set-up {(set_up - start) * 1e3:.0f} ms ({(set_up_cpu - start_cpu) * 1e3:.0f} ms CPU), "
          f"not in the figures below; with it: {n / (end - start):.0f} entries/s, "
          f"{(end_cpu - start_cpu) / n * 1e6:.0f} µs CPU per entry\n"
          f"    hub batches: {batches['somex_batch_seconds_count']:.0f}, "
          f"{batches['somex_batch_seconds_sum'] / max(batches['somex_batch_seconds_count'], 1) * 1e3:.1f} ms each; "
          f"{pauses}\n    CPU per entry: hub process {cpu / n * 1e6:.0f} µs + signature workers "
          f"{workers / n * 1e6:.0f} µs ({len(hub.signatures.pids())} processes)")
    cpu += workers
    await fed.stop_all()
    return Run("hub alone: verify + durable audit + forward", n, elapsed, [], {"hub": cpu}, broker_cpu)


class GcPauses:
    """The cyclic collector's runs while this is in gc.callbacks: how many of each generation, how long."""

    def __init__(self) -> None:
        self.runs, self.seconds, self._started = [0, 0, 0], 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def __str__(self) -> str:
        return f"gc runs by generation {'/'.join(map(str, self.runs))}, {self.seconds * 1e3:.0f} ms"


def _t(text: str) -> datetime:
    from protocol.timefmt import parse_time

    return parse_time(text)


async def raw_relay_in_processes(url: str, n: int, size: int, broker_pid: int | None = None) -> Run:
    return Run.of("raw aio-pika two-hop relay", await roles.raw_in_processes(url, size, ("burst", n), "bench", broker_pid))


async def somex_path_in_processes(broker: PrivateBroker, workdir: Path, n: int, text_size: int, mtype: str) -> Run:
    body = {"text": "x" * text_size} if mtype == "note" else sample_alert("MEX", text_size)
    measured = await roles.somex_in_processes(broker, workdir, f"bench-{mtype}", mtype, ("burst", n, body))
    label = "somex path, alert (no receipt)" if mtype != "note" else "somex path, note (+ signed receipt back)"
    return Run.of(label, measured)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_relay")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--text", type=int, default=1000, help="payload characters")
    parser.add_argument("--one-process", action="store_true", help="everything in this process")
    parser.add_argument("--verify-workers", type=int, default=0, help="hub: signature worker processes (0: none, the default)")
    parser.add_argument("--only", choices=["raw", "alert", "note", "hub"], action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args(argv)
    parts = set(args.only or ["raw", "alert", "note", "hub"])
    somex_run = somex_path if args.one_process else somex_path_in_processes
    shape = "everything in one process" if args.one_process else "producer, relay and consumer each in its own process"
    level = os.environ.get("SOMEX_LOG_LEVEL", "WARNING")
    configure_logging(level, json=True)
    with tempfile.TemporaryDirectory(prefix="somex-bench-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            sample = sample_envelope(args.text)
            admin_vhost(broker, "bench-raw")
            print(f"== relay benchmark: {args.messages} messages of {len(sample)} bytes, quorum queues, "
                  f"publisher confirms, persistent; {shape}, this machine ({os.cpu_count()} cores); "
                  f"log level {level}")
            runs: dict[str, Run] = {}
            if "raw" in parts:
                runs["raw"] = await (raw_relay(broker.admin_url("bench-raw"), args.messages, len(sample))
                                     if args.one_process else
                                     raw_relay_in_processes(broker.admin_url("bench-raw"), args.messages, len(sample),
                                                            broker.pid()))
                print(runs["raw"].line())
            for part, mtype in (("alert", "alert.document"), ("note", "note")):
                if part in parts:
                    runs[part] = await somex_run(broker, work / part, args.messages, args.text, mtype)
                    print(runs[part].line())
            if "hub" in parts:
                floor_key = SigningKey.generate()
                floor_raws = signed_alerts(floor_key, args.messages, args.text)
                floor = await hub_floor.drain(broker.admin_url("bench-raw"), floor_raws, floor_key.public_key,
                                              work / "floor", broker.pid())
                n = floor.entries
                print(f"{'hub floor: raw aio-pika + sqlite3 + Ed25519':<44} {floor.rate:>9.0f} msg/s   "
                      f"(tests/bench/hub_floor.py)\n    CPU per entry: floor {floor.cpu / n * 1e6:.0f} µs, "
                      f"broker {floor.broker_cpu / n * 1e6:.0f} µs; two cores allow at most "
                      f"{2 * n / (floor.cpu + floor.broker_cpu):.0f} entries/s at this CPU")
                drained = await hub_drain(broker, work / "hub", args.messages, args.text, args.verify_workers)
                print(f"{drained.name:<44} {drained.rate:>9.0f} msg/s   (durable entries/s inside the running hub)\n"
                      f"    CPU per entry: hub {drained.cpu_per_message_us[0]:.0f} µs (all its threads and workers), "
                      f"broker {drained.cpu_per_message_us[1]:.0f} µs")
                print(f"ratio hub/floor entries/s {drained.rate / floor.rate:.2f}, CPU per entry floor/hub "
                      f"{floor.cpu / n * 1e6 / drained.cpu_per_message_us[0]:.2f}   (goal ≥ 4,000 entries/s)")
            if "raw" in runs:
                ratios = [f"{label} {runs[part].rate / runs['raw'].rate:.2f}"
                          for part, label in (("alert", "alerts"), ("note", "notes with receipts")) if part in runs]
                if ratios:
                    print(f"ratio somex/raw throughput: {', '.join(ratios)}  (goal ≥ 0.7)")
                if not args.one_process and "alert" in runs:
                    raw_cpu, alert_cpu = runs["raw"].cpu_per_message_us, runs["alert"].cpu_per_message_us
                    print(f"ratio raw/somex CPU per message (alerts): Python {raw_cpu[0] / alert_cpu[0]:.2f}, "
                          f"Python + broker {sum(raw_cpu) / sum(alert_cpu):.2f}  (what the throughput ratio "
                          f"tends to on an otherwise idle machine where CPU is the bound)")
        finally:
            broker.stop()


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
