"""The hub: verify every message from `hub.in`, audit it, forward it, then acknowledge it.

Per batch (group commit): decide each message (decode, broker user, signature, expiry, replay,
policy) → append every entry in one transaction → publish forwards and rejections with confirms
→ record forward completion → ack. A crash anywhere redelivers the batch; a redelivered message
whose entry exists is forwarded again (recipients deduplicate by id) and gets no second entry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

import structlog
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

import broker_config
from crypto.errors import CryptoError
from crypto.keys import kid_of
from crypto.note import NoteError, NoteVerifier, verify_cosignature
from crypto.signing import sign_envelope, verify_envelope
from crypto.witness import WitnessError, admit_cosignature, required_quorum
from nodes.hub.audit import (
    ACCEPTED, DEAD_LETTERED, ISSUED, REJECTED, UNROUTABLE, AuditEntry, AuditStore,
)
from nodes.hub.inbox_watch import watch_inboxes
from nodes.hub.metrics import hub_gauges
from nodes.runtime.alarms import AlarmBoard
from nodes.runtime.metrics import Telemetry
from nodes.runtime.amqp import (
    BrokerSession, Outgoing, Publisher, PublishNacked, ack_batch, broker_login, broker_urls, consume_in_batches, stop_tasks,
)
from nodes.runtime.config import HubConfig, new_message_id, utcnow
from nodes.runtime.db import make_engine
from nodes.runtime import amqp
from nodes.runtime.faults import is_transient
from nodes.runtime.federation import Federation, load_federation
from nodes.runtime.federation_state import admit_federation
from protocol import envelope as wire
from protocol import policy
from protocol.envelope import Envelope
from protocol.checkpoint import CheckpointError, SignedNote, format_note, log_origin, parse_note
from protocol.errors import DecodeError, ProtocolError
from protocol.receipts import HEADER as LOG_HEADER
from protocol.receipts import LogReceipt
from protocol.timefmt import format_time

log = structlog.get_logger("somex.hub")


class _Forward(NamedTuple):
    """One recipient's copy of a message (parked, retried and marked one by one)."""
    seq: int  # the audit entry that lets this message through
    to: str
    message_id: str
    body: bytes
    headers: dict[str, str]


class _Copies(NamedTuple):
    """One message for several recipients: the broker makes the copies (plan_publishes). Kept whole
    until a copy must stand alone: at 190 members, an object per recipient was the hub's largest
    cost per broadcast (issue 23)."""
    seq: int
    recipients: tuple[str, ...]
    message_id: str
    body: bytes
    headers: dict[str, str]

    def each(self, recipients=None) -> list[_Forward]:  # noqa: ANN001 - a subset of recipients
        return [_Forward(self.seq, to, self.message_id, self.body, self.headers)
                for to in (self.recipients if recipients is None else recipients)]


class _Publish(NamedTuple):
    """One publish: `first` to its recipient, and the same message to each of `bcc`."""
    first: _Forward
    bcc: tuple[str, ...] = ()

    def each(self) -> list[_Forward]:
        f = self.first
        return [f, *(_Forward(f.seq, to, f.message_id, f.body, f.headers) for to in self.bcc)]


@dataclass
class _Decision:
    message: AbstractIncomingMessage
    entry: AuditEntry
    envelope: Envelope | None = None
    recipients: tuple[str, ...] = ()
    reforward: bool = False  # redelivery of a message already in the log
    rejection: Envelope | None = None
    rejection_to: str | None = None
    rejection_entry: AuditEntry | None = None
    forwards: list[_Forward | _Copies] = field(default_factory=list)
    cosignature: tuple | None = None  # AuditStore.add_cosignature arguments: (size, witness, signature, time, rank, quorum)


