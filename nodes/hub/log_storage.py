"""The audit log's storage: durable entries, tree nodes, checkpoints and cosignatures as stored,
read back for proofs, trails and exports; the bookkeeping rows beside them (forwards done,
forwards parked, dead letters kept). It assigns no sequence numbers (nodes/hub/sequencer.py) and
signs nothing (nodes/hub/checkpoints.py). `LogReader` is what the hub's web part may use.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Insert, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crypto.merkle import consistency_proof, inclusion_proof
from crypto.witness_policy import MAX_SERVED_COSIGNATURES
from nodes.hub.entry import ACCEPTED, SeenMessage, decode_leaf
from nodes.hub.log_tables import (
    checkpoints, cosignatures, cosigned_checkpoints, dead_letters, entries, forwarded, metadata, node_key,
    parked_forwards, seen, tree_nodes, witness_latest,
)
from protocol.checkpoint import SignedNote, parse_note


class LogReader(Protocol):
    """The log as the hub's web part (API, console, exports) reads it: no appends, no signing."""
    origin: str
    key_name: str

    @property
    def size(self) -> int: ...
    def entry(self, seq: int) -> dict | None: ...
    def leaves(self, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]: ...
    def leaf_hashes(self, start: int, end: int) -> list[bytes]: ...
    def trail(self, **filters: Any) -> list[dict]: ...
    def hourly_volume(self, since: str) -> list[tuple[str, str, str, int]]: ...
    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...
    def consistency_proof(self, size1: int, size2: int) -> list[bytes]: ...
    def latest_checkpoint(self) -> tuple[int, SignedNote] | None: ...
    def checkpoint(self, size: int) -> SignedNote | None: ...
    def checkpoint_sizes(self, upto: int | None = None) -> list[int]: ...
    def newest_cosigned(self, quorum: int, upto: int | None = None) -> int | None: ...
    def witnessed_sizes(self) -> dict[str, int]: ...
    def parked_counts(self) -> dict[str, int]: ...
    def latest_checkpoint_time(self) -> str | None: ...


class TreeNodes:
    """The stored Merkle tree nodes, as crypto.merkle reads them."""

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


