"""A large evidence file end to end (docs/evidence-files.md): MEX sends IDN an MLA request with a
1 GiB file; the sender node, the hub and the recipient node each run in an OS process of their own
(tests/bench/roles.py). Measured: the time from the focal point handing over the file (spooled to
the sender's disk, hashed, the request sealed) to the file complete and verified on the
recipient's disk; the throughput; each process's peak resident memory (VmHWM from
/proc/<pid>/status). Baseline, in the same run: raw aio-pika moving the same file in 4 MiB
messages through a two-hop relay (producer reading the file → relay → sink writing it to disk),
each in its own process, as many messages in flight as the somex sender's window, no crypto, no database.

Goal (issue 17): ≥ 50 MiB/s and < 200 MiB resident per process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aio_pika

from nodes.national.features.files.transfers import WINDOW  # the raw path keeps as many in flight
from nodes.plumbing.config import BrokerAddress, NodeConfig
from nodes.plumbing.heap import MALLOC_SETTINGS
from nodes.plumbing.logs import configure_logging
from nodes.plumbing.rabbit import PrivateBroker, free_port
from tests.bench import roles
from tests.bench.roles import Role
from tests.support.broker import admin_vhost

MiB = 1024 * 1024
PIECE = 4 * MiB


def peak_mib(pid: int | None) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def write_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(PIECE)
    with open(path, "wb") as f:
        left = size
        while left:
            piece = block[: min(left, PIECE)]
            block = hashlib.sha256(block[:64]).digest() + block[32:]  # each piece differs
            f.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


# -- somex ------------------------------------------------------------------------------------------

async def sender_role(ctx: Any, country: str, path: Path, address: BrokerAddress) -> None:
    """A national node; on the command ("send", file, to) its focal point sends an MLA request
    with the file (spooled, hashed, sealed) and answers with the seconds the hand-over took."""
    from nodes.national.node import NationalNode
    from nodes.plumbing.heap import settle_heap, tune_malloc

    tune_malloc()  # as nodes/app/serve.py does
    node = NationalNode(NodeConfig(country, path / "federation", f"sqlite:///{path / f'{country}.db'}", address))
    await node.start()
    await asyncio.wait_for(node.session.connected.wait(), 30)
    settle_heap()  # as nodes/app/serve.py does
    ctx.set_ready()
    _, file, to = await ctx.command()
    t0 = time.monotonic()
    spooled = await asyncio.to_thread(node.files.spool_file, Path(file))
    fields = {"requested": to, "reference": "MEX-BENCH-1", "kind": "mutual_legal_assistance",
              "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["evidence_taking"],
              "urgency": "routine", "summary": "bench: one large evidence file", "language": "en",
              "measure_details": {"evidence_taking": {"evidence": "one large evidence file"}}}
    created = await asyncio.to_thread(node.mla.create, fields, (), [spooled])
    ctx.results.put((created["id"], time.monotonic() - t0))
    await ctx.until_stopped()
    await node.stop()


async def somex_file(broker: PrivateBroker, path: Path, file: Path, sha256: str, timeout: float) -> dict[str, Any]:
    from sqlalchemy import create_engine, select

    from nodes.national.features.files.transfers import files_in
    from tests.integration.federation import make_federation

    fed = make_federation(broker, path, "bench-evidence", countries=["MEX", "IDN"])
    hub = await Role.start(roles.hub_role, path, fed.address)
    recipient = await Role.start(roles.node_role, "IDN", path, fed.address)
    sender = await Role.start(sender_role, "MEX", path, fed.address)
    engine = create_engine(f"sqlite:///{path / 'IDN.db'}")
    peaks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    usage: dict[str, dict[str, float]] = {}
    try:
        start = time.monotonic()
        sender.send(("send", str(file), "IDN"))
        carrier, handover = await sender.result(timeout)
        deadline = start + timeout
        while True:
            with engine.connect() as conn:
                row = conn.execute(select(files_in.c.state, files_in.c.reason)
                                   .where(files_in.c.carrier == carrier)).first()
            if row is not None and row.state != "receiving":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the file did not arrive in {timeout:g} s")
            await asyncio.sleep(0.2)
        seconds = time.monotonic() - start
        if row.state != "complete":
            raise RuntimeError(f"the file was refused: {row.reason}")
        received = path / "IDN" / "files" / "in" / f"{carrier}.0"
        for name, role in (("sender node", sender), ("hub", hub), ("recipient node", recipient)):
            peaks[name] = peak_mib(role.pid)
    finally:
        for name, role in (("sender node", sender), ("hub", hub), ("recipient node", recipient)):
            cpu[name] = await role.stop()
            usage[name] = role.usage
        engine.dispose()
    located = received if received.exists() else next(path.rglob(f"{carrier}.0"))
    if await asyncio.to_thread(_sha256, located) != sha256:
        raise RuntimeError("the received file does not match")
    return {"seconds": seconds, "handover": handover, "peaks": peaks, "cpu": cpu, "usage": usage}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(MiB):
            digest.update(piece)
    return digest.hexdigest()


# -- raw aio-pika -----------------------------------------------------------------------------------

async def raw_file_producer_role(ctx: Any, url: str, queue: str, file: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    ctx.set_ready()
    await ctx.command()
    window = asyncio.Semaphore(WINDOW)
    tasks = []

    async def publish(data: bytes) -> None:
        try:
            await channel.default_exchange.publish(aio_pika.Message(data, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                                   routing_key=queue, mandatory=True)
        finally:
            window.release()

    with open(file, "rb") as f:
        while True:
            await window.acquire()
            data = f.read(PIECE)
            if not data:
                break
            tasks.append(asyncio.create_task(publish(data)))
    await asyncio.gather(*tasks)
    ctx.results.put(len(tasks))
    await ctx.until_stopped()
    await connection.close()


async def raw_file_sink_role(ctx: Any, url: str, queue: str, out: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=WINDOW)
    got = [0]
    f = open(out, "wb")  # noqa: SIM115 - closed below

    async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        f.write(message.body)
        got[0] += 1
        await message.ack()

    await (await channel.get_queue(queue)).consume(receive)
    ctx.set_ready()
    _, n, timeout = await ctx.command()
    deadline = time.monotonic() + timeout
    while got[0] < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    f.close()
    ctx.results.put(got[0])
    await ctx.until_stopped()
    await connection.close()


async def raw_file(url: str, file: Path, out: Path, size: int, timeout: float) -> dict[str, Any]:
    await roles.declare_raw_queues(url, ("evidence-a", "evidence-b"))
    sink = await Role.start(raw_file_sink_role, url, "evidence-b", str(out))
    relay = await Role.start(roles.raw_relay_role, url, "evidence-a", "evidence-b")
    producer = await Role.start(raw_file_producer_role, url, "evidence-a", str(file))
    peaks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    try:
        n = -(-size // PIECE)
        start = time.monotonic()
        sink.send(("expect", n, timeout))
        producer.send(("go",))
        got = await sink.result(timeout + 30)
        seconds = time.monotonic() - start
        if got != n:
            raise RuntimeError(f"raw path moved {got} of {n} messages")
        for name, role in (("producer", producer), ("relay", relay), ("sink", sink)):
            peaks[name] = peak_mib(role.pid)
    finally:
        for name, role in (("producer", producer), ("relay", relay), ("sink", sink)):
            cpu[name] = await role.stop()
    return {"seconds": seconds, "peaks": peaks, "cpu": cpu}


def _usage(usage: dict[str, dict[str, float]], mib: int) -> str:
    """User and system CPU seconds per GiB, and minor page faults per 4 MiB chunk, of each process."""
    return "; ".join(f"{name} user {u['user'] * 1024 / mib:.0f} s sys {u['sys'] * 1024 / mib:.0f} s, "
                     f"{u['minflt'] * 4 / mib:.0f} faults/chunk" for name, u in usage.items() if u)


def _peaks(peaks: dict[str, float]) -> str:
    return ", ".join(f"{name} {mib:.0f} MiB" for name, mib in peaks.items())


def _cpu(cpu: dict[str, float], mib: int) -> str:
    """CPU seconds per GiB of each process, and the rate the busiest one allows on an idle machine
    with a core per process (the figure that does not depend on how loaded the machine is)."""
    per_gib = ", ".join(f"{name} {seconds * 1024 / mib:.0f} s" for name, seconds in cpu.items())
    return f"CPU per GiB: {per_gib}; CPU-bound rate {mib / max(cpu.values()):.0f} MiB/s"


def _malloc_environment() -> str:
    """The MALLOC_* variables that override the nodes' own malloc settings, if any are set."""
    set_here = [f"{name}={os.environ[name]}" for name in MALLOC_SETTINGS if name in os.environ]
    return f", overridden by {' '.join(set_here)}" if set_here else ""


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_evidence")
    parser.add_argument("--mib", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--somex-only", action="store_true", help="skip the raw aio-pika baseline")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("SOMEX_LOG_LEVEL", "WARNING"), json=True)
    size = args.mib * MiB
    with tempfile.TemporaryDirectory(prefix="somex-bench-evidence-") as tmp:
        work = Path(tmp)
        broker = PrivateBroker(work / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-evidence-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            file = work / "evidence.bin"
            sha256 = write_file(file, size)
            os.sync()  # the file is on the focal point's disk before the hand-over: its writeback is no part of a run
            load = os.getloadavg()
            print(f"== evidence file benchmark: {args.mib} MiB in 4 MiB chunks, sender node, hub and recipient node "
                  f"each in its own process, SQLite, quorum queues; this machine ({os.cpu_count()} cores), load "
                  f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; malloc as the processes set it "
                  f"(nodes/plumbing/heap.py){_malloc_environment()}")
            raw_rate = float("nan")
            if not args.somex_only:
                admin_vhost(broker, "bench-evidence-raw")
                raw = await raw_file(broker.admin_url("bench-evidence-raw"), file, work / "raw-out.bin", size,
                                     args.timeout)
                (work / "raw-out.bin").unlink()
                os.sync()  # the baseline's writes are not left for the somex run to wait on
                raw_rate = args.mib / raw["seconds"]
                print(f"{'raw aio-pika 4 MiB messages, two hops':<44} {raw_rate:7.1f} MiB/s  "
                      f"({raw['seconds']:.1f} s)   peak resident: {_peaks(raw['peaks'])}")
                print(f"{'':<44} {_cpu(raw['cpu'], args.mib)}")
            (work / "somex").mkdir()
            run = await somex_file(broker, work / "somex", file, sha256, args.timeout)
            rate = args.mib / run["seconds"]
            print(f"{'somex: spool, seal, hub, verify, reassemble':<44} {rate:7.1f} MiB/s  ({run['seconds']:.1f} s, "
                  f"of which hand-over {run['handover']:.1f} s)   peak resident: {_peaks(run['peaks'])}")
            print(f"{'':<44} {_cpu(run['cpu'], args.mib)}")
            print(f"{'':<44} {_usage(run['usage'], args.mib)}")
            print(f"ratio somex/raw throughput {rate / raw_rate:.2f}   (goal ≥ 50 MiB/s, < 200 MiB per process)")
        finally:
            broker.stop()


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
