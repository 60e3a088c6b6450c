"""The benchmark's processes: the hub, each node and each leg of the raw relay in an OS process of
its own, as deployed (each country on its own machine, the hub on another), so that no side pays
for sharing one interpreter with the others.

somex:  sender node (load generator → outbox → publish)  |  hub  |  recipient node
raw:    producer (publish)                                |  relay (republish) |  sink (consume)

The parent starts each role with `Role.start`, waits until it is ready, sends the sender or the
producer a command (a burst of N or a steady rate), and reads the results from the role's queue.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika

from nodes.plumbing.config import BrokerAddress, HubConfig, NodeConfig

CTX = multiprocessing.get_context("spawn")
TICK = 0.02  # a steady load offers rate·TICK messages every TICK seconds


class Role:
    """One child process running `target(role_context, *args)` in its own event loop."""

    def __init__(self, target: Callable[..., Awaitable[None]], *args: Any) -> None:
        self.ready, self.stopping = CTX.Event(), CTX.Event()
        self.commands, self.results = CTX.Queue(), CTX.Queue()
        self.usage: dict[str, float] = {}
        self._process = CTX.Process(target=_run, args=(target, self.ready, self.stopping, self.commands,
                                                       self.results, os.environ.get("SOMEX_LOG_LEVEL", "WARNING"),
                                                       args), daemon=True)

    @classmethod
    async def start(cls, target: Callable[..., Awaitable[None]], *args: Any, timeout: float = 60) -> Role:
        role = cls(target, *args)
        role.name = target.__name__.removesuffix("_role").removeprefix("raw_") + (
            f" {args[0]}" if target.__name__ == "node_role" else "")
        role._process.start()
        deadline = time.monotonic() + timeout
        while not role.ready.is_set():
            if not role._process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{target.__name__} did not start (exit code {role._process.exitcode})")
            await asyncio.sleep(0.05)
        if profiles := os.environ.get("SOMEX_BENCH_PYSPY"):  # a directory: py-spy samples each process
            subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(role.pid),
                              "--format", "raw", "--rate", "250", "--gil",
                              "-o", f"{profiles}/{role.name.replace(' ', '-')}-{role.pid}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return role

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def send(self, command: Any) -> None:
        self.commands.put(command)

    async def result(self, timeout: float) -> Any:
        return await asyncio.to_thread(self.results.get, True, timeout)

    async def stop(self) -> float:
        """Stop the process; return the CPU seconds (user + system, every thread) it used. Its user
        and system seconds and minor page faults are then in `usage`."""
        self.stopping.set()
        cpu = float("nan")
        try:
            while True:
                item = await self.result(30)
                if isinstance(item, tuple) and item and item[0] == "cpu":
                    cpu, self.usage = item[1], item[2]
                    break
        except queue.Empty:
            pass
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join, 5)
        return cpu


def cpu_seconds() -> float:
    """This process's CPU and its children's that ended (the hub's signature workers, once it stopped)."""
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage,
                                                    (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))


class _Context:
    def __init__(self, ready, stopping, commands, results) -> None:  # noqa: ANN001
        self._ready, self._stopping, self._commands, self.results = ready, stopping, commands, results
        self.cpu_at_ready = 0.0
        self.usage_at_ready = resource.getrusage(resource.RUSAGE_SELF)

    def set_ready(self) -> None:
        """Up and connected: the CPU time counted for the run starts now."""
        self.cpu_at_ready = cpu_seconds()
        self.usage_at_ready = resource.getrusage(resource.RUSAGE_SELF)
        if probe := os.environ.get("SOMEX_BENCH_MEMPROBE"):
            from tests.bench.memprobe import start_probe

            start_probe(Path(probe))
        self._ready.set()

    def usage(self) -> dict[str, float]:
        """User and system seconds and minor page faults of this process since it was ready."""
        now, then = resource.getrusage(resource.RUSAGE_SELF), self.usage_at_ready
        return {"user": now.ru_utime - then.ru_utime, "sys": now.ru_stime - then.ru_stime,
                "minflt": now.ru_minflt - then.ru_minflt}

    async def until_stopped(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(0.1)

    async def command(self) -> Any:
        while True:
            try:
                return self._commands.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                await asyncio.sleep(0.01)


def _run(target, ready, stopping, commands, results, level: str, args: tuple) -> None:  # noqa: ANN001
    from nodes.plumbing.logs import configure_logging

    configure_logging(level, json=True)
    ctx = _Context(ready, stopping, commands, results)
    profiled = os.environ.get("SOMEX_BENCH_CPROFILE")  # a directory: cProfile of every thread of each process
    if profiled:
        profilers = _profile_all_threads()
    asyncio.run(target(ctx, *args))
    results.put(("cpu", cpu_seconds() - ctx.cpu_at_ready, ctx.usage()))
    if profiled:
        country = f"{args[0]}-" if args and isinstance(args[0], str) and args[0].isalpha() else ""
        _dump_profiles(profilers, Path(profiled) / f"{target.__name__}-{country}{os.getpid()}.prof")


def _profile_all_threads() -> list[Any]:
    """cProfile this thread and every thread started from now on (asyncio.to_thread's workers),
    in CPU seconds of the thread (time.thread_time), not wall time."""
    import cProfile
    import threading

    profilers = [cProfile.Profile(time.thread_time)]

    def start_in_thread(*_: Any) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start_in_thread)
    profilers[0].enable()
    return profilers


