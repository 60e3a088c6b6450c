"""aio-pika plumbing shared by the hub and the nodes: robust connections and confirmed publishes.

Nothing here declares a queue or an exchange: the broker's definitions (broker_config/) own the
topology and the nodes' users have no configure permission.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from pamqp import encode
from pamqp.commands import Basic
from aiormq import spec

from nodes.plumbing.config import BrokerAddress
from nodes.plumbing.alarms import AlarmBoard
from nodes.plumbing.confirms import write_publishes as _write_publishes
from nodes.plumbing.deliveries import Delivered
from nodes.plumbing.faults import TransientFailure, is_storage_failure, is_transient
from nodes.plumbing.federation import TLS_CERT_FILE, TLS_KEY_FILE, NodeCredentials


class PublishRefused(TransientFailure):
    """The broker did not take a message (nack, return, or closed channel): retry later."""


class PublishNacked(PublishRefused):
    """The broker answered with a nack: the target queue is full (overflow reject-publish)."""


def amqp_url(host: str, port: int, vhost: str, user: str, password: str) -> str:
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(vhost, safe='')}"


def amqps_url(host: str, port: int, vhost: str) -> str:
    """AMQPS, logging in as the client certificate's CN (SASL EXTERNAL): no user name, no password."""
    return f"amqps://{host}:{port}/{quote(vhost, safe='')}?auth=EXTERNAL"


@dataclass(frozen=True)
class BrokerLogin:
    """How one process logs in: a password on a development broker, or a TLS client certificate.

    `tls_context` (from `client_tls_context`) presents the client certificate and checks the
    broker's chain to the federation root and its name."""

    user: str
    password: str | None = field(default=None, repr=False)
    tls_context: ssl.SSLContext | None = None


