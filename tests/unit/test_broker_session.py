"""BrokerSession (nodes/plumbing/amqp.py) reconnects by itself however the broker fails and however
long it stays away: no exception ends its loop, and the backoff is capped (issue 22, item 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aio_pika
import aiormq.exceptions
import pamqp.exceptions
import pytest

from nodes.plumbing import amqp
from nodes.plumbing.amqp import BrokerSession


class _Connection:
    def __init__(self) -> None:
        self.close_callbacks = self
        self.closed = asyncio.Event()

    def add(self, callback) -> None:  # noqa: ANN001 - aio-pika's CallbackCollection.add
        self._callback = callback

    async def close(self) -> None:
        self.closed.set()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The delays BrokerSession asks for, without waiting them."""
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, *args: object) -> None:
        delays.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(amqp.asyncio, "sleep", sleep)
    yield delays


def _script(monkeypatch: pytest.MonkeyPatch, outcomes: list[BaseException | None]) -> None:
    attempts = iter(outcomes)

    async def connect(*_: object, **__: object) -> _Connection:
        outcome = next(attempts, None)
        if outcome is not None:
            raise outcome
        return _Connection()

    monkeypatch.setattr(amqp, "open_connection", connect)


async def _connected(session: BrokerSession) -> None:
    task = asyncio.create_task(session.run())
    try:
        await asyncio.wait_for(session.connected.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_any_failure_while_connecting_or_setting_up_is_retried_until_the_link_is_back(
        monkeypatch: pytest.MonkeyPatch, slept: list[float]) -> None:
    _script(monkeypatch, [ConnectionRefusedError(111, "refused"),
                          pamqp.exceptions.UnmarshalingException("Frame", b"\x00"),  # a broker dying mid-handshake
                          RuntimeError("unexpected")])
    setups = []

    async def on_connect(_connection: object) -> None:
        setups.append(1)
        if len(setups) == 1:  # the channel closes under us while the broker restarts
            raise aiormq.exceptions.ChannelInvalidStateError("writer is None")

    session = BrokerSession("amqp://x/", "test", on_connect)
    await _connected(session)
    assert len(setups) == 2


async def test_backoff_doubles_to_a_five_second_cap_however_long_the_outage(
        monkeypatch: pytest.MonkeyPatch, slept: list[float]) -> None:
    _script(monkeypatch, [OSError("down")] * 200)

    async def on_connect(_connection: object) -> None:
        return None

    await _connected(BrokerSession("amqp://x/", "test", on_connect))
    assert slept[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert slept[6:] == [5.0] * 194


async def test_cancelled_while_setting_up_the_connection_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process stopped while `on_connect` runs (its channels and consumers half set up) closes the
    connection: it is not yet `session.connection`, so stop_tasks could not, and its consumers would
    hold their prefetched messages (and hub.in's single-active-consumer slot) for as long as it lives."""
    made: list[_Connection] = []

    async def connect(*_: object, **__: object) -> _Connection:
        made.append(_Connection())
        return made[-1]

    monkeypatch.setattr(amqp, "open_connection", connect)
    setting_up = asyncio.Event()

    async def on_connect(_connection: object) -> None:
        setting_up.set()
        await asyncio.Event().wait()  # e.g. a queue.consume the broker is slow to answer

    session = BrokerSession("amqp://x/", "test", on_connect)
    task = asyncio.create_task(session.run())
    await asyncio.wait_for(setting_up.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert len(made) == 1 and made[0].closed.is_set()
    assert session.connection is None and not session.connected.is_set()


async def test_a_failed_connection_attempt_closes_what_it_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that accepts the TCP connection and never answers (a half-dead node, a firewall): the
    attempt times out, and the connection it made is closed before the error reaches the caller,
    not left to aio-pika's destructor (which cannot await the close: "coroutine 'Connection.close'
    was never awaited" from whichever thread collects it, the socket open until then)."""
    made: list[aio_pika.Connection] = []
    real_init = aio_pika.Connection.__init__

    def recording_init(self: aio_pika.Connection, *args: object, **kwargs: object) -> None:
        made.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(aio_pika.Connection, "__init__", recording_init)
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client closes its end
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises((asyncio.TimeoutError, ConnectionError)):
            await amqp.open_connection(f"amqp://guest:guest@127.0.0.1:{port}/", timeout=0.3)
        assert len(made) == 1 and made[0].is_closed
        await asyncio.wait_for(closed.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()
