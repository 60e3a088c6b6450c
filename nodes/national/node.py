"""A national focal-point node: transactional outbox, relay, verifying inbox, HTTP API.

Outgoing: an envelope is signed and committed to the outbox (with its copy in `messages`) before
anything touches the network; the relay publishes it with confirms and marks it published, so a
broker outage delays and never loses. Incoming: decode → verify against the directory → check the
hub's log receipt → deduplicate by id → store and apply in one transaction (a receipt for the
sender goes into the outbox in the same transaction) → ack.
"""

from __future__ import annotations

import asyncio
from functools import partial
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aio_pika.abc import AbstractConnection
from sqlalchemy import Connection, insert

import broker_config
from crypto.errors import CryptoError
from crypto.sealing import MLKEM768_X25519, open_sealed, recipient_key, seal, seal_bytes, sealed_suite
from crypto.signing import VerifiedEnvelope, sign_envelope
from nodes.national import delivery, inbox, reads, resend, retention
from nodes.national import receipts as receipt_rules
from nodes.national.feature import BatchEffect, Effect, Feature, FeatureContext, discover, resolve_settings
from nodes.national.store import (
    take_deletion_mark,
    NodeStore, begin_refusals, end_refusals, message_row, queue_outgoing, record_refusal, refusal_reasons, refusals,
)
from nodes.national.store import messages as message_table
from nodes.national.watchdogs import Watchdogs
from nodes.national import log_watch
from nodes.national.witness import witness_checkpoint
from nodes.national.schema import open_node_store
from nodes.national.metrics import node_gauges
from nodes.plumbing.alarms import AlarmBoard
from nodes.plumbing.amqp import (
    BrokerSession, Outgoing, Publisher, PublishNacked, ack_batch, broker_login, broker_urls, consume_in_batches, stop_tasks,
)
from nodes.plumbing.config import NodeConfig, new_message_id, utcnow
from nodes.plumbing.db import erase_freed
from nodes.plumbing.deliveries import Delivered, consume
from nodes.plumbing.events import Events
from nodes.plumbing.metrics import Telemetry
from nodes.plumbing.faults import is_transient
from nodes.plumbing.federation import Federation, load_federation
from nodes.national.federation_fetch import fetch_newest_documents
from nodes.plumbing.federation_state import accept_publication, admit_federation
from protocol import envelope as wire
from protocol import messages, policy
from protocol.envelope import Envelope
from protocol.errors import DecodeError, ProtocolError
from protocol.receipts import LogReceipt
from protocol.schema import validate
from protocol.timefmt import format_time, parse_time

log = structlog.get_logger("somex.node")


RELAY_ROUNDS = 4  # outbox publish rounds awaiting confirms at once
RELAY_BATCH = 500  # outbox rows per round


@dataclass
class _RelayState:
    in_flight: set[int] = field(default_factory=set)  # outbox seqs in a round
    settled: set[int] = field(default_factory=set)  # marked published since the last outbox read
    retry: set[int] = field(default_factory=set)  # in a round that failed: to be sent again
    rounds: set[asyncio.Task] = field(default_factory=set)
    failed: bool = False
    delay: float = 0.2
    # A channel told "full" is renewed (Publisher.renew), but only once no other round awaits its
    # confirms there: a confirm lost with the channel would send a delivered message again.
    renew: Publisher | None = None


class _NodeSender:
    """The node's sending side as a feature sees it (FeatureContext.sender): build, seal, sign, and
    open a stored message through the journaled read path."""

    def __init__(self, node: NationalNode) -> None:
        self.build, self.build_sealed, self.sign = node.build, node.build_sealed, node.sign
        self._node = node

    def open(self, message_id: str, who: str, purpose: str = "read") -> reads.OpenedMessage:
        return reads.open_message(self._node, message_id, who, purpose)


class _NodeOutbox:
    def __init__(self, node: NationalNode) -> None:
        self.enqueue, self.submit, self.wake_soon = node.enqueue, node.submit, node.wake_soon