class LogStorage:
    """Reads of the stored log and the bookkeeping writes that never touch the tree."""

    def __init__(self, engine: Engine, origin: str = "somex audit log", key_name: str = "somex-hub") -> None:
        self._engine = engine
        self.origin, self.key_name = origin, key_name
        metadata.create_all(engine)
        self.nodes = TreeNodes(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def stored_size(self) -> int:
        """The size of the log as committed (whichever hub process appended)."""
        with self._engine.connect() as conn:
            last = conn.execute(select(func.max(entries.c.seq))).scalar()
        return 0 if last is None else last + 1

    def unsigned_messages(self) -> tuple[int, int]:
        """(the newest checkpoint's size, the log's size up to its last entry past that checkpoint
        other than a witness cosignature, or 0 when there is none): how far the growth a checkpoint
        is owed for reaches (`messages_since_checkpoint`, as stored), whichever hub appended it."""
        with self._engine.connect() as conn:
            latest = conn.execute(select(func.max(checkpoints.c.size))).scalar() or 0
            last = conn.execute(select(func.max(entries.c.seq)).where(
                (entries.c.seq >= latest) & or_(entries.c.type.is_(None), entries.c.type != "witness.cosign"))
            ).scalar()
        return latest, 0 if last is None else last + 1

    # -- entries and proofs ---------------------------------------------------------------------

    def seen(self, message_ids: Iterable[str]) -> dict[str, SeenMessage]:
        ids = list(set(message_ids))
        if not ids:
            return {}
        # Driver-level SQL: once per hub batch, where SQLAlchemy's select cost ~0.1-0.25 ms of CPU more
        # than the query (docs/performance.md, "Issue 19, first step").
        mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        found: dict[str, SeenMessage] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                rows = conn.exec_driver_sql(
                    f"SELECT s.message_id, s.seq, s.digest, e.verdict FROM {seen.name} s JOIN {entries.name} e "
                    f"ON e.seq = s.seq WHERE s.message_id IN ({', '.join([mark] * len(chunk))})", tuple(chunk))
                found.update({mid: SeenMessage(seq, digest, verdict) for mid, seq, digest, verdict in rows})
        return found

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

    def leaf_hashes_of(self, seqs: Sequence[int]) -> dict[int, bytes]:
        wanted = sorted(set(seqs))
        return dict(zip(wanted, self.nodes.get_nodes([(0, s) for s in wanted])))

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        return self.nodes.leaf_range(start, end)

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

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.nodes)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return consistency_proof(size1, size2, self.nodes)

    # -- checkpoints and cosignatures as stored --------------------------------------------------

    def latest_checkpoint(self) -> tuple[int, SignedNote] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1)).first()
        return None if row is None else (row.size, self._with_cosignatures(row.size, row.note))

    def checkpoint(self, size: int) -> SignedNote | None:
        """The checkpoint as served: the hub's signature and the first cosignatures by policy order."""
        with self._engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.size == size)).first()
        return None if row is None else self._with_cosignatures(size, row.note)

    def checkpoint_sizes(self, upto: int | None = None) -> list[int]:
        query = select(checkpoints.c.size).order_by(checkpoints.c.size)
        if upto is not None:
            query = query.where(checkpoints.c.size <= upto)
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def latest_checkpoint_time(self) -> str | None:
        """When the newest checkpoint was signed (its `at`), or None before the first."""
        with self._engine.connect() as conn:
            return conn.execute(select(checkpoints.c.at).order_by(checkpoints.c.size.desc()).limit(1)).scalar()

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

    def stored_cosignatures(self) -> int:
        """Rows of cosignatures held for checkpoints (bounded by pruning; for tests and benchmarks)."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(cosignatures)).scalar() or 0

    # -- forwards done and parked (a recipient's inbox full) --------------------------------------

    def mark_forwarded(self, seqs: Iterable[int], at: str) -> None:
        self.record_forwards(dict.fromkeys(seqs, at))

    def record_forwards(self, done: Mapping[int, str]) -> None:
        """Record forwards done (entry seq → when) in a transaction of their own."""
        if done:
            with self._engine.begin() as conn:
                record_forwarded(conn, done)

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

    # -- dead letters kept --------------------------------------------------------------------------

    def dead_letters(self, *, pending_only: bool = False) -> list[Any]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if pending_only:
            query = query.where(dead_letters.c.requeued_at.is_(None))
        with self._engine.connect() as conn:
            return conn.execute(query).all()

    def requeue_requested(self, limit: int = 100) -> list[Any]:
        with self._engine.connect() as conn:
            return conn.execute(select(dead_letters).where(dead_letters.c.requested_at.is_not(None)
                                                           & dead_letters.c.requeued_at.is_(None))
                                .order_by(dead_letters.c.id).limit(limit)).all()

    def mark_requeued(self, row_id: int, at: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(dead_letters).where(dead_letters.c.id == row_id).values(requeued_at=at))


def record_forwarded(conn: Connection, done: Mapping[int, str]) -> None:
    """Record forwards done (entry seq → when) in `conn`'s transaction; a seq recorded already keeps its time.

    One INSERT that skips the seqs recorded already: a SELECT of them first, with a bind parameter
    per seq, cost the hub's append a fresh statement cache key per batch (issue 19)."""
    if done:
        conn.execute(_insert_unrecorded(conn.dialect.name), [{"seq": s, "at": done[s]} for s in sorted(done)])


@functools.cache
def _insert_unrecorded(dialect: str) -> Insert:
    """INSERT INTO forwarded ... ON CONFLICT (seq) DO NOTHING, in `dialect`'s words."""
    insert_of = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    return insert_of(forwarded).on_conflict_do_nothing(index_elements=[forwarded.c.seq])
