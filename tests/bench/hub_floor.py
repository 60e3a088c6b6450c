"""The hub's floor: the least a hub must do per entry for the README's guarantees, written plainly
with raw aio-pika, raw sqlite3 and `cryptography`, measured in the same run as the hub drain.

Per entry: parse the JSON (C parser), check the body's SHA-256 against `body_digest`, verify the
Ed25519 signature over a canonical signing input (sorted keys, C encoder: cheaper than any real
JCS), hash a leaf, sign a log receipt; per batch of up to 256: one SQLite transaction at
`synchronous=FULL` (WAL), then every forward published with a confirm, then one ack for the batch.
No policy, no replay window, no Merkle tree, no checkpoint, no per-message isolation beyond a
refusal counter: what it costs is what any hub keeping the guarantees must spend at least, in
Python on these libraries. Its CPU per entry plus the broker's bounds the entries/s two cores allow.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aio_pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.envelope import SIGNING_DOMAIN
from tests.bench import roles

BATCH = 256


@dataclass
class Floor:
    entries: int
    seconds: float
    cpu: float  # this process, while it drained
    broker_cpu: float

    @property
    def rate(self) -> float:
        return self.entries / self.seconds


def _signing_input(obj: dict) -> bytes:
    members = {k: v for k, v in obj.items() if k not in ("sig", "body", "sealed")}
    return SIGNING_DOMAIN + json.dumps(members, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()


def _entry(raw: bytes, sender_key: Ed25519PublicKey, log_key: Ed25519PrivateKey, seq: int) -> tuple:
    obj = json.loads(raw)
    if hashlib.sha256(obj["body"].encode()).hexdigest() != obj["body_digest"]:
        raise ValueError("digest_mismatch")
    signed = _signing_input(obj)
    sender_key.verify(base64.b64decode(obj["sig"]["value"]), signed)
    leaf = hashlib.sha256(b"\x00" + signed + obj["sig"]["value"].encode()).digest()
    receipt = log_key.sign(leaf + seq.to_bytes(8, "big"))
    return seq, obj["id"], leaf, receipt


async def drain(url: str, raws: list[bytes], sender_key: Ed25519PublicKey, workdir: Path,
                broker_pid: int | None) -> Floor:
    """Load `raws` into a quorum queue, then time the floor draining them into a second one."""
    source, target = "floor.in", "floor.out"
    await roles.declare_raw_queues(url, (source, target))
    connection = await aio_pika.connect(url)
    loader = await connection.channel(publisher_confirms=True)
    window = asyncio.Semaphore(512)

    async def load(raw: bytes) -> None:
        async with window:
            await loader.default_exchange.publish(aio_pika.Message(raw, delivery_mode=2), routing_key=source)

    await asyncio.gather(*(load(r) for r in raws))
    workdir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(workdir / "floor.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, leaf BLOB, "
               "receipt BLOB, raw BLOB)")
    log_key = Ed25519PrivateKey.generate()
    out = await connection.channel(publisher_confirms=True)
    inbound = await connection.channel()
    await inbound.set_qos(prefetch_count=512)
    pending: list[aio_pika.abc.AbstractIncomingMessage] = []
    arrived = asyncio.Event()
    done, refused, seq = 0, 0, 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        pending.append(message)
        arrived.set()

    start, start_cpu = time.perf_counter(), time.process_time()
    broker_start = roles.process_cpu(broker_pid)
    await (await inbound.get_queue(source)).consume(on_message)
    while done + refused < len(raws):
        await arrived.wait()
        arrived.clear()
        while pending:
            batch, pending[:] = pending[:BATCH], pending[BATCH:]
            rows, kept = [], []
            for message in batch:
                try:
                    rows.append(_entry(message.body, sender_key, log_key, seq) + (message.body,))
                    kept.append(message)
                    seq += 1
                except Exception:  # noqa: BLE001 - a refusal is per message
                    refused += 1
            db.execute("BEGIN")
            db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
            await asyncio.gather(*(out.default_exchange.publish(
                aio_pika.Message(m.body, delivery_mode=2), routing_key=target) for m in kept))
            await batch[-1].ack(multiple=True)
            done += len(kept)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    broker_cpu = roles.process_cpu(broker_pid) - broker_start
    await connection.close()
    db.close()
    if refused:
        raise RuntimeError(f"the floor refused {refused} valid messages")
    return Floor(done, seconds, cpu, broker_cpu)