class Hub:
    def __init__(self, config: HubConfig, federation: Federation | None = None) -> None:
        self.config = config
        self.federation = federation or load_federation(config.federation_dir, utcnow())
        self._creds = self.federation.credentials(policy.HUB_ID)
        self.origin = log_origin(self.federation.directory.federation)
        engine = make_engine(config.db_url)
        admit_federation(engine, self.federation, utcnow(), policy.HUB_ID)
        self.store = AuditStore(engine, self.origin, self._creds.signing_key, self.origin)
        self._log_lock = asyncio.Lock()  # appends and checkpoints take turns on the tree
        self.publication_lock = asyncio.Lock()  # federation documents are applied one at a time
        self._queue: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.session: BrokerSession | None = None
        self._publisher: Publisher | None = None
        self.processed = 0
        self._messages_since_checkpoint = 0  # entries other than witness cosignatures
        # In memory: an alarm about the hub's storage cannot be stored in it. Raised by the consumers
        # (storage, broker link) and the inbox watchdog (nodes/hub/inbox_watch.py).
        self.alarms = AlarmBoard(log)
        self.telemetry = Telemetry(lambda: hub_gauges(self))
        # Broker fan-out (docs/broker.md, "Fan-out by the broker"): one publish carries a message to
        # every recipient whose inbox is known to exist and holds no parked forward; the others get
        # a publish of their own (an unknown inbox must reach the alternate exchange, not vanish).
        self.routable_inboxes: set[str] = set()
        self._parked_recipients: set[str] = set(self.store.parked_counts())

    @property
    def directory(self):  # noqa: ANN201
        return self.federation.directory

    # For nodes.hub.publication, which issues messages of the hub's own like rejections.
    @property
    def signing_key(self):  # noqa: ANN201
        return self._creds.signing_key

    @property
    def log_lock(self) -> asyncio.Lock:
        return self._log_lock

    def log_receipt(self, entry: AuditEntry, message_id: str, at: str) -> str:
        return self._log_receipt(entry, message_id, at)

    async def forward(self, forwards: list[_Forward | _Copies]) -> list[_Forward]:
        return await self._forward(forwards)

    async def publish_federation_document(self, raw: bytes) -> dict:
        """Apply a root-signed directory or revocation list now and broadcast it (nodes.hub.publication)."""
        from nodes.hub.publication import publish_federation_document

        return await publish_federation_document(self, raw)

    async def start(self) -> None:
        b = self.config.broker
        login = broker_login(b, self._creds, self.federation.root_cert_file)
        self.session = BrokerSession(broker_urls(b, login), "somex-hub", self._on_connect, self._on_disconnect,
                                     tls_context=login.tls_context)
        self._tasks.append(asyncio.create_task(self.session.run(), name="hub-broker"))
        self._tasks.append(asyncio.create_task(
            consume_in_batches(self._queue, self._process, self.config.batch_size, log,
                               refuse=self._refuse_alone, alarms=self.alarms), name="hub-worker"))
        self._tasks.append(asyncio.create_task(self._checkpoints(), name="hub-checkpoints"))
        self._tasks.append(asyncio.create_task(self._retry_parked_forever(), name="hub-parked"))
        self._tasks.append(asyncio.create_task(watch_inboxes(self, self.alarms), name="hub-inboxes"))
        self._tasks.append(asyncio.create_task(self._requeue_dead_forever(), name="hub-requeue-dead"))
        log.info("hub starting", log_size=self.store.size, nodes=self.directory.node_ids())

    async def wait_connected(self, timeout: float = 30) -> None:
        await asyncio.wait_for(self.session.connected.wait(), timeout)

    async def stop(self) -> None:
        await stop_tasks(self._tasks, self.session)

    async def _on_connect(self, connection: AbstractConnection) -> None:
        self.routable_inboxes = await existing_inboxes(connection, self.directory.node_ids())
        self._publisher = await Publisher.open(connection, broker_config.NODE_OUT_EXCHANGE, self._creds.broker_user)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.config.prefetch)
        hub_in = await channel.get_queue(broker_config.HUB_IN_QUEUE, ensure=False)
        await hub_in.consume(self._queue.put, consumer_tag="somex-hub")
        # Watchers ack one by one on a channel of their own: hub.in's batches ack with `multiple`.
        watch_channel = await connection.channel()
        await watch_channel.set_qos(prefetch_count=16)
        for name, verdict in ((broker_config.DEAD_LETTER_QUEUE, DEAD_LETTERED),
                              (broker_config.UNROUTABLE_QUEUE, UNROUTABLE)):
            queue = await watch_channel.get_queue(name, ensure=False)
            await queue.consume(self._make_watcher(verdict))

    def _on_disconnect(self) -> None:
        self._publisher = None

    async def _open_publisher(self) -> Publisher:
        """The publishing channel, reopened if the broker closed it (the connection may live on)."""
        if self._publisher is not None and not self._publisher.is_closed:
            return self._publisher
        connection = self.session.connection if self.session else None
        if connection is None or connection.is_closed:
            raise ConnectionError("no broker connection: the batch will be redelivered")
        self._publisher = await Publisher.open(connection, broker_config.NODE_OUT_EXCHANGE, self._creds.broker_user)
        return self._publisher

    # -- the pipeline ---------------------------------------------------------------------------

    async def _process(self, batch: list[AbstractIncomingMessage], retry: bool = False,
                       failed: BaseException | None = None) -> None:
        """Decide, audit, forward and ack `batch`. `retry` (part of it may have been audited by an
        earlier attempt) needs no special case: a message whose identical bytes are in the log is
        forwarded again under its entry. `failed`: the one message of `batch` whose processing
        failed; it is rejected `internal_error` and its sender told."""
        started = time.perf_counter()
        now = utcnow()
        received_at = format_time(now)
        decoded = [self._decode(m, received_at) for m in batch]
        ids = [d.envelope.id for d in decoded if d.envelope is not None]
        seen = await asyncio.to_thread(self.store.seen, ids)
        spent: dict[str, _Decision] = {}  # ids first seen in this batch
        for d in decoded:
            if failed is not None:
                self._reject_internal(d, failed)
            elif d.envelope is not None:
                self._decide_one(d, now, seen, spent)
        new_entries: list[AuditEntry] = []
        for d in decoded:
            if not d.reforward:
                new_entries.append(d.entry)
            if d.rejection_entry is not None:
                new_entries.append(d.rejection_entry)
        async with self._log_lock:
            await asyncio.to_thread(self.store.append, new_entries)
        again = [d.entry for d in decoded if d.reforward]
        if again:  # their log receipts name the entries already in the log
            stored = await asyncio.to_thread(self.store.leaf_hashes_of, [e.seq for e in again])
            for entry in again:
                entry.leaf_hash = stored[entry.seq]
        cosigned = [d.cosignature for d in decoded if d.cosignature is not None]
        if cosigned:  # one transaction for the batch's cosignatures (issue 23: O(1) statements per batch)
            await asyncio.to_thread(self.store.add_cosignatures, cosigned)
        for d in decoded:
            self._prepare_forwards(d, received_at)
        forwards = [f for d in decoded for f in d.forwards]
        parked = await self._forward(forwards)
        if parked:
            await asyncio.to_thread(self.store.park, [{
                "seq": f.seq, "recipient": f.to, "message_id": f.message_id, "raw": f.body,
                "headers": json.dumps(f.headers), "parked_at": received_at} for f in parked])
            log.error("recipient inbox full: forwards parked at the hub, retried every "
                      f"{self.config.parked_retry_interval:g}s", parked=len(parked),
                      recipients=sorted({f.to for f in parked}),
                      action="bring the recipient's node back, or raise its inbox bounds")
            self.alarm_parked(parked)
        forwarded_seqs = {f.seq for f in forwards} - {f.seq for f in parked}
        await asyncio.to_thread(self.store.mark_forwarded, forwarded_seqs, format_time(utcnow()))
        await ack_batch([d.message for d in decoded])
        for d in decoded:
            self._log(d)
        self.processed += len(batch)
        self._messages_since_checkpoint += sum(1 for e in new_entries if e.type != "witness.cosign")
        for e in new_entries:
            self.telemetry.count(e.type or "", e.verdict, e.reason or "")
        self.telemetry.batch_seconds.observe(time.perf_counter() - started)

    async def _refuse_alone(self, message: AbstractIncomingMessage, error: BaseException) -> None:
        await self._process([message], retry=True, failed=error)

    def _reject_internal(self, d: _Decision, error: BaseException) -> None:
        """Audit what can be read of a message whose processing failed, with `internal_error`."""
        entry = d.entry
        entry.header, entry.marks_seen = None, False  # what it carried may be what failed
        detail = f"the hub could not process this message ({type(error).__name__}); it was not forwarded"
        try:
            self._reject(d, "internal_error", detail)
            entry.leaf()
        except Exception:  # noqa: BLE001 - what it says of itself fails too: audit the bytes alone
            log.exception("auditing a failed message by its digest alone", message_id=entry.message_id)
            d.envelope, d.rejection, d.rejection_entry = None, None, None
            entry.message_id = entry.sender = entry.type = entry.thread = entry.kid = None
            entry.recipients, entry.verdict, entry.reason, entry.detail = (), REJECTED, "internal_error", detail
            self._reject(d, "internal_error", detail)

    def _decide_one(self, d: _Decision, now: datetime, seen: dict, spent: dict[str, _Decision]) -> None:
        """`_decide`, with an unexpected failure tied to this message rejecting it alone; a failure
        of the hub's own storage propagates (the batch is held and retried, nothing refused)."""
        try:
            self._decide(d, now, seen, spent)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("deciding one message failed; rejecting it alone", message_id=d.entry.message_id)
            if d.envelope is not None:
                spent.pop(d.envelope.id, None)
            d.reforward, d.cosignature, d.recipients = False, None, ()
            self._reject_internal(d, exc)

    def _decode(self, message: AbstractIncomingMessage, received_at: str) -> _Decision:
        raw = message.body
        entry = AuditEntry(verdict=REJECTED, digest=hashlib.sha256(raw).hexdigest(),
                           received_at=received_at, broker_user=message.user_id)
        decision = _Decision(message, entry)
        try:
            env = wire.decode(raw)
        except DecodeError as exc:
            entry.message_id, entry.sender, entry.type = exc.message_id, exc.sender, exc.type
            self._reject(decision, exc.reason, exc.detail)
            return decision
        except Exception as exc:  # noqa: BLE001 - a decoder bug: this message alone is refused
            log.exception("decoding one message failed; rejecting it alone")
            self._reject(decision, "internal_error", f"the hub could not decode this message ({type(exc).__name__})")
            return decision
        decision.envelope = env
        entry.message_id, entry.type, entry.sender = env.id, env.type, env.sender
        entry.thread, entry.kid = env.thread, env.sig.kid if env.sig else None
        entry.recipients = env.recipients
        entry.header = dict(env.header) or None
        entry.handling = dict(env.handling)
        return decision

    def _decide(self, d: _Decision, now: datetime, seen: dict, spent: dict[str, _Decision]) -> None:
        env, entry = d.envelope, d.entry
        assert env is not None
        try:
            node = self.directory.by_broker_user(d.message.user_id or "")
            if node is None or node.node_id != env.sender:
                raise ProtocolError("sender_mismatch",
                                    f"broker user {d.message.user_id!r} may not send as {env.sender}")
            verified = verify_envelope(env, self.federation.trust, now)
            entry.digest = verified.digest
            if env.expires_at <= now:
                raise ProtocolError("expired", f"expired at {env.expires}")
            if env.created_at > now + self.config.max_clock_skew:
                raise ProtocolError("clock_skew", f"created {env.created} is in the future")
            previous = seen.get(env.id)
            if previous is not None or env.id in spent:
                # The same signed bytes again (same digest, hence same sender, who passed the broker
                # user check above) are a re-send of the audited entry, not a replay: a redelivery
                # after the hub's own crash, a node's publish retried after a confirm timed out, or
                # the sender's delivery assurance re-sending an unreceipted message. Forward it again
                # under the entry already in the log; only a different message under a known id is a
                # replay. (docs/security.md, "Delivery assurance")
                # A re-send of a message refused before is settled: its sender was told once.
                first = spent.get(env.id)
                if previous is not None and previous.digest == verified.digest:
                    d.reforward, entry.seq = True, previous.seq
                    if previous.verdict != ACCEPTED:  # refused once already (and its sender told): settled
                        entry.verdict, entry.reason = previous.verdict, "settled"
                        return
                    entry.verdict = ACCEPTED
                    d.recipients = self._recipients(env)
                    return
                if (first is not None and first.entry.digest == verified.digest
                        and first.entry.verdict == ACCEPTED):  # twice in one batch: share the first's entry
                    d.reforward, d.entry = True, first.entry
                    d.recipients = first.recipients
                    return
                raise ProtocolError("replay", f"message id {env.id} was already received")
            spent[env.id] = d
            entry.marks_seen = True
            d.recipients = self._recipients(env)
            if env.body is not None:
                body = wire.decode_body(env)
                policy.check_body(env, body)
                if env.type == "witness.cosign":
                    d.cosignature = self._check_cosignature(env.sender, body)
        except (ProtocolError, CryptoError) as exc:
            self._reject(d, exc.reason, getattr(exc, "detail", "") or str(exc))
            return
        entry.verdict, entry.recipients = ACCEPTED, d.recipients or env.recipients

    def _check_cosignature(self, witness: str, body: dict) -> tuple:
        """A cosignature to store, checked at a cost independent of how many others the checkpoint has."""
        note = self.store.signed_checkpoint(body["size"])
        revoked = self.federation.revocations.revoked  # a revoked witness is neither required nor counted
        if note is None:
            raise ProtocolError("bad_cosignature", f"the hub signed no checkpoint of size {body['size']}")
        try:
            signature = parse_note(note.body + b"\n" + body["signature"].encode() + b"\n").signatures[0]
            # The witness's key that made it: any of its keys valid now (a rotation's overlap has two).
            keys = [NoteVerifier(witness, k, cosigner=True)
                    for k in self.federation.trust.valid_keys(witness, utcnow())]
            verifier = next((k for k in keys if k.key_id == signature.key_id), None)
            if verifier is None:
                raise ProtocolError("bad_cosignature", f"cosigned by {signature.name}+{signature.key_id.hex()}, "
                                                       f"which is no key of {witness} valid now")
            timestamp = verify_cosignature(note.body, signature, verifier)
        except (CheckpointError, NoteError) as exc:
            raise ProtocolError("bad_cosignature", str(exc)) from None
        try:
            rank = admit_cosignature(self.directory, witness, timestamp, self.store.latest_cosignature_time(witness),
                                     revoked)
        except WitnessError as exc:
            raise ProtocolError(exc.reason, exc.detail) from None
        return (body["size"], witness, signature, timestamp, rank, required_quorum(self.directory, revoked=revoked))

    # -- checkpoints ----------------------------------------------------------------------------

    async def _checkpoints(self) -> None:
        """Sign a checkpoint every `checkpoint_interval` while messages arrive (sooner after
        `checkpoint_every` entries). Witness cosignatures are entries too, but growth made of them
        alone waits `idle_checkpoint_interval`: otherwise each checkpoint's cosignatures would call
        for the next one, and an idle federation's log would grow forever."""
        last_size = -1
        last_time = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.2)
            grown = self.store.size - max(last_size, 0)
            elapsed = loop.time() - last_time
            if self._messages_since_checkpoint:
                due = elapsed >= self.config.checkpoint_interval or grown >= self.config.checkpoint_every
            else:
                due = elapsed >= self.config.idle_checkpoint_interval
            if self.store.size in (0, last_size) or not due:
                continue
            covered = self._messages_since_checkpoint
            try:
                await self.publish_checkpoint()
                self._messages_since_checkpoint -= covered
                last_size, last_time = self.store.size, loop.time()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checkpoint failed; will try again")
                await asyncio.sleep(1)

    async def publish_checkpoint(self) -> SignedNote | None:
        """Sign a checkpoint of the log as it is now and send it to every witness."""
        async with self._log_lock:
            note = await asyncio.to_thread(self.store.sign_checkpoint, format_time(utcnow()))
            if note is None:
                return None
            size = self.store.size
            # Proofs from recent checkpoints and from each witness's last cosigned size, so every
            # witness can check this checkpoint against its own record.
            recent = (await asyncio.to_thread(self.store.checkpoint_sizes, size))[-6:-1]
            witnessed = (await asyncio.to_thread(self.store.witnessed_sizes)).values()
            earlier = sorted({m for m in (*recent, *witnessed) if m < size})[-16:]
            proofs = [{"from": m, "hashes": [base64.b64encode(h).decode() for h in
                                              await asyncio.to_thread(self.store.consistency_proof, m, size)]}
                      for m in earlier]
        try:
            await self._open_publisher()
        except ConnectionError:
            return note  # stored; witnesses get the next one
        env = sign_envelope(wire.build(
            message_id=new_message_id(), type="hub.checkpoint", sender=policy.HUB_ID, recipients=["*"],
            created=utcnow(), ttl=timedelta(days=7), body={"note": format_note(note).decode(), "proofs": proofs},
        ), self._creds.signing_key)
        raw = wire.encode(env)
        full = await self._forward([_Copies(-1, tuple(self.directory.node_ids()), env.id, raw, {})])
        for forward in full:  # a full inbox: that witness checks the next one
            log.warning("checkpoint not sent: inbox full", node=forward.to, size=size)
        root = base64.b64decode(note.body.split(b"\n")[2])
        log.info("checkpoint published", size=size, root=root.hex())  # hex, as in /api/health and the witnesses' logs
        return note

    def _recipients(self, env: Envelope) -> tuple[str, ...]:
        node = self.directory.node(env.sender)
        return policy.resolve_recipients(env, allowed_types=node.allowed_types,
                                         countries=self.directory.node_ids())

    def _reject(self, d: _Decision, reason: str, detail: str, to: str | None = None) -> None:
        entry = d.entry
        entry.verdict, entry.reason, entry.detail = REJECTED, reason, detail[:2000]
        entry.recipients = ()
        node = self.directory.node(to) if to is not None else self.directory.by_broker_user(d.message.user_id or "")
        if node is None:
            return  # nobody authenticated to answer (cannot happen with broker-validated user_id)
        now = utcnow()
        rejection = sign_envelope(wire.build(
            message_id=new_message_id(), type="hub.rejection", sender=policy.HUB_ID,
            recipients=[node.node_id], created=now, ttl=timedelta(days=7), reply_to=_uuid_or_none(entry.message_id),
            body={"reason": reason, "detail": detail[:2000], "at": format_time(now),
                  "of": _uuid_or_none(entry.message_id), "of_type": (entry.type or "")[:64] or None},
        ), self._creds.signing_key)
        d.rejection, d.rejection_to = rejection, node.node_id
        d.rejection_entry = AuditEntry(
            verdict=ISSUED, digest=rejection.digest(), received_at=rejection.created,
            message_id=rejection.id, type=rejection.type, sender=policy.HUB_ID,
            recipients=(node.node_id,), kid=rejection.sig.kid if rejection.sig else None,
            reason=reason, marks_seen=True,
        )

    def _prepare_forwards(self, d: _Decision, received_at: str) -> None:
        if d.entry.verdict == ACCEPTED and d.envelope is not None:
            receipt = self._log_receipt(d.entry, d.envelope.id, received_at)
            d.forwards.append(_Copies(d.entry.seq, tuple(d.recipients), d.envelope.id, d.message.body,
                                      {LOG_HEADER: receipt}))
        if d.rejection is not None and d.rejection_entry is not None and d.rejection_to is not None:
            r = d.rejection
            receipt = self._log_receipt(d.rejection_entry, r.id, r.created)
            d.forwards.append(_Forward(d.rejection_entry.seq, d.rejection_to, r.id, wire.encode(r),
                                       {LOG_HEADER: receipt}))

    async def _forward(self, forwards: list[_Forward | _Copies]) -> list[_Forward]:
        """Publish with confirms; return what a full inbox refused. Any other failure raises (the
        batch is redelivered).

        The recipients of one message go out as ONE publish (BCC: the broker makes the copies),
        except those with forwards parked or an inbox not seen to exist, which get a publish of
        their own. A full inbox among the BCC recipients nacks the whole publish while the others
        keep their copy, and nobody can tell which refused: that message alone is then published
        to each of its recipients separately; a recipient that has it already drops the copy by its
        id (exactly-once effect), the full one refuses it again and it is parked.
        """
        publisher = await self._open_publisher()
        plan = plan_publishes(forwards, self.routable_inboxes - self._parked_recipients)
        results = await publisher.publish_many([_outgoing(publish) for publish in plan])
        refused, singly = [], []
        for publish, result in zip(plan, results):
            if isinstance(result, PublishNacked) and publish.bcc:
                singly += publish.each()
            elif isinstance(result, PublishNacked):
                refused.append(publish.first)
            elif result is not None:
                raise result
        if singly:
            log.warning("a fanned-out message was refused by a full inbox: publishing it to each recipient",
                        messages=len({f.message_id for f in singly}), recipients=len(singly))
            for forward, result in zip(singly, await publisher.publish_many([_outgoing(_Publish(f)) for f in singly])):
                if isinstance(result, PublishNacked):
                    refused.append(forward)
                elif result is not None:
                    raise result
        if refused:  # the next publish asks the queues afresh (docs/broker.md: a nack may be stale)
            self._parked_recipients |= {f.to for f in refused}
            await publisher.renew()
        return refused

    def alarm_parked(self, parked: list[_Forward]) -> None:
        for recipient in sorted({f.to for f in parked}):
            action = f"bring {recipient}'s node back, or raise its inbox bounds; the hub delivers what is parked"
            self.alarms.raise_alarm(f"{INBOX_FULL}:{recipient}", INBOX_FULL,
                                    f"{recipient}'s inbox is full: forwards to it are parked at the hub; {action}",
                                    count=sum(1 for f in parked if f.to == recipient), node=recipient, action=action)

    # -- forwards parked while a recipient's inbox is full ---------------------------------------

    async def _retry_parked_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.parked_retry_interval)
            try:
                await self.retry_parked()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the broker may be away; parked rows wait
                log.warning("retrying parked forwards failed; will try again", error=str(exc))

    async def retry_parked(self) -> int:
        """Send parked forwards whose recipient has room again; return how many went out."""
        rows = await asyncio.to_thread(self.store.parked, 1000)
        if not rows:
            self._clear_parked_alarms(set())
            return 0
        forwards = {row.id: _Forward(row.seq, row.recipient, row.message_id, row.raw, json.loads(row.headers))
                    for row in rows}
        still_full = await self._forward(list(forwards.values()))
        refused = {id(f) for f in still_full}
        sent = [row_id for row_id, f in forwards.items() if id(f) not in refused]
        done = await asyncio.to_thread(self.store.unpark, sent)
        await asyncio.to_thread(self.store.mark_forwarded, done, format_time(utcnow()))
        self._clear_parked_alarms(set(await asyncio.to_thread(self.store.parked_counts)))
        if still_full:
            log.error("recipient inbox still full: forwards stay parked at the hub",
                      parked=await asyncio.to_thread(self.store.parked_counts),
                      action="bring the recipient's node back, or raise its inbox bounds")
        elif sent:
            log.info("parked forwards delivered", count=len(sent))
        return len(sent)

    def _clear_parked_alarms(self, still_parked: set[str]) -> None:
        self._parked_recipients = set(still_parked)
        for alarm in self.alarms.open():
            recipient = alarm.key.removeprefix(f"{INBOX_FULL}:")
            if alarm.key.startswith(f"{INBOX_FULL}:") and recipient not in still_parked:
                self.alarms.clear(alarm.key)
                log.warning("parked forwards delivered: inbox-full alarm cleared", node=recipient)

    def _log_receipt(self, entry: AuditEntry, message_id: str, at: str) -> str:
        receipt = LogReceipt(message_id, entry.seq, entry.leaf_hash.hex(), entry.digest, at,
                             kid=self._creds.signing_key.kid)
        sig = base64.b64encode(self._creds.signing_key.sign(receipt.signing_input())).decode()
        return replace(receipt, sig=sig).to_header()

    def _log(self, d: _Decision) -> None:
        e = d.entry
        bound = log.bind(message_id=e.message_id, thread=e.thread, seq=e.seq, sender=e.sender, type=e.type)
        if e.verdict == ACCEPTED:
            bound.info("redelivered message forwarded again" if d.reforward else "message relayed",
                       recipients=list(d.recipients))
        elif d.reforward:
            bound.info("redelivered message was refused already; nothing more to do")
        else:
            bound.warning("message rejected", reason=e.reason, detail=e.detail,
                          broker_user=e.broker_user)

    # -- dead letters and unroutable messages: audited, never silent ----------------------------

    def _make_watcher(self, verdict: str):  # noqa: ANN202
        async def watch(message: AbstractIncomingMessage) -> None:
            delay = amqp.RETRY_FIRST_DELAY
            while True:  # held, never nacked: a requeue loop only fills the log with failures
                try:
                    await self._keep_dead_letter(message, verdict)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - storage trouble: retried, alarmed
                    action = "free disk space or bring the database back; dead letters wait in their queue"
                    if self.alarms.raise_alarm(amqp.STORAGE_ALARM, "storage_unavailable",
                                               f"{str(exc)[:500]}; {action}", action=action):
                        log.error("ALARM: could not keep and audit a dead letter; holding it and retrying",
                                  verdict=verdict, error=str(exc)[:500], message_id=message.message_id)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, amqp.RETRY_MAX_DELAY)
            if self.alarms.clear(amqp.STORAGE_ALARM):
                log.warning("dead letters are kept and audited again: alarm cleared")
            await message.ack()

        return watch

    async def _keep_dead_letter(self, message: AbstractIncomingMessage, verdict: str) -> None:
        """Audit a dead letter with what can be read of it, keep its bytes, tell its sender."""
        names = wire.read_names(message.body)
        at = format_time(utcnow())
        entry = AuditEntry(
            verdict=verdict, digest=hashlib.sha256(message.body).hexdigest(), received_at=at,
            message_id=names["id"], type=names["type"], sender=names["sender"], thread=names["thread"],
            broker_user=message.user_id, reason=verdict, detail=_death_summary(message),
        )
        d = _Decision(message, entry)
        sender = self._dead_letter_sender(message, names)
        if sender is not None:
            self._reject(d, verdict, f"the broker could not deliver this message ({entry.detail}); the hub "
                                     "keeps it and an operator can put it back (somex hub requeue-dead)",
                         to=sender)
        entry.verdict, entry.reason, entry.detail = verdict, verdict, _death_summary(message)  # not "rejected"
        kept = {"message_id": names["id"], "broker_user": message.user_id, "queue": _death_queue(message),
                "routing_key": message.routing_key, "raw": message.body,
                "headers": json.dumps(_plain_headers(message.headers)), "kept_at": at}
        async with self._log_lock:
            await asyncio.to_thread(self.store.append, [e for e in (entry, d.rejection_entry) if e], kept)
        self._messages_since_checkpoint += 1
        log.error("message could not be delivered: kept at the hub and audited", verdict=verdict,
                  message_id=entry.message_id, type=entry.type, sender=entry.sender, thread=entry.thread,
                  seq=entry.seq, detail=entry.detail, told=sender,
                  action="fix the cause, then `somex hub requeue-dead` puts it back")
        self._prepare_forwards(d, at)
        if d.forwards:
            try:
                parked = await self._forward(d.forwards)
                done = {f.seq for f in d.forwards} - {f.seq for f in parked}
                await asyncio.to_thread(self.store.mark_forwarded, done, format_time(utcnow()))
            except Exception as exc:  # noqa: BLE001 - kept and audited already; the answer is best effort
                log.warning("could not tell the sender about its dead letter", error=str(exc), told=sender,
                            message_id=entry.message_id)

    def _dead_letter_sender(self, message: AbstractIncomingMessage, names: dict) -> str | None:
        """Whom to tell: the authenticated broker user's node; for a message the hub forwarded (it
        died in an inbox), the envelope's sender if the log accepted that very message."""
        node = self.directory.by_broker_user(message.user_id or "")
        if node is not None and node.node_id != policy.HUB_ID:
            return node.node_id
        if names["id"] is None or names["sender"] in (None, policy.HUB_ID):
            return None
        seen = self.store.seen([names["id"]]).get(names["id"])
        if seen is None or seen.verdict != ACCEPTED or names["sender"] not in self.directory.node_ids():
            return None
        return names["sender"]

    # -- putting dead letters back ---------------------------------------------------------------

    async def _requeue_dead_forever(self) -> None:
        while True:
            await asyncio.sleep(min(self.config.parked_retry_interval, 1.0))
            try:
                await self.requeue_dead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - storage or broker away: the request waits
                log.warning("putting dead letters back failed; will try again", error=str(exc))

    async def requeue_dead(self) -> int:
        """Put back the dead letters an operator asked for (`somex hub requeue-dead`): one that died
        in hub.in is processed again as a redelivery (a new decision, or a re-forward of its entry);
        one that died in an inbox is forwarded again with its log receipt."""
        rows = await asyncio.to_thread(self.store.requeue_requested)
        for row in rows:
            if (row.queue or "").startswith("node."):
                headers = {k: v for k, v in json.loads(row.headers).items() if k == LOG_HEADER}
                recipient = row.queue.split(".")[1]
                await self._forward([_Forward(row.seq, recipient, row.message_id or "", row.raw, headers)])
            else:
                delivery = _KeptDelivery(row.raw, row.broker_user, row.message_id or "")
                await amqp.settle_batch([delivery], self._process, self._refuse_alone, log, self.alarms)
            await asyncio.to_thread(self.store.mark_requeued, row.id, format_time(utcnow()))
            log.warning("dead letter put back", dead_letter=row.id, message_id=row.message_id, queue=row.queue)
        return len(rows)