def _dump_profiles(profilers: list[Any], path: Path) -> None:
    import pstats

    profilers[0].disable()
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    stats.dump_stats(path)


async def steady(rate: float, seconds: float, offer: Callable[[int], Awaitable[None]]) -> int:
    """Call `offer(k)` every TICK with the k messages due by then; return how many were offered."""
    start, offered = time.monotonic(), 0
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate) - offered
        if due > 0:
            await offer(due)
            offered += due
        await asyncio.sleep(TICK)
    return offered


# -- somex ------------------------------------------------------------------------------------------

async def hub_role(ctx: _Context, path: Path, address: BrokerAddress) -> None:
    from nodes.hub.relay import Hub
    from nodes.plumbing.heap import settle_heap, tune_malloc

    tune_malloc()  # as nodes/app/serve.py does
    hub = Hub(HubConfig(path / "federation", f"sqlite:///{path / 'audit.db'}", address))
    await hub.start()
    await hub.wait_connected()
    settle_heap()  # as nodes/app/serve.py does
    ctx.set_ready()
    ctx.cpu_at_ready += sum(process_cpu(pid) for pid in hub.signatures.pids())  # their start-up: not counted
    await ctx.until_stopped()
    await hub.stop()  # the workers end: their CPU is the children's (cpu_seconds)