class NationalNode:
    """The core: lifecycle, outbox, inbox (check, then dispatch), sender, receipts, witnessing.
    Message classes plug in as features (nodes/national/feature.py), each with its own context;
    `node.<feature name>` is that feature's service (e.g. `node.mla`, the central authority)."""

    def __init__(self, config: NodeConfig, federation: Federation | None = None,
                 features: Sequence[Feature] | None = None) -> None:
        self.config = config
        self.country = config.country
        self.features = list(discover() if features is None else features)
        settings = resolve_settings(self.features, config)  # a bad node config file stops here, before anything opens
        self.federation = federation or load_federation(config.federation_dir, utcnow())
        self.creds = self.federation.credentials(self.country)
        self.store = NodeStore(open_node_store(config.db_url, self.country))  # schema checked (issue 18)
        admit_federation(self.store.engine, self.federation, utcnow(), self.country)
        # Effects by message type. A feature's get its context as first argument; the core's, the node.
        self.effects: dict[str, Effect] = {"receipt": _accept_receipt, "hub.checkpoint": witness_checkpoint,
                                           "hub.directory": _apply_publication, "hub.revocations": _apply_publication}
        self.batch_effects: dict[str, BatchEffect] = {}
        self.stored_without_copy: set[str] = set()  # Feature.stored_without_copy of every feature
        self._sent_bytes: list[Callable[[str], bytes | None]] = []  # Feature.sent_bytes of every feature
        self._effect_context: dict[str, FeatureContext] = {}
        reads.create_tables(self.store.engine)
        self._wake = asyncio.Event()
        self._inbox: asyncio.Queue[Delivered] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.session: BrokerSession | None = None
        self._publisher: Publisher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.received = asyncio.Condition()
        self.events = Events()  # what arrived or was queued, for live views (the console)
        self.log = log.bind(node=self.country)
        # In memory: an alarm about the node's storage cannot be stored in it. Raised by the inbox
        # (storage, broker link) and the watchdogs: health, console, ERROR log.
        self.alarms = AlarmBoard(self.log)
        self.federation_fetch: dict[str, str] = {}  # kind -> what start-up made of the hub's newest (federation_fetch.py)
        self.watchdogs = Watchdogs(self)
        self.watchdogs.install()
        delivery.install(self, self.watchdogs.outgoing_rejected)
        self.resender = resend.Resender(self)  # a restored peer's resend.request (nodes/national/resend.py)
        self.effects[resend.REQUEST] = self.resender.on_request
        self.contexts: dict[str, FeatureContext] = {}
        self.receipt_followers: list[receipt_rules.Follower] = []
        self.read_hooks: dict[str, list[tuple[FeatureContext, Any]]] = {}
        for feature in self.features:
            self._install(feature, settings[feature.name])
        self.telemetry = Telemetry(lambda: node_gauges(self))

    def _install(self, feature: Feature, settings: Mapping[str, Any]) -> None:
        """Create a feature's tables, build its service, register its effects and hooks."""
        ctx = FeatureContext(feature=feature.name, country=self.country, config=self.config, db=self.store.engine,
                             store=self.store, sender=_NodeSender(self), outbox=_NodeOutbox(self), events=self.events,
                             alarms=self.alarms, log=structlog.get_logger(f"somex.{feature.name}").bind(node=self.country),
                             home=self.creds.home, federation=lambda: self.federation, settings=settings,
                             services=lambda name: getattr(self.contexts.get(name), "service", None))
        for tables in feature.tables:
            tables.create_all(self.store.engine)
        if feature.service is not None:
            ctx.service = feature.service(ctx)
        for type, effect in [*feature.effects.items(), *feature.batch_effects.items()]:
            if type in self.effects or type in self.batch_effects:
                raise ValueError(f"feature {feature.name}: another effect is registered for {type}")
            self._effect_context[type] = ctx
        self.effects.update(feature.effects)
        self.batch_effects.update(feature.batch_effects)
        self.stored_without_copy |= feature.stored_without_copy
        if feature.sent_bytes is not None:
            self._sent_bytes.append(partial(feature.sent_bytes, ctx))
        self.receipt_followers.extend(partial(follow, ctx) for follow in feature.receipt_effects)
        for type, hook in feature.read_hooks.items():
            self.read_hooks.setdefault(type, []).append((ctx, hook))
        self.contexts[feature.name] = ctx

    def __getattr__(self, name: str) -> Any:
        """`node.<feature>`: that feature's service (tests and operators' tools reach it so)."""
        contexts = self.__dict__.get("contexts", {})
        if name in contexts and contexts[name].service is not None:
            return contexts[name].service
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def feature_context(self, type: str) -> Any:
        """What an effect for `type` gets as first argument: its feature's context, or the node."""
        return self._effect_context.get(type, self)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Before consuming: the broadcasts of publications missed while down may have expired.
        self.federation_fetch = await fetch_newest_documents(self)
        b = self.config.broker
        login = broker_login(b, self.creds, self.federation.root_cert_file)
        self.session = BrokerSession(broker_urls(b, login), f"somex-node-{self.country}", self._on_connect,
                                     self._on_disconnect, tls_context=login.tls_context)
        self._tasks.append(asyncio.create_task(self.session.run(), name=f"{self.country}-broker"))
        self._tasks.append(asyncio.create_task(self._relay(), name=f"{self.country}-relay"))
        self._tasks.append(asyncio.create_task(
            consume_in_batches(self._inbox, self._receive, 256, self.log, refuse=self._refuse_alone,
                               alarms=self.alarms), name=f"{self.country}-inbox"))
        self._tasks.append(asyncio.create_task(retention.sweep_periodically(self), name=f"{self.country}-retention"))
        for feature in self.features:
            ctx = self.contexts[feature.name]
            for i, task in enumerate(feature.tasks):
                self._tasks.append(asyncio.create_task(task(ctx), name=f"{self.country}-{feature.name}-{i}"))
        self._tasks.append(asyncio.create_task(delivery.watch(self), name=f"{self.country}-delivery"))
        self._tasks.append(asyncio.create_task(self.resender.run(), name=f"{self.country}-resend"))
        self._tasks.append(asyncio.create_task(self.watchdogs.run(), name=f"{self.country}-watchdogs"))
        if self.config.witness_peers or self.config.hub_api_url:
            self._tasks.append(asyncio.create_task(log_watch.run(self), name=f"{self.country}-log-watch"))

    async def stop(self) -> None:
        await stop_tasks(self._tasks, self.session)
        for feature in self.features:
            if feature.on_stop is not None:
                feature.on_stop(self.contexts[feature.name])
        self.store.engine.dispose()

    @property
    def inbox_backlog(self) -> int:
        return self._inbox.qsize()

    @property
    def broker_connected(self) -> bool:
        return self.session is not None and self.session.connected.is_set()

    async def _on_connect(self, connection: AbstractConnection) -> None:
        self._publisher = await Publisher.open(connection, broker_config.HUB_IN_EXCHANGE, self.creds.broker_user)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.config.prefetch)
        queue = broker_config.inbox_queue(self.country)
        await consume(channel, queue, self._inbox, f"somex-node-{self.country}")
        self._wake.set()
        self.log.info("node listening", queue=queue)

    def _on_disconnect(self) -> None:
        self._publisher = None

    # -- sending --------------------------------------------------------------------------------

    def sign(self, env: Envelope) -> Envelope:
        return sign_envelope(env, self.creds.signing_key)

    def build(self, type: str, recipients: Sequence[str], **fields: Any) -> Envelope:
        ttl = fields.pop("ttl", self.config.message_ttl)
        message_id = fields.pop("message_id", None) or new_message_id()
        env = wire.build(message_id=message_id, type=type, sender=self.country,
                         recipients=recipients, created=utcnow(), ttl=ttl, **fields)
        # Refuse here what the hub would refuse: the focal point learns at once, and clearly.
        directory = self.federation.directory
        policy.resolve_recipients(env, allowed_types=directory.node(self.country).allowed_types,
                                  countries=directory.node_ids())
        if env.body is not None:  # the value just encoded canonically: no need to decode it again
            policy.check_body(env, fields["body"] if "body" in fields else wire.decode_body(env))
        return self.sign(env)

    def build_sealed(self, type: str, recipients: Sequence[str], payload: Mapping[str, Any],
                     **fields: Any) -> Envelope:
        """A signed envelope whose payload is sealed to each recipient and to this node itself.

        The payload is checked against the type's schema first, as the recipient will check it. A
        type with a raw plaintext (a file chunk) is sealed from `payload["data"]`, its bytes.
        """
        message_id = fields.pop("message_id", None) or new_message_id()
        spec = messages.lookup(type)
        if spec.raw_plaintext:
            validate(spec.body, payload, "bad_body")
            plaintext = payload["data"]
        else:
            text = wire.encode_payload(payload)
            validate(spec.body, wire.parse_json(text, what="body"), "bad_body")
            plaintext = text.encode("utf-8")
        directory = self.federation.directory
        suite = self.config.sealing_suite
        keys = {node_id: recipient_key(directory.node(node_id), suite) for node_id in {*recipients, self.country}}
        sealed = (seal_bytes if spec.framed else seal)(plaintext, keys, wire.seal_context(type, message_id, self.country),
                                                       suite=suite)
        env = self.build(type, recipients, sealed=sealed, message_id=message_id, **fields)
        policy.check_body(env, payload)
        return env

    def _open_body(self, env: Envelope) -> dict[str, Any]:
        """The payload of a verified envelope: the clear body, or the sealed one opened with this
        node's sealing key. SealError or DecodeError (with a reason code) if it cannot be read.
        Private to the inbox: focal points get bodies from nodes/national/reads.py, which logs them."""
        if env.sealed is None:
            return wire.decode_body(env)
        hybrid = self.creds.hybrid_sealing_key
        key = (hybrid.private_key if hybrid is not None and sealed_suite(env.sealed) == MLKEM768_X25519
               else self.creds.sealing_key.private_key)
        plaintext = open_sealed(env.sealed, self.country, key, wire.seal_context(env.type, env.id, env.sender))
        return wire.decode_body(env, plaintext)

    async def send(self, type: str, recipients: Sequence[str], **fields: Any) -> Envelope:
        """Build, sign and durably queue a message; the relay publishes it."""
        env = self.build(type, recipients, **fields)
        await self.submit([env])
        return env

    async def submit(self, envs: Sequence[Envelope]) -> None:
        """Durably queue signed envelopes (built with `build`) in one transaction."""
        await asyncio.to_thread(self.enqueue, envs)
        for env in envs:
            self.events.publish({"kind": "sent", "id": env.id, "type": env.type, "thread": env.thread,
                                 "to": list(env.recipients)})

    def enqueue(self, envs: Sequence[Envelope], conn: Connection | None = None, *,
                payloads: Sequence[Mapping[str, Any]] | None = None, external: bool = False) -> None:
        """Queue signed envelopes in the outbox, in `conn`'s transaction if given, and wake the relay.

        Inside a caller's transaction the wake comes before the commit, and the relay may read too
        early and then wait for its next wake or poll (1 s): the busy paths (submit, the receipts
        of incoming messages) wake it again once committed. `external=True`: the database keeps
        none of the signed bytes; the caller's feature does (a file chunk: docs/evidence-files.md) and
        gives them to the relay (`Feature.sent_bytes`). `payloads`: the envelopes' clear bodies as
        built (saves parsing an alert batch back)."""
        if conn is None:
            with self.store.engine.begin() as own:
                self.enqueue(envs, own, payloads=payloads, external=external)
            self.wake_soon()
            return
        moment = utcnow()
        now = format_time(moment)
        queue_outgoing(conn, envs, None if external else [wire.encode(e) for e in envs], now, payloads=payloads)
        delivery.track(conn, envs, moment, self.config.delivery_deadline.total_seconds())
        self.watchdogs.queued(envs)
        self.wake_soon()

    def wake_soon(self) -> None:
        self.call_soon(self._wake.set)

    def call_soon(self, callback: Callable[[], Any]) -> None:
        """Run `callback` on the node's event loop (from an effect's thread), once it runs."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    async def publisher(self, delay: float) -> Publisher | None:
        """The relay's publishing channel to the hub, or None after `delay` if there is none."""
        return await self._relay_publisher(delay)

    async def _relay(self) -> None:
        """Publish the outbox in rounds, up to RELAY_ROUNDS of them awaiting confirms at once: a
        message queued while a round waits for the broker goes out at once, not after it.

        A row is in at most one round until its round has marked it published (then a fresh read
        of the outbox no longer returns it) or has failed (then it is read and sent again)."""
        state = _RelayState()
        try:
            while True:
                if state.failed:
                    await asyncio.sleep(state.delay)
                    state.delay, state.failed = min(state.delay * 2, 5.0), False
                while len(state.rounds) >= RELAY_ROUNDS:
                    await asyncio.wait(state.rounds, return_when=asyncio.FIRST_COMPLETED)
                if state.renew is not None:  # once no round awaits confirms on that channel
                    if state.rounds:
                        await asyncio.wait(state.rounds)
                    await state.renew.renew()
                    state.renew = None
                settled, state.settled = state.settled, set()
                state.in_flight -= state.retry
                state.retry.clear()
                self._wake.clear()  # before the read: a wake during it is kept for the wait below
                pending = await asyncio.to_thread(self._pending, RELAY_BATCH, set(state.in_flight - settled))
                state.in_flight -= settled  # marked before that read began: it did not return them
                if not pending:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                    except TimeoutError:
                        pass
                    continue
                publisher = await self._relay_publisher(state.delay)
                if publisher is None:
                    continue
                state.in_flight.update(seq for seq, _, _ in pending)
                task = asyncio.create_task(self._publish_round(publisher, pending, state))
                state.rounds.add(task)
                task.add_done_callback(state.rounds.discard)
        finally:
            for task in state.rounds:
                task.cancel()

    def _pending(self, limit: int, exclude: set[int]) -> list[tuple[int, str, bytes]]:
        """The outbox's unpublished rows with their signed bytes; those the database keeps none of
        come from the feature that queued them (`external`). A row whose bytes nobody keeps any more
        (its message was receipted meanwhile, e.g. during a re-send) is marked published, not sent."""
        rows = self.store.pending(limit, exclude)
        if all(raw for _, _, raw in rows):
            return rows
        found, gone = [], []
        for seq, mid, raw in rows:
            raw = raw or next((b for load in self._sent_bytes if (b := load(mid)) is not None), b"")
            if raw:
                found.append((seq, mid, raw))
            else:
                gone.append(seq)
                self.log.warning("outbox row whose signed bytes nobody keeps any more: not sent", message_id=mid)
        self.store.mark_published(gone, format_time(utcnow()))
        return found

    async def _relay_publisher(self, delay: float) -> Publisher | None:
        """The publishing channel, reopened if the broker closed it; None (after waiting) if there is none."""
        publisher = self._publisher
        if publisher is None:
            await self.session.connected.wait()
            return None
        if publisher.is_closed:  # the broker closed the channel; the connection may live on
            connection = self.session.connection
            if connection is not None and not connection.is_closed:
                try:
                    self._publisher = await Publisher.open(connection, broker_config.HUB_IN_EXCHANGE,
                                                           self.creds.broker_user)
                except Exception as exc:  # noqa: BLE001 - retried like any publish failure
                    self.log.warning("cannot reopen the publishing channel", error=str(exc))
            await asyncio.sleep(delay)
            return None
        return publisher

    async def _publish_round(self, publisher: Publisher, pending: list[tuple[int, str, bytes]],
                             state: _RelayState) -> None:
        try:
            results = await publisher.publish_many([Outgoing(raw, self.country, mid) for _, mid, raw in pending])
            done = [seq for (seq, _, _), r in zip(pending, results) if r is None]
            await asyncio.to_thread(self.store.mark_published, done, format_time(utcnow()))
            self.watchdogs.published(mid for (_, mid, _), r in zip(pending, results) if r is None)
        except BaseException as exc:
            state.retry.update(seq for seq, _, _ in pending)
            state.failed = True
            self._wake.set()
            if not isinstance(exc, asyncio.CancelledError):
                self.log.exception("outbox publish round failed; will retry", messages=len(pending))
            return
        state.settled.update(done)
        failures = [r for r in results if r is not None]
        if any(isinstance(r, PublishNacked) for r in failures):
            state.renew = publisher
        if failures:
            state.retry.update(seq for (seq, _, _), r in zip(pending, results) if r is not None)
            state.failed = True
            self._wake.set()
            self.log.warning("outbox publish failed; will retry", failed=len(failures),
                             published=len(done), error=str(failures[0]), retry_in=state.delay)
        else:
            state.delay = 0.2
            for _, mid, _ in pending:
                self.log.debug("message published", message_id=mid)

    def _check(self, message: Delivered, now) -> tuple[VerifiedEnvelope, LogReceipt | None, Any]:  # noqa: ANN001
        checked = inbox.check(inbox.Delivery.of(message.body, message.headers, message.message_id),
                              country=self.country, federation=self.federation, now=now, opener=self._open_body,
                              heard_from_hub=self.watchdogs.heard_from_hub)
        return checked.verified, checked.receipt, checked.body

    async def _refuse_alone(self, message: Delivered, error: BaseException) -> None:
        await self._receive([message], failed=error)

    async def _receive(self, batch: list[Delivered], retry: bool = False,
                       failed: BaseException | None = None) -> None:
        """Check, store and apply `batch` in one transaction, then ack. `failed`: the one message of
        `batch` whose effect failed: it is stored, recorded as refused (`internal_error`) and its
        sender gets a `refused` receipt; its effect does not run again."""
        now = utcnow()
        checked: list[tuple[VerifiedEnvelope, LogReceipt, Any, bytes]] = []
        refused: list[dict[str, Any]] = []
        for message in batch:
            try:
                verified, receipt, body = self._check(message, now)
                checked.append((verified, receipt, body, message.body))
            except (DecodeError, ProtocolError, CryptoError) as exc:
                refused.append({"message_id": getattr(exc, "message_id", None) or message.message_id,
                                "sender": getattr(exc, "sender", None), "reason": exc.reason,
                                "detail": str(exc)[:2000], "at": format_time(now)})
            except Exception as exc:
                if is_transient(exc):
                    raise
                self.log.exception("checking one message failed; refusing it alone", message_id=message.message_id)
                refused.append({"message_id": message.message_id, "sender": None, "reason": "internal_error",
                                "detail": f"this node could not check the message ({type(exc).__name__})",
                                "at": format_time(now)})
        effect_failed = {v.id: failed for v, *_ in checked} if failed is not None else {}
        with self.telemetry.batch_seconds.time():
            fresh = await asyncio.to_thread(self._apply, checked, refused, effect_failed)
        await ack_batch(batch)
        try:
            self._after_receive(checked, fresh, refused)
            if fresh or refused:
                async with self.received:
                    self.received.notify_all()
        except Exception:  # noqa: BLE001 - acked already: a failure here must not handle the batch again
            self.log.exception("notifying about received messages failed")

    def _after_receive(self, checked: list, fresh: list[VerifiedEnvelope], refused: list[dict[str, Any]]) -> None:
        if any(messages.lookup(v.envelope.type).receipted for v, *_ in checked):
            self._wake.set()  # their receipts are committed to the outbox now
        now = utcnow()
        for verified in fresh:
            env = verified.envelope
            self.telemetry.count(env.type, "stored")
            self.telemetry.delivery_seconds.observe(max(0.0, (now - parse_time(env.created)).total_seconds()))
            self.log.info("message received", message_id=verified.id, thread=env.thread, type=env.type,
                          sender=env.sender)
            self.events.publish({"kind": "received", "id": env.id, "type": env.type, "thread": env.thread,
                                 "sender": env.sender})
        for r in refused:
            self.telemetry.count("", "refused", r["reason"])
            self.log.warning("message refused", message_id=r["message_id"], reason=r["reason"], detail=r["detail"])
            self.events.publish({"kind": "refused", "id": r["message_id"], "reason": r["reason"]})

    def _apply(self, checked: list, refused: list[dict[str, Any]],
               effect_failed: Mapping[str, BaseException] | None = None) -> list[VerifiedEnvelope]:
        stored_at = format_time(utcnow())
        fresh: list[VerifiedEnvelope] = []
        answers: list[Envelope] = []
        effect_failed = effect_failed or {}
        with self.store.engine.begin() as conn:
            begin_refusals(conn)
            known = self.store.known_ids(v.id for v, *_ in checked)
            rows: list[dict[str, Any]] = []
            batched: dict[str, list[tuple[VerifiedEnvelope, Any]]] = {}
            to_receipt: list[tuple[VerifiedEnvelope, bool]] = []  # (message, is a duplicate)

            def flush() -> None:  # what is held back goes in before any other effect runs
                if rows:
                    conn.execute(insert(message_table), rows)
                    rows.clear()
                for type, items in batched.items():
                    self.batch_effects[type](self.feature_context(type), conn, items)
                batched.clear()

            for verified, receipt, body, raw in checked:
                env = verified.envelope
                duplicate = env.id in known
                if not duplicate:
                    known.add(env.id)
                    rows.append(message_row("in", env, verified.digest,
                                            b"" if env.type in self.stored_without_copy else raw, stored_at,
                                            receipt.index if receipt else None,
                                            receipt.to_header() if receipt else None, payload=body))
                    if (error := effect_failed.get(env.id)) is not None:
                        record_refusal(conn, env.id, env.sender, "internal_error",
                                       f"this node could not apply the message ({type(error).__name__}); "
                                       "it is stored, its effect was not applied", stored_at)
                    elif env.type in self.batch_effects:
                        batched.setdefault(env.type, []).append((verified, body))
                    elif (effect := self.effects.get(env.type)) is not None:
                        flush()
                        answers.extend(effect(self.feature_context(env.type), conn, verified, body) or ())
                    fresh.append(verified)
                if messages.lookup(env.type).receipted:
                    to_receipt.append((verified, duplicate))
            flush()
            refused_now = end_refusals(conn)
            # A duplicate gets its receipt again (the first may be what was lost) and nothing else.
            earlier = refusal_reasons(conn, [v.id for v, duplicate in to_receipt if duplicate])
            for verified, _ in to_receipt:
                env = verified.envelope
                reason = refused_now.get(env.id) or earlier.get(env.id)
                body = {"of": env.id, "digest": verified.digest, "kind": "refused" if reason else "delivered",
                        "at": stored_at, **({"reason": reason} if reason else {})}
                answers.append(self.build("receipt", [env.sender], reply_to=env.id, thread=env.thread, body=body))
            if refused:
                conn.execute(insert(refusals), refused)
            if answers:
                self.enqueue(answers, conn)
            erase = take_deletion_mark(conn)
        if erase and not erase_freed(self.store.engine):  # before the ack: a withdrawn case is gone from disk
            self.log.warning("deleted personal data may stay in the write-ahead log until the next retention sweep")
        return fresh


def _apply_publication(node: NationalNode, conn: Connection, verified: VerifiedEnvelope,
                       body: Mapping[str, Any] | None) -> None:
    """A root-signed directory or revocation list relayed by the hub: applied now, without restart."""
    assert body is not None
    try:
        node.federation, document = accept_publication(conn, node.federation, body["document"].encode("utf-8"),
                                                       utcnow(), node.country)
    except CryptoError as exc:  # overtaken in this very batch by a newer one: the newer stays in force
        node.log.warning("federation document not applied", message_id=verified.id, reason=exc.reason,
                         detail=exc.detail)
        return
    node.log.info("federation document applied", message_id=verified.id, type=verified.envelope.type,
                  serial=document.serial)


def _accept_receipt(node: NationalNode, conn: Connection, verified: VerifiedEnvelope,
                    body: Mapping[str, Any] | None) -> None:
    """A recipient's signed receipt for a message this node sent (nodes/national/receipts.py)."""
    receipt_rules.accept(conn, verified, body, node.receipt_followers)


__all__ = ["BatchEffect", "Effect", "NationalNode"]
