"""The audit log's sequencer: the one place that numbers entries. A batch of entries, their new tree
nodes and spent message ids are committed in one transaction under the log's write lock (a
PostgreSQL advisory lock, so an active hub and its standby never interleave appends); the
in-memory compact range follows the stored head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from crypto.merkle import CompactRange, leaf_hash
from nodes.hub.entry import REQUEUED, AuditEntry, recipients_column, without_lone_surrogates
from nodes.hub.log_storage import LogStorage, record_forwarded
from nodes.hub.log_tables import LOG_WRITE_LOCK, dead_letters, entries, node_key, seen, tree_nodes
from nodes.plumbing.row_inserts import insert_rows


class Sequencer:
    """Synchronous: the hub calls it from one worker at a time, so appends are strictly ordered."""

    def __init__(self, storage: LogStorage) -> None:
        self._engine = storage.engine
        self.nodes = storage.nodes
        self._range = CompactRange.resume(storage.stored_size(), self.nodes)

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def append(self, batch: Sequence[AuditEntry], dead_letter: dict[str, Any] | None = None,
               forwarded: Mapping[int, str] | None = None) -> None:
        """Assign sequence numbers and commit entries, tree nodes and spent ids durably, or nothing.

        `dead_letter`: a dead_letters row kept in the same transaction, for the first entry.
        `forwarded`: forwards done of entries committed earlier (seq → when), recorded in the same
        transaction (nodes/hub/forward_records.py)."""
        if not batch and not forwarded:  # e.g. a batch of redeliveries that are all in the log already
            return
        with self._engine.begin() as conn:
            if batch:
                self._append(conn, batch)
                if dead_letter is not None:
                    conn.execute(insert(dead_letters), {**dead_letter, "seq": batch[0].seq})
            if forwarded:
                record_forwarded(conn, forwarded)
        if batch:
            self._range = self._tentative

    def _append(self, conn: Connection, batch: Sequence[AuditEntry]) -> None:
        self.lock_and_catch_up(conn)
        tentative = CompactRange(self._range.size, list(self._range._stack))
        entry_rows, node_rows = [], []
        for entry in batch:
            entry.seq = tentative.size
            leaf = entry.leaf()
            entry.leaf_hash = leaf_hash(leaf)
            node_rows += [{"id": node_key(lv, ix), "hash": h} for lv, ix, h in tentative.append(entry.leaf_hash)]
            # Copies of leaf members for queries, as the leaf holds them (lone surrogates replaced).
            entry_rows.append({"seq": entry.seq, "leaf": leaf, **without_lone_surrogates({
                "message_id": entry.message_id, "type": entry.type, "sender": entry.sender,
                "thread": entry.thread, "verdict": entry.verdict, "received_at": entry.received_at,
            }), "recipients": recipients_column(tuple(entry.recipients))})
        seen_rows = [{"message_id": e.message_id, "seq": e.seq, "digest": e.digest} for e in batch if e.marks_seen]
        insert_rows(conn, entries, entry_rows)  # the driver's executemany on SQLite (nodes/plumbing/row_inserts.py)
        insert_rows(conn, tree_nodes, node_rows)
        insert_rows(conn, seen, seen_rows)
        self._tentative = tentative

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

    def lock_and_catch_up(self, conn: Connection) -> None:
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