INBOX_FULL = "inbox_full"  # alarm: a recipient's inbox refuses forwards, which wait parked at the hub


def plan_publishes(forwards: list[_Forward | _Copies], fan_out_to: set[str]) -> list[_Publish]:
    """The publishes for `forwards`, in order: the copies of one message to recipients in
    `fan_out_to` make one publish (the broker copies it); every other copy is a publish alone."""
    plan: list[_Publish] = []
    for forward in forwards:
        if isinstance(forward, _Forward):
            plan.append(_Publish(forward))
            continue
        fanned = [to for to in forward.recipients if to in fan_out_to]
        if len(fanned) > 1:
            first = _Forward(forward.seq, fanned[0], forward.message_id, forward.body, forward.headers)
            plan.append(_Publish(first, tuple(fanned[1:])))
            alone = [to for to in forward.recipients if to not in fan_out_to]
        else:
            alone = forward.recipients
        plan.extend(_Publish(f) for f in forward.each(alone))
    return plan


def _outgoing(publish: _Publish) -> Outgoing:
    f = publish.first
    return Outgoing(f.body, f.to, f.message_id, f.headers, bcc=publish.bcc)


async def existing_inboxes(connection: AbstractConnection, node_ids) -> set[str]:  # noqa: ANN001
    """The nodes among `node_ids` whose inbox queue exists (a passive declare; a missing queue
    closes the channel, so a new one is opened after each)."""
    found: set[str] = set()
    channel = None
    for node_id in node_ids:
        try:
            if channel is None or channel.is_closed:
                channel = await connection.channel()
            await channel.declare_queue(broker_config.inbox_queue(node_id), passive=True)
            found.add(node_id)
        except Exception as exc:  # noqa: BLE001 - NOT_FOUND: that node's publishes go alone, via the AE
            log.warning("inbox missing in the broker: forwards to it are published alone", node=node_id,
                        error=str(exc)[:200], action="apply the federation's broker definitions (somex broker up)")
            channel = None
    if channel is not None:
        await channel.close()
    return found


