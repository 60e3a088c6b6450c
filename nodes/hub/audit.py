"""The hub's audit log: an append-only Merkle log (RFC 6962) of every message decision.

Each entry's leaf is the RFC 8785 canonical JSON of its metadata, sequence number included;
appends are group commits of entries, their new tree nodes and spent message ids in one
transaction. Checkpoints (signed notes) are stored with the witnesses' cosignatures, pruned to
what the newest quorum checkpoint and the ones after it need. Forward
completion is recorded apart from the entries, so that entries are never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import DecodeError

from protocol.canonical import canonical_json
from sqlalchemy import (
    BigInteger, Column, Connection, Engine, Index, Integer, LargeBinary, MetaData, String, Table, Text, bindparam,
    func, insert, select, text, update,
)

from crypto.keys import SigningKey
from crypto.merkle import CompactRange, consistency_proof, inclusion_proof, leaf_hash
from crypto.note import sign_note
from crypto.witness_policy import MAX_SERVED_COSIGNATURES
from protocol.checkpoint import Checkpoint, NoteSignature, SignedNote, format_note, parse_note

metadata = MetaData()

entries = Table(
    "audit_entries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),  # canonical JSON: what the tree commits to
    # Copies of leaf members for queries (the leaf is authoritative):
    Column("message_id", String(36), index=True),
    Column("type", String(64), index=True),
    Column("sender", String(8), index=True),
    Column("recipients", Text, nullable=False),
    Column("thread", String(128), index=True),
    Column("verdict", String(16), nullable=False, index=True),
    Column("received_at", String(32), nullable=False, index=True),
)
# A perfect subtree (level, index) is stored under one integer key, level·2^40 + index, so that a
# proof's batch lookup is a plain primary-key IN (SQLite scans for row-value IN lists).
NODE_KEY_SHIFT = 40
tree_nodes = Table(
    "merkle_nodes", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)


def node_key(level: int, index: int) -> int:
    return level << NODE_KEY_SHIFT | index
seen = Table(
    "seen_messages", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
)
forwarded = Table(
    "forwarded", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
)
# Forwards the broker refused because the recipient's inbox was full: kept here, retried, alarmed.
parked_forwards = Table(
    "parked_forwards", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False, index=True),
    Column("recipient", String(8), nullable=False, index=True),
    Column("message_id", String(36), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("parked_at", String(32), nullable=False),
)
# Whatever the broker dead-lettered or could not route: kept with its bytes, until put back
# (`somex hub requeue-dead`, audited `requeued`); docs/audit-log.md, "Dead letters".
dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False, index=True),  # its dead_lettered / unroutable entry
    Column("message_id", String(36)),
    Column("broker_user", String(128)),
    Column("queue", String(255)),  # where it died (x-death), e.g. hub.in or node.IDN.inbox
    Column("routing_key", String(255)),
    Column("raw", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),  # JSON: what the hub can replay (its log receipt)
    Column("kept_at", String(32), nullable=False),
    Column("requested_at", String(32)),  # requeue asked for (the running hub puts it back)
    Column("requeued_at", String(32)),
)
checkpoints = Table(
    "checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the hub-signed note
    Column("at", String(32), nullable=False),
)
# Cosignatures of the checkpoints still waiting for their quorum and of the newest one that has it;
# older ones are pruned (the newest quorum checkpoint vouches for every earlier one through the
# consistency proofs a bundle carries). `rank` is the witness's place in the policy order: a served
# checkpoint carries the first MAX_SERVED_COSIGNATURES by rank.
cosignatures = Table(
    "checkpoint_cosignatures", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("witness", String(8), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("line", Text, nullable=False),  # the note signature line
    Column("timestamp", BigInteger, nullable=False),
    Index("checkpoint_cosignatures_by_rank", "size", "rank"),
)
# How many witnesses cosigned each checkpoint in `cosignatures`: the quorum is found by key, not by count.
cosigned_checkpoints = Table(
    "cosigned_checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("cosigners", Integer, nullable=False),
)
# Each witness's newest cosignature, kept whatever is pruned: one row per witness.
witness_latest = Table(
    "witness_latest", metadata,
    Column("witness", String(8), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)
_CHECKPOINT_CACHE = 8  # hub-signed notes kept in memory: witnesses cosign the newest few

# PostgreSQL advisory lock held by whichever hub is appending: an active hub and its standby (or
# the dead-letter watchers of both) never interleave appends (docs/audit-log.md, "Standby hub").
LOG_WRITE_LOCK = 0x736F6D6578  # "somex"

ACCEPTED, REJECTED, ISSUED, DEAD_LETTERED, UNROUTABLE, REQUEUED = (
    "accepted", "rejected", "issued", "dead_lettered", "unroutable", "requeued",
)
LEAF_FIELDS = ("seq", "message_id", "type", "sender", "broker_user", "recipients", "thread", "digest", "kid",
               "verdict", "reason", "detail", "received_at", "header", "handling")


@dataclass
class AuditEntry:
    verdict: str
    digest: str  # Envelope.digest() when decodable, else SHA-256 of the raw bytes
    received_at: str
    message_id: str | None = None
    type: str | None = None
    sender: str | None = None
    broker_user: str | None = None
    recipients: Sequence[str] = ()
    thread: str | None = None
    kid: str | None = None
    reason: str | None = None
    detail: str | None = None
    header: dict[str, Any] | None = None  # the envelope's header: what auditors may see (e.g. MLA status)
    handling: dict[str, Any] | None = None  # the envelope's handling code and condition, as the sender declared
    marks_seen: bool = False  # an authentic message whose id is now spent
    seq: int = field(default=-1)
    leaf_hash: bytes = b""

    def leaf(self) -> bytes:
        """The canonical JSON the tree commits to. It can always be written: strings with lone
        surrogates (which JSON allows and RFC 8785 refuses, so only a message the hub rejects can
        carry them) are recorded with U+FFFD in their place; the raw message's digest is kept."""
        content = {
            "seq": self.seq, "message_id": self.message_id, "type": self.type, "sender": self.sender,
            "broker_user": self.broker_user, "recipients": list(self.recipients), "thread": self.thread,
            "digest": self.digest, "kid": self.kid, "verdict": self.verdict, "reason": self.reason,
            "detail": self.detail, "received_at": self.received_at, "header": self.header,
            "handling": self.handling,
        }
        try:
            return canonical_json(content)
        except DecodeError:  # protocol.canonical refuses lone surrogates this way
            return canonical_json(_without_lone_surrogates(content))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_lone_surrogates(v) for v in value]
    return value


