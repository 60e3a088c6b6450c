"""The hub: verify every message from `hub.in`, audit it, forward it, then acknowledge it.

Per batch (group commit): decide each message (nodes/hub/decide.py, pure: decode, broker user,
signature, expiry, replay, policy) → append every entry in one transaction → publish forwards and
rejections with confirms → ack; forward completion is recorded in the next batch's append
transaction (forward_records.py). A crash anywhere redelivers the batch;
a redelivered message whose entry exists is forwarded again (recipients deduplicate by id) and
gets no second entry. Around it: forwards parked while an inbox is full (forwarding.py), dead
letters (dead_watch.py), checkpoints (checkpoint_publisher.py), federation documents (publication.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog
from aio_pika.abc import AbstractConnection

import broker_config
from nodes.hub import checkpoint_publisher, dead_watch
from nodes.hub.audit import ACCEPTED, DEAD_LETTERED, UNROUTABLE, AuditEntry, AuditStore
from nodes.hub.decide import (
    INTERNAL_ERROR, REFUSE, Context, Delivery, Reading, Verdict, check_cosignature, decide, decide_batch, read,
    refuse_bare, refuse_internal,
)
from nodes.hub.forwarding import (  # noqa: F401 - Publish, outgoing, plan_publishes: also imported from here
    INBOX_FULL, Copies, Forward, Forwarder, Publish, existing_inboxes, outgoing, plan_publishes,
)
from nodes.hub.forward_records import ForwardRecords
from nodes.hub.inbox_watch import watch_inboxes
from nodes.hub.metrics import hub_gauges
from nodes.hub.notices import log_receipt, rejection_notice
from nodes.hub.signature_checks import SignatureChecks, SignaturePool
from nodes.plumbing.alarms import AlarmBoard
from nodes.plumbing.amqp import (
    BrokerSession, Publisher, ack_batch, broker_login, broker_urls, consume_in_batches, stop_tasks,
)
from nodes.plumbing.config import HubConfig, new_message_id, utcnow
from nodes.plumbing.deliveries import Delivered, consume
from nodes.hub.schema import open_hub_store
from nodes.plumbing.faults import is_transient
from nodes.plumbing.federation import Federation, load_federation
from nodes.plumbing.federation_state import admit_federation
from nodes.plumbing.metrics import Telemetry
from protocol import envelope as wire
from protocol import policy
from protocol.checkpoint import SignedNote, log_origin
from protocol.envelope import Envelope
from protocol.receipts import HEADER as LOG_HEADER
from protocol.resend import RESEND_TO
from protocol.timefmt import format_time

log = structlog.get_logger("somex.hub")

# Earlier names of the forward records (tests and benchmarks import them from here).
_Forward, _Copies, _Publish, _outgoing = Forward, Copies, Publish, outgoing


@dataclass
class _Handled:
    """One delivery of a batch: the verdict on it, and what the hub signs and sends because of it."""
    message: Delivered
    verdict: Verdict
    rejection: Envelope | None = None
    rejection_entry: AuditEntry | None = None
    forwards: list[Forward | Copies] = field(default_factory=list)

    @property
    def envelope(self) -> Envelope | None:
        return self.verdict.envelope

    @property
    def entry(self) -> AuditEntry:
        return self.verdict.entry


class Hub:
    def __init__(self, config: HubConfig, federation: Federation | None = None) -> None:
        self.config = config
        self.federation = federation or load_federation(config.federation_dir, utcnow())
        self._creds = self.federation.credentials(policy.HUB_ID)
        self.origin = log_origin(self.federation.directory.federation)
        self.engine = engine = open_hub_store(config.db_url)  # schema checked, lease held (issue 18)
        admit_federation(engine, self.federation, utcnow(), policy.HUB_ID)
        self.store = AuditStore(engine, self.origin, self._creds.signing_key, self.origin)
        self.log_lock = asyncio.Lock()  # appends and checkpoints take turns on the tree
        self.publication_lock = asyncio.Lock()  # federation documents are applied one at a time
        self._queue: asyncio.Queue[Delivered] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.session: BrokerSession | None = None
        self._publisher: Publisher | None = None
        self.processed = 0
        self.messages_since_checkpoint = 0  # entries other than witness cosignatures
        # In memory: an alarm about the hub's storage cannot be stored in it. Raised by the consumers
        # (storage, broker link) and the inbox watchdog (nodes/hub/inbox_watch.py).
        self.alarms = AlarmBoard(log)
        self.telemetry = Telemetry(lambda: hub_gauges(self))
        self.forward_records = ForwardRecords(self.store)
        self.forwarder = Forwarder(self.store, self.alarms, lambda forwards: self._forward(forwards),
                                   config.parked_retry_interval)
        self.signatures = SignaturePool(config.verify_workers)

    @property
    def directory(self):  # noqa: ANN201
        return self.federation.directory

    # For nodes.hub.publication and the checkpoint publisher, which issue messages of the hub's own.
    @property
    def signing_key(self):  # noqa: ANN201
        return self._creds.signing_key

    @property
    def routable_inboxes(self) -> set[str]:
        """Broker fan-out (docs/broker.md, "Fan-out by the broker"): one publish carries a message to
        every recipient whose inbox is known to exist and holds no parked forward; the others get a
        publish of their own (an unknown inbox must reach the alternate exchange, not vanish)."""
        return self.forwarder.routable_inboxes

    @routable_inboxes.setter
    def routable_inboxes(self, inboxes: set[str]) -> None:
        self.forwarder.routable_inboxes = inboxes

    def log_receipt(self, entry: AuditEntry, message_id: str, at: str) -> str:
        return log_receipt(entry, message_id, at, self._creds.signing_key)

    async def forward(self, forwards: list[Forward | Copies]) -> list[Forward]:
        return await self._forward(forwards)

    async def process(self, batch: list[Delivered], retry: bool = False) -> None:
        await self._process(batch, retry)

    async def refuse_alone(self, message: Delivered, error: BaseException) -> None:
        await self._refuse_alone(message, error)

    def alarm_parked(self, parked: list[Forward]) -> None:
        self.forwarder.alarm_parked(parked)

    async def retry_parked(self) -> int:
        return await self.forwarder.retry_parked()

    async def requeue_dead(self) -> int:
        return await dead_watch.requeue_dead(self)

    async def publish_checkpoint(self) -> SignedNote | None:
        return await checkpoint_publisher.publish_checkpoint(self)

    async def publish_federation_document(self, raw: bytes) -> dict:
        """Apply a root-signed directory or revocation list now and broadcast it (nodes.hub.publication)."""
        from nodes.hub.publication import publish_federation_document

        return await publish_federation_document(self, raw)

    async def start(self) -> None:
        b = self.config.broker
        login = broker_login(b, self._creds, self.federation.root_cert_file)
        self.session = BrokerSession(broker_urls(b, login), "somex-hub", self._on_connect, self._on_disconnect,
                                     tls_context=login.tls_context)
        self.signatures.open()
        self._tasks.append(asyncio.create_task(self.session.run(), name="hub-broker"))
        self._tasks.append(asyncio.create_task(
            consume_in_batches(self._queue, self._process, self.config.batch_size, log,
                               refuse=self._refuse_alone, alarms=self.alarms), name="hub-worker"))
        self._tasks.append(asyncio.create_task(checkpoint_publisher.run_checkpoints(self), name="hub-checkpoints"))
        self._tasks.append(asyncio.create_task(self.forwarder.retry_parked_forever(), name="hub-parked"))
        self._tasks.append(asyncio.create_task(watch_inboxes(self, self.alarms), name="hub-inboxes"))
        self._tasks.append(asyncio.create_task(dead_watch.requeue_dead_forever(self), name="hub-requeue-dead"))
        log.info("hub starting", log_size=self.store.size, nodes=self.directory.node_ids())

    async def wait_connected(self, timeout: float = 30) -> None:
        await asyncio.wait_for(self.session.connected.wait(), timeout)

    async def stop(self) -> None:
        await stop_tasks(self._tasks, self.session)
        await self.forward_records.close()
        self.signatures.close()
        self.engine.dispose()  # ends the running hub's lease on its store (nodes/plumbing/store_lease.py)

    async def _on_connect(self, connection: AbstractConnection) -> None:
        self.routable_inboxes = await existing_inboxes(connection, self.directory.node_ids())
        self._publisher = await Publisher.open(connection, broker_config.NODE_OUT_EXCHANGE, self._creds.broker_user)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.config.prefetch)
        await consume(channel, broker_config.HUB_IN_QUEUE, self._queue, "somex-hub")
        # Watchers ack one by one on a channel of their own: hub.in's batches ack with `multiple`.
        watch_channel = await connection.channel()
        await watch_channel.set_qos(prefetch_count=16)
        for name, verdict in ((broker_config.DEAD_LETTER_QUEUE, DEAD_LETTERED),
                              (broker_config.UNROUTABLE_QUEUE, UNROUTABLE)):
            queue = await watch_channel.get_queue(name, ensure=False)
            await queue.consume(dead_watch.dead_letter_watcher(self, verdict))

    def _on_disconnect(self) -> None:
        self._publisher = None

    async def open_publisher(self) -> Publisher:
        """The publishing channel, reopened if the broker closed it (the connection may live on)."""
        if self._publisher is not None and not self._publisher.is_closed:
            return self._publisher
        connection = self.session.connection if self.session else None
        if connection is None or connection.is_closed:
            raise ConnectionError("no broker connection: the batch will be redelivered")
        self._publisher = await Publisher.open(connection, broker_config.NODE_OUT_EXCHANGE, self._creds.broker_user)
        return self._publisher

    async def _forward(self, forwards: list[Forward | Copies]) -> list[Forward]:
        """Publish with confirms; return what a full inbox refused (Forwarder.publish)."""
        return await self.forwarder.publish(await self.open_publisher(), forwards)

    # -- the pipeline ---------------------------------------------------------------------------

    def decision_context(self, now: datetime, seen: dict, checks: SignatureChecks | None = None) -> Context:
        context = Context(self.directory, self.federation.trust, now, self.config.max_clock_skew, seen, self.store,
                          self.federation.revocations.revoked)
        return context if checks is None else replace(context, check_signature=checks.check)

    async def _process(self, batch: list[Delivered], retry: bool = False,
                       failed: BaseException | None = None) -> None:
        """Decide, audit, forward and ack `batch`. `retry` (part of it may have been audited by an
        earlier attempt) needs no special case: a message whose identical bytes are in the log is
        forwarded again under its entry. `failed`: the one message of `batch` whose processing
        failed; it is rejected `internal_error` and its sender told."""
        started = time.perf_counter()
        now = utcnow()
        received_at = format_time(now)
        readings = [read(_delivery(m), received_at, self.directory) for m in batch]
        for r in readings:
            if r.failure is not None:
                log.error("decoding one message failed; rejecting it alone", exc_info=r.failure)
        # Workers check the signatures meanwhile; each is taken (or made) when its message is decided.
        checks = None if failed is not None else self.signatures.start(
            (r.envelope for r in readings), self.federation.trust, now)
        seen = await asyncio.to_thread(self.store.seen, [r.envelope.id for r in readings if r.envelope is not None])
        context = self.decision_context(now, seen, checks)
        if failed is not None:
            verdicts = [refuse_internal(r.delivery, failed, context, r.entry) for r in readings]
        else:
            verdicts = decide_batch(readings, context, self._may_refuse_alone, self._decide)
        handled = [self._with_notice(m, r.delivery, v, context) for m, r, v in zip(batch, readings, verdicts)]
        new_entries: list[AuditEntry] = []
        for h in handled:
            if not h.verdict.in_log_already:
                new_entries.append(h.verdict.entry)
            if h.rejection_entry is not None:
                new_entries.append(h.rejection_entry)
        recorded = self.forward_records.take()  # the previous batches' forwards, in this transaction
        try:
            async with self.log_lock:
                await asyncio.to_thread(self.store.append, new_entries, None, recorded)
        except BaseException:
            self.forward_records.give_back(recorded)
            raise
        again = [h.verdict.entry for h in handled if h.verdict.in_log_already]
        if again:  # their log receipts name the entries already in the log
            stored = await asyncio.to_thread(self.store.leaf_hashes_of, [e.seq for e in again])
            for entry in again:
                entry.leaf_hash = stored[entry.seq]
        cosigned = [h.verdict.cosignature.as_row() for h in handled if h.verdict.cosignature is not None]
        if cosigned:  # one transaction for the batch's cosignatures (issue 23: O(1) statements per batch)
            await asyncio.to_thread(self.store.add_cosignatures, cosigned)
        for h in handled:
            self._prepare_forwards(h, received_at)
        forwards = [f for h in handled for f in h.forwards]
        parked = await self._forward(forwards)
        if parked:
            await asyncio.to_thread(self.forwarder.park, parked, received_at)
            log.error("recipient inbox full: forwards parked at the hub, retried every "
                      f"{self.config.parked_retry_interval:g}s", parked=len(parked),
                      recipients=sorted({f.to for f in parked}),
                      action="bring the recipient's node back, or raise its inbox bounds")
            self.alarm_parked(parked)
        forwarded_seqs = {f.seq for f in forwards} - {f.seq for f in parked}
        self.forward_records.add(forwarded_seqs, format_time(utcnow()))
        await ack_batch([h.message for h in handled])
        for h in handled:
            self._log(h)
        self.processed += len(batch)
        self.messages_since_checkpoint += sum(1 for e in new_entries if e.type != "witness.cosign")
        for e in new_entries:
            self.telemetry.count(e.type or "", e.verdict, e.reason or "")
        self.telemetry.batch_seconds.observe(time.perf_counter() - started)

    async def _refuse_alone(self, message: Delivered, error: BaseException) -> None:
        await self._process([message], retry=True, failed=error)

    def _decide(self, reading: Reading, context: Context, spent: Mapping[str, Verdict]) -> Verdict:
        """One delivery's verdict (decide.decide; a seam tests use to inject a failure)."""
        return decide(reading, context, spent)

    @staticmethod
    def _may_refuse_alone(entry: AuditEntry, exc: Exception) -> bool:
        """An unexpected failure deciding one message refuses it alone; a failure of the hub's own
        storage propagates (the batch is held and retried, nothing refused)."""
        if is_transient(exc):
            return False
        log.error("deciding one message failed; rejecting it alone", message_id=entry.message_id,
                  exc_info=exc)
        return True

    def _check_cosignature(self, witness: str, body: dict) -> tuple:
        """decide.check_cosignature now, as the stored row (AuditStore.add_cosignature arguments)."""
        return check_cosignature(witness, body, self.decision_context(utcnow(), {})).as_row()

    def _with_notice(self, message: Delivered, delivery: Delivery, verdict: Verdict,
                     context: Context) -> _Handled:
        """`verdict` with the signed rejection its sender gets. If what the message says of itself
        cannot be signed into a rejection, it is refused `internal_error`, then by its digest alone."""
        while True:
            if verdict.action != REFUSE or verdict.answer_to is None:
                return _Handled(message, verdict)
            try:
                entry = verdict.entry
                rejection, notice_entry = self.rejection_notice(entry, entry.reason, entry.detail or "",
                                                                verdict.answer_to)
                return _Handled(message, verdict, rejection, notice_entry)
            except Exception as exc:
                if verdict.reason == INTERNAL_ERROR and verdict.entry.message_id is None:
                    raise  # even the bare refusal cannot be signed: a bug; the batch is retried
                log.exception("signing a rejection failed; refusing by what can be read",
                              message_id=verdict.entry.message_id)
                verdict = (refuse_bare(verdict) if verdict.reason == INTERNAL_ERROR
                           else refuse_internal(delivery, exc, context, verdict.entry))

    def rejection_notice(self, refused: AuditEntry, reason: str, detail: str, to: str) -> tuple[Envelope, AuditEntry]:
        return rejection_notice(refused, reason, detail, to, self._creds.signing_key, utcnow(), new_message_id())

    def rejection_forward(self, rejection: Envelope, entry: AuditEntry) -> Forward:
        receipt = self.log_receipt(entry, rejection.id, rejection.created)
        return Forward(entry.seq, rejection.recipients[0], rejection.id, wire.encode(rejection), {LOG_HEADER: receipt})

    def _prepare_forwards(self, h: _Handled, received_at: str) -> None:
        v = h.verdict
        if v.entry.verdict == ACCEPTED and v.envelope is not None:
            receipt = self.log_receipt(v.entry, v.envelope.id, received_at)
            h.forwards.append(Copies(v.entry.seq, tuple(v.recipients), v.envelope.id, h.message.body,
                                     {LOG_HEADER: receipt}))
        if h.rejection is not None and h.rejection_entry is not None:
            h.forwards.append(self.rejection_forward(h.rejection, h.rejection_entry))

    def _log(self, h: _Handled) -> None:
        e = h.verdict.entry
        bound = log.bind(message_id=e.message_id, thread=e.thread, seq=e.seq, sender=e.sender, type=e.type)
        if e.verdict == ACCEPTED:
            recipients = h.verdict.recipients  # a broadcast's 189 names at 190 members: the audit log has them
            bound.info("redelivered message forwarded again" if h.verdict.in_log_already else "message relayed",
                       recipients=len(recipients), to=list(recipients) if len(recipients) <= LOGGED_RECIPIENTS else None)
        elif h.verdict.in_log_already:
            bound.info("redelivered message was refused already; nothing more to do")
        else:
            bound.warning("message rejected", reason=e.reason, detail=e.detail, broker_user=e.broker_user)


LOGGED_RECIPIENTS = 10  # a relayed message's log line names at most this many recipients


def _delivery(message: Delivered) -> Delivery:
    """The one conversion of a broker delivery into what decide reads."""
    resend_to = (message.headers or {}).get(RESEND_TO)
    return Delivery(message.body, message.user_id, bool(getattr(message, "redelivered", False)),
                    resend_to if isinstance(resend_to, str) else None)


__all__ = ["INBOX_FULL", "Hub", "log_origin", "plan_publishes"]