def client_tls_context(ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A TLS client context: trusts only `ca_file` (the federation root), checks the server's name,
    presents `cert_file`/`key_file`."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def broker_login(address: BrokerAddress, creds: NodeCredentials, root_cert_file: Path) -> BrokerLogin:
    """The login `creds` use at `address`: their TLS certificate (tls.crt/tls.key in their home)
    on an AMQPS broker, their broker password on a development broker."""
    if not address.tls:
        if creds.broker_password is None:
            raise FileNotFoundError(f"{creds.node_id} has no broker password (broker.password): this deployment's "
                                    "broker is AMQPS with certificates; set tls in its broker address")
        return BrokerLogin(creds.broker_user, creds.broker_password)
    home = creds.home or Path(".")
    missing = [p for p in (home / TLS_CERT_FILE, home / TLS_KEY_FILE, root_cert_file) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot log in to the AMQPS broker as {creds.node_id}: {', '.join(map(str, missing))} "
                                "missing (the node's TLS key and the certificate the root issued for it)")
    return BrokerLogin(creds.broker_user, None,
                       client_tls_context(root_cert_file, home / TLS_CERT_FILE, home / TLS_KEY_FILE))


def broker_urls(address: BrokerAddress, login: BrokerLogin) -> list[str]:
    """One URL per broker node of `address` (a cluster has several): BrokerSession rotates through them."""
    query = f"heartbeat={address.heartbeat}" if address.heartbeat else ""
    if login.tls_context is not None:
        return [amqps_url(address.host, port, address.vhost) + (f"&{query}" if query else "") for port in address.ports]
    return [amqp_url(address.host, port, address.vhost, login.user, login.password or "") + (f"?{query}" if query else "")
            for port in address.ports]


async def open_connection(url: str, *, timeout: float, ssl_context: ssl.SSLContext | None = None,
                          client_properties: Mapping[str, Any] | None = None) -> AbstractConnection:
    """`aio_pika.connect`, except that an attempt that fails or is cancelled closes what it opened.
    aio-pika leaves such a connection to its destructor, which cannot await the close: whichever
    thread collects it then warns "coroutine 'Connection.close' was never awaited", and a transport
    opened before the failure stays open until then."""
    from aio_pika.connection import make_url

    connection = aio_pika.Connection(make_url(url), ssl_context=ssl_context,
                                     **({"client_properties": dict(client_properties)} if client_properties else {}))
    try:
        await connection.connect(timeout=timeout)
    except BaseException:
        try:
            await asyncio.wait_for(connection.close(), 1)
        except Exception:  # noqa: BLE001 - the attempt's own failure is what the caller must see
            pass
        raise
    return connection


class BrokerSession:
    """One AMQP connection kept open: reconnects with backoff and runs `on_connect` each time.

    aio-pika's robust connection restores consumers by re-declaring their queues, which a node
    may not do (no configure permission) and which would fail against quorum queues anyway; so
    reconnection is explicit here, and `on_connect` sets up channels and consumers afresh.
    It never gives up: after any outage, however long, the first attempt that succeeds restores
    the link (backoff doubles from 0.2 s to at most 5 s); `connected` is what /api/health shows.
    """

    RETRY_FIRST, RETRY_MAX = 0.2, 5.0
    ACTION = ("check the broker ('somex broker status'); if it is down, start it again with 'somex broker up' "
              "(the same broker, its queued messages kept); this process reconnects by itself")

    def __init__(self, urls: str | Sequence[str], name: str,
                 on_connect: Callable[[AbstractConnection], Awaitable[None]],
                 on_disconnect: Callable[[], None] | None = None, *,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self._urls = [urls] if isinstance(urls, str) else list(urls)
        self._tls_context = tls_context
        self._next = 0  # which broker node to try: the next one after any failure (a cluster)
        self._name = name
        self._on_connect, self._on_disconnect = on_connect, on_disconnect
        self.connection: AbstractConnection | None = None
        self.connected = asyncio.Event()
        self._log = structlog.get_logger("somex.amqp").bind(connection=name)

    async def run(self) -> None:
        delay = self.RETRY_FIRST
        down_since = asyncio.get_running_loop().time()
        while True:
            url = self._urls[self._next % len(self._urls)]
            try:
                connection = await open_connection(url, client_properties={"connection_name": self._name},
                                                   timeout=10, ssl_context=self._tls_context)
            except Exception as exc:  # noqa: BLE001 - nothing but cancellation may end the loop (see _failure)
                self._next += 1
                self._log.warning("broker unreachable; retrying", error=self._failure(exc), retry_in=delay,
                                  down_for=round(asyncio.get_running_loop().time() - down_since, 1),
                                  broker_nodes=len(self._urls), action=self.ACTION)
                await asyncio.sleep(delay if self._next % len(self._urls) == 0 else 0.05)
                delay = min(delay * 2, self.RETRY_MAX)
                continue
            lost = asyncio.Event()
            connection.close_callbacks.add(lambda *_, event=lost: event.set())
            try:
                await self._on_connect(connection)
            except asyncio.CancelledError:  # stopped while setting up: nobody else knows this connection
                await self._close(connection, STOP_TIMEOUT)
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. ChannelInvalidStateError (a RuntimeError) mid-restart
                self._log.warning("setting up the connection failed; retrying", error=self._failure(exc), retry_in=delay,
                                  action=self.ACTION)
                self._next += 1
                await self._close(connection)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RETRY_MAX)
                continue
            self.connection, delay = connection, self.RETRY_FIRST
            self.connected.set()
            self._log.info("connected to the broker",
                           after_outage=round(asyncio.get_running_loop().time() - down_since, 1))
            try:
                await lost.wait()
            finally:
                self.connected.clear()
                self.connection = None
                if self._on_disconnect is not None:
                    self._on_disconnect()
                await self._close(connection)
            self._next += 1  # that broker node may be gone: try the next one first
            down_since = asyncio.get_running_loop().time()
            self._log.warning("connection to the broker lost; reconnecting", action=self.ACTION)

    @staticmethod
    def _failure(exc: BaseException) -> str:
        """A failed attempt in one line. A broker going down or coming up can fail an attempt with
        more than AMQPError/OSError (aiormq's ChannelInvalidStateError is a RuntimeError, pamqp's
        frame errors are its own): any of them ending `run` would leave the process disconnected
        for good, so every one is retried, named by its type."""
        return f"{type(exc).__name__}: {exc}"

    @staticmethod
    async def _close(connection: AbstractConnection, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(connection.close(), timeout)
        except Exception:  # noqa: BLE001 - closing an already broken connection, or the broker not answering
            pass


@dataclass(frozen=True)
class Outgoing:
    """One message for Publisher.publish_many."""
    body: bytes
    routing_key: str
    message_id: str
    headers: Mapping[str, Any] | None = None
    message_type: str | None = None
    # More recipients of the same message: RabbitMQ's sender-selected distribution (the BCC header,
    # stripped by the broker) routes one publish to `routing_key` and to each of these through the
    # same direct exchange, so the broker, not the publisher, makes the copies (docs/broker.md).
    bcc: tuple[str, ...] = ()


PUBLISH_TIMEOUT = 30.0  # seconds one confirm batch may wait for the broker's confirms
# A confirm batch holds at most this many copies (a message counts once per queue it goes to: the
# broker confirms a fanned-out message when every inbox has written it) and bytes, so that none can
# outlast PUBLISH_TIMEOUT at any federation size. At 190 members one hub batch once made ~21,000
# forwards that took over 30 s to confirm and were all sent again; later 217 broadcasts fanned out to
# 189 inboxes each (41,000 quorum-queue writes) did the same on a loaded broker (issue 23). 4,000
# copies / 16 MiB take 5.6 s at the slowest confirm rate seen (1.4 ms a copy): within the timeout 5
# times over. (At 500 copies a broadcast to 189 inboxes went two to a confirm batch, and the round
# trips were most of what the hub's CPU per broadcast grew by from N = 3 to 190: docs/performance.md.)
CONFIRM_BATCH_MESSAGES = 4000
CONFIRM_BATCH_BYTES = 16 * 1024 * 1024
PUBLISH_ATTEMPTS = 2  # a confirm batch that times out is sent again once: only its unconfirmed messages


def confirm_batches(sizes: Sequence[int], max_messages: int | None = None, max_bytes: int | None = None,
                    copies: Sequence[int] | None = None) -> list[range]:
    """Split messages of `sizes` bytes, each going to `copies` queues (1 each by default), in order,
    into runs of at most `max_messages` copies and `max_bytes` bytes of copies (a single larger
    message is a run of its own); CONFIRM_BATCH_* by default."""
    max_messages = max_messages or CONFIRM_BATCH_MESSAGES
    max_bytes = max_bytes or CONFIRM_BATCH_BYTES
    runs: list[range] = []
    start, count, total = 0, 0, 0
    for i, size in enumerate(sizes):
        n = copies[i] if copies is not None else 1
        if i > start and (count + n > max_messages or total + size * n > max_bytes):
            runs.append(range(start, i))
            start, count, total = i, 0, 0
        count += n
        total += size * n
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


class Publisher:
    """Publishes to one exchange with publisher confirms and mandatory routing.

    A batch is written as one frame buffer and its confirms awaited with one wait
    (nodes/plumbing/confirms.py): aiormq's per-message `basic_publish` cost ~110 µs of CPU per
    message here against ~30 µs so, and it was the largest single item in the hub and a sending
    node (docs/performance.md).
    """

    def __init__(self, channel: AbstractChannel, exchange: AbstractExchange, user_id: str) -> None:
        self._channel = channel
        self._exchange = exchange
        self._user_id = user_id

    @classmethod
    async def open(cls, connection: AbstractConnection, exchange: str, user_id: str) -> Publisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        return cls(channel, await channel.get_exchange(exchange, ensure=False), user_id)

    async def publish(
        self, body: bytes, routing_key: str, *, message_id: str, headers: Mapping[str, Any] | None = None,
        message_type: str | None = None,
    ) -> None:
        """Publish one message; PublishNacked or PublishRefused if the broker did not take it."""
        (failure,) = await self.publish_many([Outgoing(body, routing_key, message_id, headers, message_type)])
        if failure is not None:
            raise failure

    async def publish_many(self, messages: Sequence[Outgoing]) -> list[PublishRefused | None]:
        """Publish every message and await every confirm; per message None (confirmed by the
        broker) or the PublishNacked / PublishRefused that says why not.

        Confirm batches (`confirm_batches`) are written and awaited one after the other, each
        within PUBLISH_TIMEOUT; a batch that times out is written again once, with only the
        messages the broker did not answer (a message confirmed once is never sent twice by this).
        """
        results: list[PublishRefused | None] = [None] * len(messages)
        for run in confirm_batches([len(m.body) for m in messages], copies=[1 + len(m.bcc) for m in messages]):
            await self._publish_confirm_batch(messages, list(run), results)
        return results

    async def _publish_confirm_batch(self, messages: Sequence[Outgoing], pending: list[int],
                                     results: list[PublishRefused | None]) -> None:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                channel = await self._channel.get_underlay_channel()
                confirmations = await _write_publishes(channel, self._exchange.name,
                                                       [(messages[i], self._properties(messages[i])) for i in pending])
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                for i in pending:
                    results[i] = PublishRefused(f"{messages[i].routing_key}: broker unavailable ({exc!r})")
                return
            await confirmations.wait(PUBLISH_TIMEOUT)
            confirmations.abandon()  # a late confirm for an unanswered delivery tag is ignored by aiormq
            unanswered = []
            for i, answer in zip(pending, confirmations.answers):
                if answer is None:
                    unanswered.append(i)
                else:
                    results[i] = _outcome(messages[i].routing_key, answer)
            if not unanswered:
                return
            structlog.get_logger("somex.amqp").warning(
                "publisher confirms timed out; sending again only what the broker did not answer",
                unconfirmed=len(unanswered), of=len(pending), attempt=attempt, timeout=PUBLISH_TIMEOUT)
            pending = unanswered
        for i in pending:
            results[i] = PublishRefused(f"{messages[i].routing_key}: broker did not confirm within "
                                        f"{PUBLISH_TIMEOUT:g}s ({PUBLISH_ATTEMPTS} attempts)")

    def _properties(self, m: Outgoing) -> spec.Basic.Properties:
        kind = _FannedOutProperties if m.bcc else spec.Basic.Properties
        properties = kind(
            message_id=m.message_id, user_id=self._user_id, message_type=m.message_type,
            headers=dict(m.headers) if m.headers else {}, content_type="application/json",
            delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT))
        if m.bcc:
            properties.bcc = m.bcc
        return properties

    @property
    def is_closed(self) -> bool:
        return self._channel.is_closed

    async def renew(self) -> None:
        """Close this channel so that the owner opens a new one.

        A quorum queue with overflow reject-publish tells each publishing channel when it is full
        and when it has room again; a channel that registered during a leader election can be
        left refusing forever (RabbitMQ 3.10). A new channel registers afresh with the leader.
        """
        try:
            await self._channel.close()
        except Exception:  # noqa: BLE001 - already closed or broken: the owner reopens it anyway
            pass

    async def close(self) -> None:
        await self._channel.close()


@functools.lru_cache(maxsize=256)
def _bcc_table_entry(bcc: tuple[str, ...]) -> bytes:
    """The `BCC` entry of a headers table, encoded once per recipient set: pamqp takes 1.3 µs a name
    (265 µs for a broadcast to 189 members), and every broadcast from one sender names the same set."""
    return encode.field_table({"BCC": list(bcc)})[4:]  # without the table's length prefix


class _FannedOutProperties(spec.Basic.Properties):
    """Basic properties whose headers table starts with a `BCC` entry taken from `_bcc_table_entry`:
    the same bytes as pamqp's encoding of `headers | {"BCC": list(bcc)}`
    (tests/unit/test_confirm_batches.py::test_the_cached_bcc_encoding_is_pamqps_own)."""

    bcc: tuple[str, ...] = ()

    def encode_property(self, name: str, value: Any) -> bytes:
        if name != "headers" or not self.bcc:
            return super().encode_property(name, value)
        if not all(key > "BCC" for key in value):  # pamqp writes keys in order: BCC comes first or not at all
            return super().encode_property(name, {**value, "BCC": list(self.bcc)})
        table = _bcc_table_entry(self.bcc) + encode.field_table(value)[4:]
        return struct.pack(">I", len(table)) + table


def _outcome(routing_key: str, result: object) -> PublishRefused | None:
    if isinstance(result, Basic.Ack):
        return None
    if isinstance(result, aiormq.exceptions.DeliveryError) and isinstance(result.frame, Basic.Nack):
        return PublishNacked(f"{routing_key}: the broker refused the message (queue full)")
    if isinstance(result, aiormq.exceptions.DeliveryError):  # returned: no queue bound for the key
        return PublishRefused(f"{routing_key}: {result}")
    if isinstance(result, (aiormq.exceptions.AMQPError, ConnectionError, TimeoutError, RuntimeError,
                           asyncio.CancelledError)):  # the channel closed under the publish
        return PublishRefused(f"{routing_key}: broker unavailable ({result!r})")
    if isinstance(result, BaseException):
        raise result
    return PublishRefused(f"{routing_key}: broker did not confirm ({result!r})")


Handle = Callable[[list[Delivered], bool], Awaitable[None]]
Refuse = Callable[[Delivered, BaseException], Awaitable[None]]
STORAGE_ALARM = "storage"
RETRY_FIRST_DELAY = 0.5  # seconds before the first retry of a batch held for a storage/broker failure
RETRY_MAX_DELAY = 30.0  # ...doubling up to this, for as long as the failure lasts
# A batch stops growing once its bodies reach this many bytes: a batch is decoded and held whole
# until it settles, so a large message (a file's 4 MiB chunk, an inline attachment of up to 16 MiB)
# is taken alone, whatever the prefetch delivered; small ones still go 256 at a time.
MAX_BATCH_BYTES = 4 * 1024 * 1024


async def consume_in_batches(
    inbox: asyncio.Queue[Delivered],
    handle: Handle,
    max_batch: int,
    log: Any,
    *,
    refuse: Refuse,
    alarms: AlarmBoard,
) -> None:
    """Take what has arrived (up to `max_batch` messages, and until their bodies reach
    MAX_BATCH_BYTES) and hand it over as one batch, forever.

    `handle(batch, retry)` acks after its effects are durable; `retry` says some of the batch may
    have been handled before (a partial attempt). One message never takes the others down: a batch
    that fails is split until the failing message is alone, and `refuse(message, error)` settles
    that message (audited or recorded, answered, acked). A failure of the process's own storage or
    broker link is nobody's fault: the batch is held unacked (so the broker's delivery count does
    not grow), an alarm is raised and the batch retried with backoff until it goes through.
    """
    while True:
        batch = [await inbox.get()]
        size = len(batch[0].body)
        while len(batch) < max_batch and size < MAX_BATCH_BYTES and not inbox.empty():
            batch.append(inbox.get_nowait())
            size += len(batch[-1].body)
        await settle_batch(batch, handle, refuse, log, alarms)


async def settle_batch(batch: list[Delivered], handle: Handle, refuse: Refuse, log: Any,
                       alarms: AlarmBoard) -> None:
    pending = {id(m): m for m in batch}  # in delivery order; each settled message leaves
    delay, retry = RETRY_FIRST_DELAY, False
    while pending:
        try:
            await _isolate(list(pending.values()), pending, handle, refuse, log, retry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - only transient failures reach here (_isolate)
            retry = True
            alarms.retries += 1
            held = {k: m for k, m in pending.items() if not _channel_closed(m)}
            if not held:  # the broker requeues what the closed channel held: nothing to hold here
                log.warning("broker channel closed under a batch; the broker delivers it again",
                            size=len(pending), error=str(exc))
                return
            pending = held
            if alarms.raise_alarm(STORAGE_ALARM, "storage_unavailable" if is_storage_failure(exc)
                                  else "broker_unavailable", f"{str(exc)[:500]}; {_ACTION}", action=_ACTION):
                log.error("own storage or broker link failing; holding messages and retrying",
                          error=str(exc)[:500], held=len(pending), action=_ACTION)
            else:
                log.warning("still failing; holding messages and retrying", error=str(exc)[:200],
                            held=len(pending), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)
    if alarms.clear(STORAGE_ALARM):
        log.warning("storage and broker link work again: alarm cleared, consuming resumes")


_ACTION = ("free disk space, or bring the database back (see the error); nothing is lost or refused "
           "meanwhile: the messages wait in the broker and are processed once it works")


async def _isolate(part: list[Delivered], pending: dict[int, Delivered],
                   handle: Handle, refuse: Refuse, log: Any, retry: bool) -> None:
    """Handle `part`; on a failure tied to its messages, halve it until the one at fault is alone."""
    try:
        await handle(part, retry)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(part) > 1:
            middle = len(part) // 2
            await _isolate(part[:middle], pending, handle, refuse, log, True)
            await _isolate(part[middle:], pending, handle, refuse, log, True)
            return
        await _refuse_one(part[0], exc, refuse, log)
    for message in part:
        pending.pop(id(message), None)


async def _refuse_one(message: Delivered, error: Exception, refuse: Refuse, log: Any) -> None:
    bound = log.bind(message_id=message.message_id)
    bound.error("processing one message failed; refusing it alone", error=repr(error)[:500],
                exc_info=error)
    try:
        await refuse(message, error)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        # Refusing failed too (a bug): let the broker dead-letter it, where it is kept and audited.
        bound.exception("could not refuse the message; dead-lettering it",
                        action="report this bug; `somex hub requeue-dead` puts it back once fixed")
        await message.reject(requeue=False)


def _channel_closed(message: Delivered) -> bool:
    try:
        return bool(message.channel.is_closed)
    except Exception:  # noqa: BLE001 - no channel to speak of
        return True


STOP_TIMEOUT = 10.0  # seconds a stopping process waits for its tasks, then for the broker's goodbye


async def stop_tasks(tasks: list[asyncio.Task], session: BrokerSession | None) -> None:
    """Cancel a process's tasks, then close its broker connection (if it still has one).

    Each step is bounded: a stopping process must stop, even if a task or the AMQP close
    handshake never finishes (nothing is lost by it: unacked messages go back to their queues).
    """
    for task in tasks:
        task.cancel()
    _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT) if tasks else (set(), set())
    if pending:
        structlog.get_logger("somex.amqp").warning(
            "tasks still running after cancellation; stopping without them",
            tasks=sorted(t.get_name() for t in pending), waited=STOP_TIMEOUT)
    tasks.clear()
    connection = session.connection if session else None
    if connection is not None:
        try:
            await asyncio.wait_for(connection.close(), STOP_TIMEOUT)
        except TimeoutError:
            structlog.get_logger("somex.amqp").warning("the broker did not answer the connection close; "
                                                       "dropping the connection", waited=STOP_TIMEOUT)
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass


async def ack_batch(batch: list[Delivered]) -> None:
    """Acknowledge a batch with one `multiple` ack per channel (its last delivery tag).

    Correct only on a channel whose every earlier delivery is settled — true for a queue consumed
    through consume_in_batches alone on its channel, which settles batches in delivery order.
    """
    last: dict[int, Delivered] = {}
    for message in batch:
        last[id(message.channel)] = message
    for message in last.values():
        await message.ack(multiple=True)