@dataclass(frozen=True)
class SeenMessage:
    seq: int
    digest: str
    verdict: str = "accepted"  # of the entry that spent the id: only an accepted one is forwarded again


def decode_leaf(leaf: bytes) -> dict[str, Any]:
    return json.loads(leaf)


class _DbNodes:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        if not ids:
            return []
        keys = [node_key(level, index) for level, index in ids]
        found: dict[int, bytes] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(keys), 500):
                rows = conn.execute(select(tree_nodes.c.id, tree_nodes.c.hash)
                                    .where(tree_nodes.c.id.in_(keys[start:start + 500])))
                found.update({r.id: r.hash for r in rows})
        missing = [i for i, k in zip(ids, keys) if k not in found]
        if missing:
            raise LookupError(f"audit log is missing tree nodes {missing[:4]}: the store was damaged")
        return [found[k] for k in keys]

    def leaf_range(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes start..end-1 (level 0 keys are the indexes themselves)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(tree_nodes.c.id, tree_nodes.c.hash).where(
                (tree_nodes.c.id >= start) & (tree_nodes.c.id < end)).order_by(tree_nodes.c.id)).all()
        if len(rows) != end - start:
            raise LookupError(f"audit log is missing leaf hashes in [{start}, {end}): the store was damaged")
        return [r.hash for r in rows]