async def node_role(ctx: _Context, country: str, path: Path, address: BrokerAddress) -> None:
    """A national node; as the sender it also runs the load (the focal point's submissions):
    commands ("burst", n, to, type, body) or ("rate", rate, seconds, to, type, body)."""
    from nodes.national.node import NationalNode

    from nodes.plumbing.heap import settle_heap, tune_malloc

    tune_malloc()  # as nodes/app/serve.py does
    node = NationalNode(NodeConfig(country, path / "federation", f"sqlite:///{path / f'{country}.db'}", address))
    await node.start()
    await asyncio.wait_for(node.session.connected.wait(), 30)
    settle_heap()  # as nodes/app/serve.py does
    ctx.set_ready()
    waiting = asyncio.create_task(ctx.command())
    stopped = asyncio.create_task(ctx.until_stopped())
    await asyncio.wait([waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
    if waiting.done():
        kind, *spec = waiting.result()

        async def offer(k: int, to: str, mtype: str, body: dict) -> None:
            await node.submit([node.build(mtype, [to], body=body) for _ in range(k)])

        if kind == "burst":
            n, to, mtype, body = spec
            for offset in range(0, n, 200):
                await offer(min(200, n - offset), to, mtype, body)
            ctx.results.put(n)
        else:
            rate, seconds, to, mtype, body = spec
            ctx.results.put(await steady(rate, seconds, lambda k: offer(k, to, mtype, body)))
    else:
        waiting.cancel()
    await stopped
    await node.stop()


async def somex_in_processes(broker: Any, path: Path, name: str, mtype: str, command: tuple,
                             timeout: float = 600) -> Measured:
    """MEX → IDN through the hub, each in its own process; `command` is ("burst", n) or ("rate",
    rate, seconds), `body` of the messages the last element. Latency: created → stored at the
    recipient; seconds: from the command to the last message stored."""
    from sqlalchemy import create_engine, func, select

    from nodes.national.store import messages as message_table
    from protocol.timefmt import parse_time
    from tests.integration.federation import make_federation

    fed = make_federation(broker, path, name, countries=["MEX", "IDN"])
    hub = await Role.start(hub_role, path, fed.address)
    recipient = await Role.start(node_role, "IDN", path, fed.address)
    sender = await Role.start(node_role, "MEX", path, fed.address)
    kind, *spec, body = command
    engine = create_engine(f"sqlite:///{path / 'IDN.db'}")
    stored = (select(func.count()).select_from(message_table)
              .where(message_table.c.direction == "in", message_table.c.type == mtype))

    def count() -> int:
        with engine.connect() as conn:
            return conn.execute(stored).scalar_one()

    cpu: dict[str, float] = {}
    try:
        start_wall, broker_start = time.time(), process_cpu(broker.pid())
        sender.send((kind, *spec, "IDN", mtype, body))
        offered = await sender.result(timeout)
        deadline = time.monotonic() + timeout
        while await asyncio.to_thread(count) < offered:
            if time.monotonic() > deadline:
                raise TimeoutError(f"somex path did not deliver {offered} messages in {timeout:g} s")
            await asyncio.sleep(0.05)
        with engine.connect() as conn:
            rows = conn.execute(select(message_table.c.created, message_table.c.stored_at)
                                .where(message_table.c.direction == "in", message_table.c.type == mtype)).all()
        broker_cpu = process_cpu(broker.pid()) - broker_start
    finally:
        for role in (sender, recipient, hub):
            cpu[role.name] = await role.stop()
        engine.dispose()
    created = [parse_time(c) for c, _ in rows]
    stored_at = [parse_time(s) for _, s in rows]
    latencies = [(s - c).total_seconds() * 1000 for c, s in zip(created, stored_at)]
    return Measured(offered, latencies, max(max(stored_at).timestamp() - start_wall, 1e-9), cpu, broker_cpu)


# -- the raw aio-pika relay -----------------------------------------------------------------------

async def raw_producer_role(ctx: _Context, url: str, queue: str, size: int) -> None:
    """Commands ("burst", n) or ("rate", rate, seconds); each message stamped with its send time."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    body = os.urandom(size // 2).hex().encode()[:size]
    ctx.set_ready()
    window = asyncio.Semaphore(512)

    async def publish() -> None:
        async with window:
            await channel.default_exchange.publish(
                aio_pika.Message(body, headers={"t0": repr(time.time())},
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue, mandatory=True)

    async def offer(k: int) -> None:
        await asyncio.gather(*(publish() for _ in range(k)))

    kind, *spec = await ctx.command()
    if kind == "burst":
        await offer(spec[0])
        ctx.results.put(spec[0])
    else:
        ctx.results.put(await steady(spec[0], spec[1], offer))
    await ctx.until_stopped()
    await connection.close()


async def raw_relay_role(ctx: _Context, url: str, source: str, target: str) -> None:
    connection = await aio_pika.connect(url)
    out = await connection.channel(publisher_confirms=True)
    inbound = await connection.channel()
    await inbound.set_qos(prefetch_count=512)

    async def relay(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await out.default_exchange.publish(
            aio_pika.Message(message.body, headers=message.headers, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=target, mandatory=True)
        await message.ack()

    await (await inbound.get_queue(source)).consume(relay)
    ctx.set_ready()
    await ctx.until_stopped()
    await connection.close()


async def raw_sink_role(ctx: _Context, url: str, queue: str) -> None:
    """Consumes and records publish → receive latencies; command ("expect", n, timeout) answers
    with (latencies, wall time of the last arrival) once n have arrived or the timeout passed."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=512)
    latencies: list[float] = []
    last = [0.0]

    async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        last[0] = time.time()
        latencies.append((last[0] - float(message.headers["t0"])) * 1000)
        await message.ack()

    await (await channel.get_queue(queue)).consume(receive)
    ctx.set_ready()
    _, n, timeout = await ctx.command()
    deadline = time.monotonic() + timeout
    while len(latencies) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    ctx.results.put((latencies, last[0]))
    await ctx.until_stopped()
    await connection.close()


async def declare_raw_queues(admin_url: str, names: tuple[str, str]) -> None:
    connection = await aio_pika.connect(admin_url)
    async with connection:
        channel = await connection.channel()
        for name in names:
            queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
            await queue.purge()


@dataclass
class Measured:
    offered: int
    latencies_ms: list[float]
    seconds: float  # from the command to the last message's arrival
    python_cpu: dict[str, float]  # CPU seconds of each process while it was up (idle waits included)
    broker_cpu: float  # CPU seconds of the broker from the command to the end (nan if unknown)


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc; nan if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def raw_in_processes(admin_url: str, size: int, command: tuple, prefix: str, broker_pid: int | None,
                           timeout: float = 600) -> Measured:
    """Run the raw relay with producer, relay and sink in processes of their own."""
    names = (f"{prefix}.a", f"{prefix}.b")
    await declare_raw_queues(admin_url, names)
    sink = await Role.start(raw_sink_role, admin_url, names[1])
    relay = await Role.start(raw_relay_role, admin_url, names[0], names[1])
    producer = await Role.start(raw_producer_role, admin_url, names[0], size)
    cpu: dict[str, float] = {}
    try:
        start_wall, broker_start = time.time(), process_cpu(broker_pid)
        producer.send(command)
        offered = await producer.result(timeout)
        sink.send(("expect", offered, timeout))
        latencies, last = await sink.result(timeout + 10)
        broker_cpu = process_cpu(broker_pid) - broker_start
    finally:
        for role in (producer, relay, sink):
            cpu[role.name] = await role.stop()
    return Measured(offered, latencies, max(last - start_wall, 1e-9), cpu, broker_cpu)


__all__ = ["Measured", "Role", "raw_in_processes", "somex_in_processes", "steady"]