def kid_of_cert(cert) -> str:  # noqa: ANN001
    return kid_of(cert.public_key())


def _uuid_or_none(value: str | None) -> str | None:
    from protocol.ids import is_uuid7

    return value if value and is_uuid7(value) else None


class _OpenChannel:
    is_closed = False


@dataclass
class _KeptDelivery:
    """A kept dead letter handed to the pipeline as a redelivery from hub.in (acks are no-ops)."""
    body: bytes
    user_id: str | None
    message_id: str
    headers: dict = field(default_factory=dict)
    redelivered: bool = True
    channel: _OpenChannel = field(default_factory=lambda: _OpenChannel())
    routing_key: str = ""

    async def ack(self, multiple: bool = False) -> None:
        return None

    async def reject(self, requeue: bool = False) -> None:
        raise RuntimeError("a put-back dead letter failed again; it stays kept")


def _death_queue(message: AbstractIncomingMessage) -> str | None:
    deaths = (message.headers or {}).get("x-death") or []
    first = deaths[0] if isinstance(deaths, list) and deaths else None
    queue = first.get("queue") if isinstance(first, dict) else None
    return queue.decode() if isinstance(queue, bytes) else queue


def _plain_headers(headers: object) -> dict:
    """Headers as JSON can hold them (the log receipt is a string; x-death is summarised elsewhere)."""
    plain = {}
    for key, value in (headers or {}).items() if isinstance(headers, dict) else ():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, (str, int, float, bool)) or value is None:
            plain[str(key)] = value
    return plain


def _death_summary(message: AbstractIncomingMessage) -> str:
    deaths = (message.headers or {}).get("x-death") or []
    parts = []
    for death in deaths if isinstance(deaths, list) else []:
        if isinstance(death, dict):
            parts.append(f"{death.get('queue')}: {death.get('reason')} x{death.get('count')}")
    return "; ".join(parts) or f"routing key {message.routing_key!r} on {message.exchange!r}"


__all__ = ["Hub", "log_origin"]