class AuditStore:
    """Synchronous: the hub calls it from one worker at a time, so appends are strictly ordered."""

    def __init__(self, engine: Engine, origin: str = "somex audit log", signer: SigningKey | None = None,
                 key_name: str = "somex-hub") -> None:
        self._engine = engine
        self.origin, self._signer, self.key_name = origin, signer, key_name
        metadata.create_all(engine)
        self.nodes = _DbNodes(engine)
        with engine.connect() as conn:
            last = conn.execute(select(entries.c.seq).order_by(entries.c.seq.desc()).limit(1)).scalar()
        self._range = CompactRange.resume(0 if last is None else last + 1, self.nodes)
        self._signed_notes: dict[int, SignedNote] = {}  # size -> the hub-signed note (immutable once stored)
        self._latest: dict[str, tuple[int, int]] | None = None  # see _witness_latest

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def seen(self, message_ids: Iterable[str]) -> dict[str, SeenMessage]:
        ids = list(set(message_ids))
        if not ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(seen.c.message_id, seen.c.seq, seen.c.digest, entries.c.verdict)
                                .join(entries, entries.c.seq == seen.c.seq)
                                .where(seen.c.message_id.in_(ids))).all()
        return {r.message_id: SeenMessage(r.seq, r.digest, r.verdict) for r in rows}

    def append(self, batch: Sequence[AuditEntry], dead_letter: dict[str, Any] | None = None) -> None:
        """Assign sequence numbers and commit entries, tree nodes and spent ids durably, or nothing.

        `dead_letter`: a dead_letters row kept in the same transaction, for the first entry."""
        if not batch:  # e.g. a batch of redeliveries that are all in the log already
            return
        with self._engine.begin() as conn:
            self._append(conn, batch)
            if dead_letter is not None:
                conn.execute(insert(dead_letters), {**dead_letter, "seq": batch[0].seq})
        self._range = self._tentative

    def _append(self, conn: Connection, batch: Sequence[AuditEntry]) -> None:
        self._lock_and_catch_up(conn)
        tentative = CompactRange(self._range.size, list(self._range._stack))
        entry_rows, node_rows = [], []
        for entry in batch:
            entry.seq = tentative.size
            leaf = entry.leaf()
            entry.leaf_hash = leaf_hash(leaf)
            node_rows += [{"id": node_key(lv, ix), "hash": h} for lv, ix, h in tentative.append(entry.leaf_hash)]
            # Copies of leaf members for queries, as the leaf holds them (lone surrogates replaced).
            entry_rows.append({"seq": entry.seq, "leaf": leaf, **_without_lone_surrogates({
                "message_id": entry.message_id, "type": entry.type,
                "sender": entry.sender, "recipients": json.dumps(list(entry.recipients)),
                "thread": entry.thread, "verdict": entry.verdict, "received_at": entry.received_at,
            })})
        seen_rows = [{"message_id": e.message_id, "seq": e.seq, "digest": e.digest} for e in batch if e.marks_seen]
        conn.execute(insert(entries), entry_rows)
        conn.execute(insert(tree_nodes), node_rows)
        if seen_rows:
            conn.execute(insert(seen), seen_rows)
        self._tentative = tentative

    # -- dead letters ---------------------------------------------------------------------------

    def dead_letters(self, *, pending_only: bool = False) -> list[Any]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if pending_only:
            query = query.where(dead_letters.c.requeued_at.is_(None))
        with self._engine.connect() as conn:
            return conn.execute(query).all()

    def request_requeue(self, ids: Sequence[int] | None, at: str, by: str) -> list[int]:
        """Ask for kept dead letters (all not yet put back, or `ids`) to be put back; each request is
        audited (`requeued`) in the same transaction. Returns the ids asked for."""
        with self._engine.begin() as conn:
            query = select(dead_letters).where(dead_letters.c.requeued_at.is_(None)
                                               & dead_letters.c.requested_at.is_(None))
            if ids is not None:
                query = query.where(dead_letters.c.id.in_(list(ids)))
            rows = conn.execute(query.order_by(dead_letters.c.id)).all()
            if not rows:
                return []
            batch = [AuditEntry(verdict=REQUEUED, digest=hashlib.sha256(r.raw).hexdigest(), received_at=at,
                                message_id=r.message_id, broker_user=by, reason="requeue_dead",
                                detail=f"dead letter #{r.id} (entry {r.seq}, from {r.queue}) put back by {by}")
                     for r in rows]
            self._append(conn, batch)
            conn.execute(update(dead_letters).where(dead_letters.c.id.in_([r.id for r in rows]))
                         .values(requested_at=at))
        self._range = self._tentative
        return [r.id for r in rows]

    def requeue_requested(self, limit: int = 100) -> list[Any]:
        with self._engine.connect() as conn:
            return conn.execute(select(dead_letters).where(dead_letters.c.requested_at.is_not(None)
                                                           & dead_letters.c.requeued_at.is_(None))
                                .order_by(dead_letters.c.id).limit(limit)).all()

    def mark_requeued(self, row_id: int, at: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(dead_letters).where(dead_letters.c.id == row_id).values(requeued_at=at))

    def _lock_and_catch_up(self, conn: Connection) -> None:
        """Hold the log's write lock for this transaction and resume from the stored head.

        Another hub process may have appended since this one last did (a standby that takes over
        after the active hub died, or the other hub's dead-letter watcher): the in-memory compact
        range must be the stored log's, or entries would be numbered twice.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_WRITE_LOCK})
        last = conn.execute(select(func.max(entries.c.seq))).scalar()
        stored = 0 if last is None else last + 1
        if stored != self._range.size:
            self._range = CompactRange.resume(stored, self.nodes)

    def mark_forwarded(self, seqs: Iterable[int], at: str) -> None:
        wanted = sorted(set(seqs))
        if not wanted:
            return
        with self._engine.begin() as conn:
            existing = set(conn.execute(select(forwarded.c.seq).where(forwarded.c.seq.in_(wanted))).scalars())
            fresh = [{"seq": s, "at": at} for s in wanted if s not in existing]
            if fresh:
                conn.execute(insert(forwarded), fresh)

    # -- forwards parked while a recipient's inbox is full --------------------------------------

    def park(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self._engine.begin() as conn:
                conn.execute(insert(parked_forwards), list(rows))

    def parked(self, limit: int) -> list[Any]:
        with self._engine.connect() as conn:
            return conn.execute(select(parked_forwards).order_by(parked_forwards.c.id).limit(limit)).all()

    def unpark(self, ids: Sequence[int]) -> list[int]:
        """Drop parked forwards that went out; return the entries with nothing parked any more."""
        if not ids:
            return []
        with self._engine.begin() as conn:
            seqs = set(conn.execute(select(parked_forwards.c.seq).where(parked_forwards.c.id.in_(ids))).scalars())
            conn.execute(parked_forwards.delete().where(parked_forwards.c.id.in_(ids)))
            still = set(conn.execute(select(parked_forwards.c.seq).where(parked_forwards.c.seq.in_(seqs))).scalars())
        return sorted(seqs - still)

    def parked_counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(parked_forwards.c.recipient, func.count())
                                .group_by(parked_forwards.c.recipient))
            return {recipient: count for recipient, count in rows}

    # -- checkpoints ----------------------------------------------------------------------------

    def sign_checkpoint(self, at: str) -> SignedNote | None:
        """Sign and store a checkpoint of the current tree, unless the last one has this size."""
        if self._signer is None:
            raise RuntimeError("this audit store has no signing key")
        with self._engine.begin() as conn:
            self._lock_and_catch_up(conn)
            latest = conn.execute(select(func.max(checkpoints.c.size))).scalar()
            size = self.size
            if latest is not None and latest >= size:  # never a checkpoint older than one already signed
                return None
            body = Checkpoint(self.origin, size, self.root()).body()
            note = SignedNote(body, (sign_note(body, self.key_name, self._signer),))
            conn.execute(insert(checkpoints), {"size": size, "root": self.root(),
                                               "note": format_note(note).decode(), "at": at})
        return note

    def latest_checkpoint(self) -> tuple[int, SignedNote] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)).first()
        return None if row is None else (row.size, self._with_cosignatures(row.size, row.note))

    def checkpoint(self, size: int) -> SignedNote | None:
        """The checkpoint as served: the hub's signature and the first cosignatures by policy order."""
        with self._engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.size == size)).first()
        return None if row is None else self._with_cosignatures(size, row.note)

    def signed_checkpoint(self, size: int) -> SignedNote | None:
        """The hub-signed note of checkpoint `size` without cosignatures: what a witness cosigns.
        One key lookup, cached: checking a cosignature must not read the others."""
        note = self._signed_notes.get(size)
        if note is None:
            with self._engine.connect() as conn:
                text_ = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).scalar()
            if text_ is None:
                return None
            note = parse_note(text_.encode())
            if len(self._signed_notes) >= _CHECKPOINT_CACHE:
                self._signed_notes.pop(min(self._signed_notes))
            self._signed_notes[size] = note
        return note

    def checkpoint_sizes(self, upto: int | None = None) -> list[int]:
        query = select(checkpoints.c.size).order_by(checkpoints.c.size)
        if upto is not None:
            query = query.where(checkpoints.c.size <= upto)
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _with_cosignatures(self, size: int, note_text: str) -> SignedNote:
        note = parse_note(note_text.encode())
        with self._engine.connect() as conn:
            lines = conn.execute(select(cosignatures.c.line).where(cosignatures.c.size == size)
                                 .order_by(cosignatures.c.rank, cosignatures.c.witness)
                                 .limit(MAX_SERVED_COSIGNATURES)).scalars().all()
        if not lines:
            return note
        block = "".join(lines).encode()
        served = parse_note(note.body + b"\n" + block).signatures
        return SignedNote(note.body, (*note.signatures, *served))

    def newest_cosigned(self, quorum: int, upto: int | None = None) -> int | None:
        """The size of the newest checkpoint (up to `upto`) that at least `quorum` witnesses cosigned."""
        if quorum <= 0:
            sizes = self.checkpoint_sizes(upto)
            return sizes[-1] if sizes else None
        query = (select(cosigned_checkpoints.c.size).where(cosigned_checkpoints.c.cosigners >= quorum)
                 .order_by(cosigned_checkpoints.c.size.desc()).limit(1))
        if upto is not None:
            query = query.where(cosigned_checkpoints.c.size <= upto)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def witnessed_sizes(self) -> dict[str, int]:
        """The largest checkpoint size each witness has cosigned (one row per witness)."""
        with self._engine.connect() as conn:
            return dict(conn.execute(select(witness_latest.c.witness, witness_latest.c.size)).all())

    def latest_cosignature_time(self, witness: str) -> int | None:
        """The time of `witness`'s newest stored cosignature (its own clock), from memory after the
        first call: the hub checks it for every cosignature."""
        latest = self._witness_latest().get(witness)
        return None if latest is None else latest[1]

    def _witness_latest(self) -> dict[str, tuple[int, int]]:
        """witness -> (size, time) of its newest stored cosignature; read once (N rows), then kept
        in step by add_cosignature. Only the active hub stores cosignatures (single active consumer)."""
        if self._latest is None:
            with self._engine.connect() as conn:
                rows = conn.execute(select(witness_latest.c.witness, witness_latest.c.size,
                                           witness_latest.c.timestamp)).all()
            self._latest = {r.witness: (r.size, r.timestamp) for r in rows}
        return self._latest

    def add_cosignature(self, size: int, witness: str, signature: NoteSignature, timestamp: int, rank: int = 0,
                        quorum: int | None = None) -> None:
        self.add_cosignatures([(size, witness, signature, timestamp, rank, quorum)])

    def add_cosignatures(self, batch: Sequence[tuple]) -> None:
        """Store verified cosignatures, (size, witness, signature, time, rank, quorum) each, in one
        transaction of a few statements whatever the batch or the number of witnesses: no scan.

        A checkpoint that reaches its quorum prunes the cosignatures of every older checkpoint
        (each witness's newest stays in `witness_latest`). A cosignature stored already is skipped.
        """
        latest = self._witness_latest()
        fresh: dict[tuple[int, str], dict[str, Any]] = {}
        quorums: dict[int, int] = {}
        for size, witness, signature, timestamp, rank, *rest in batch:
            fresh.setdefault((size, witness), {"size": size, "witness": witness, "rank": rank,
                                               "line": signature.line(), "timestamp": timestamp})
            if rest and rest[0]:
                quorums[size] = rest[0]
        if not fresh:
            return
        sizes, witnesses = {k[0] for k in fresh}, {k[1] for k in fresh}
        with self._engine.begin() as conn:
            stored = conn.execute(select(cosignatures.c.size, cosignatures.c.witness).where(
                cosignatures.c.size.in_(sizes) & cosignatures.c.witness.in_(witnesses))).all()
            for key in stored:
                fresh.pop(tuple(key), None)
            if not fresh:
                return
            rows = list(fresh.values())
            conn.execute(insert(cosignatures), rows)
            added: dict[int, int] = {}
            for row in rows:
                added[row["size"]] = added.get(row["size"], 0) + 1
            counts = dict(conn.execute(select(cosigned_checkpoints.c.size, cosigned_checkpoints.c.cosigners)
                                       .where(cosigned_checkpoints.c.size.in_(added))).all())
            for size, n in added.items():
                if size in counts:
                    conn.execute(cosigned_checkpoints.update().where(cosigned_checkpoints.c.size == size)
                                 .values(cosigners=cosigned_checkpoints.c.cosigners + n))
                else:
                    conn.execute(insert(cosigned_checkpoints), {"size": size, "cosigners": n})
                counts[size] = counts.get(size, 0) + n
            newest: dict[str, dict[str, Any]] = {}
            for row in rows:
                if row["witness"] not in newest or newest[row["witness"]]["size"] < row["size"]:
                    newest[row["witness"]] = row
            moved = [r for w, r in newest.items() if w in latest and latest[w][0] < r["size"]]
            if moved:
                conn.execute(witness_latest.update().where(witness_latest.c.witness == bindparam("w"))
                             .where(witness_latest.c.size < bindparam("s"))
                             .values(size=bindparam("s"), line=bindparam("l"), timestamp=bindparam("t")),
                             [{"w": r["witness"], "s": r["size"], "l": r["line"], "t": r["timestamp"]} for r in moved])
            first = [{k: r[k] for k in ("witness", "size", "line", "timestamp")}
                     for w, r in newest.items() if w not in latest]
            if first:
                conn.execute(insert(witness_latest), first)
            witnessed = [size for size, quorum in quorums.items() if counts.get(size, 0) >= quorum]
            if witnessed:
                conn.execute(cosignatures.delete().where(cosignatures.c.size < max(witnessed)))
                conn.execute(cosigned_checkpoints.delete().where(cosigned_checkpoints.c.size < max(witnessed)))
        for witness, row in newest.items():
            if witness not in latest or latest[witness][0] < row["size"]:
                latest[witness] = (row["size"], row["timestamp"])

    def stored_cosignatures(self) -> int:
        """Rows of cosignatures held for checkpoints (bounded by pruning; for tests and benchmarks)."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(cosignatures)).scalar() or 0

    # -- proofs and reads -----------------------------------------------------------------------

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.nodes)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.nodes)

    def leaf_hashes_of(self, seqs: Sequence[int]) -> dict[int, bytes]:
        wanted = sorted(set(seqs))
        return dict(zip(wanted, self.nodes.get_nodes([(0, s) for s in wanted])))

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self.nodes.leaf_range(start, end)

    def entry(self, seq: int) -> dict | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(entries.c.seq, entries.c.leaf).where(entries.c.seq == seq)).first()
        return None if row is None else {**decode_leaf(row.leaf), "leaf": row.leaf}

    def leaves(self, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
        query = select(entries.c.seq, entries.c.leaf).where(entries.c.seq >= start).order_by(entries.c.seq)
        if end is not None:
            query = query.where(entries.c.seq < end)
        with self._engine.connect() as conn:
            return [(r.seq, r.leaf) for r in conn.execute(query)]

    def trail(self, *, message_id: str | None = None, thread: str | None = None, sender: str | None = None,
              recipient: str | None = None, type: str | None = None, verdict: str | None = None,
              since: str | None = None, until: str | None = None, after: int = -1,
              limit: int = 1000) -> list[dict]:
        query = select(entries.c.seq, entries.c.leaf).where(entries.c.seq > after).order_by(entries.c.seq)
        for column, value in ((entries.c.message_id, message_id), (entries.c.thread, thread),
                              (entries.c.sender, sender), (entries.c.type, type), (entries.c.verdict, verdict)):
            if value:
                query = query.where(column == value)
        if recipient:
            query = query.where(entries.c.recipients.like(f'%"{recipient}"%'))
        if since:
            query = query.where(entries.c.received_at >= since)
        if until:
            query = query.where(entries.c.received_at < until)
        with self._engine.connect() as conn:
            return [decode_leaf(r.leaf) for r in conn.execute(query.limit(limit))]

    def hourly_volume(self, since: str) -> list[tuple[str, str, str, int]]:
        """(hour "YYYY-MM-DDTHH", sender, recipient, count) of accepted entries received since `since`."""
        hour = func.substr(entries.c.received_at, 1, 13)
        query = (select(hour, entries.c.sender, entries.c.recipients, func.count())
                 .where((entries.c.received_at >= since) & (entries.c.verdict == ACCEPTED))
                 .group_by(hour, entries.c.sender, entries.c.recipients))
        counts: dict[tuple[str, str, str], int] = {}
        with self._engine.connect() as conn:
            for at, sender, recipients, count in conn.execute(query):
                for recipient in json.loads(recipients):
                    key = (at, sender or "?", recipient)
                    counts[key] = counts.get(key, 0) + count
        return sorted((*key, count) for key, count in counts.items())
