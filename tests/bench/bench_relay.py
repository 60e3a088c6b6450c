"""End-to-end relay benchmark: raw aio-pika two-hop relay vs the somex path, same broker, same run.

raw:   publish → quorum queue → relay consumer republishes (confirms) → quorum queue → consumer
somex: node outbox (sign, commit) → hub.in → hub (decode, verify, policy, audit commit, forward
       with confirms) → node inbox (decode, verify envelope and log receipt, dedup, commit)
"""

from __future__ import annotations

import argparse
import asyncio
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
from nodes.runtime.config import new_message_id, utcnow
from nodes.runtime.logs import configure_logging
from nodes.runtime.rabbit import PrivateBroker, free_port
from protocol import envelope as wire
from tests.bench.stats import Run
from tests.integration.federation import make_federation


def sample_alert(issuer: str, size: int) -> dict:
    """A valid alert padded to about `size` characters (the national reference carries the padding)."""
    return {"document_number": "YA1234567", "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20",
            "national_reference": "R" * min(max(size - 150, 1), 128)}


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


async def hub_drain(broker: PrivateBroker, workdir: Path, n: int, text_size: int) -> Run:
    """The hub alone: N signed messages wait in hub.in; time the hub verifying, auditing and forwarding them."""
    fed = make_federation(broker, workdir, "bench-hub", countries=["MEX", "IDN"])
    key = fed.federation.credentials("MEX").signing_key
    raws = [wire.encode(sign_envelope(wire.build(
        message_id=new_message_id(), type="alert.document", sender="MEX", recipients=["IDN"], created=utcnow(),
        ttl=timedelta(hours=1), body=sample_alert("MEX", text_size)), key)) for _ in range(n)]
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
    start = time.perf_counter()
    hub = await fed.start_hub()
    while hub.processed < n:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - start
    assert hub.store.size >= n
    await fed.stop_all()
    return Run("hub alone: verify + durable audit + forward", n, elapsed, [])


def _t(text: str) -> datetime:
    from protocol.timefmt import parse_time

    return parse_time(text)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_relay")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--text", type=int, default=1000, help="payload characters")
    args = parser.parse_args(argv)
    level = os.environ.get("SOMEX_LOG_LEVEL", "WARNING")
    configure_logging(level, json=True)
    with tempfile.TemporaryDirectory(prefix="somex-bench-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            sample = wire.encode(sign_envelope(wire.build(
                message_id=new_message_id(), type="alert.document", sender="MEX", recipients=["IDN"],
                created=utcnow(), ttl=timedelta(hours=1), body=sample_alert("MEX", args.text),
            ), SigningKey.generate()))
            broker.apply_admin_vhost("bench-raw")
            print(f"== relay benchmark: {args.messages} messages of {len(sample)} bytes, quorum queues, "
                  f"publisher confirms, persistent; everything in one process, this machine ({os.cpu_count()} cores); "
                  f"log level {level}")
            raw = await raw_relay(broker.admin_url("bench-raw"), args.messages, len(sample))
            print(raw.line())
            alert = await somex_path(broker, work / "alerts", args.messages, args.text, "alert.document")
            print(alert.line())
            note = await somex_path(broker, work / "notes", args.messages, args.text, "note")
            print(note.line())
            drained = await hub_drain(broker, work / "hub", args.messages, args.text)
            print(f"{drained.name:<44} {drained.rate:>9.0f} msg/s   (durable entries/s inside the running hub)")
            print(f"ratio somex/raw throughput: alerts {alert.rate / raw.rate:.2f}, notes with receipts "
                  f"{note.rate / raw.rate:.2f}  (goal ≥ 0.7)")
        finally:
            broker.stop()
