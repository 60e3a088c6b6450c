"""The hub's audit store: an append-only sequence of entries, committed in batches.

Every message the hub takes from `hub.in` gets an entry (accepted or rejected, with its reason)
before anything is forwarded or acknowledged. Forward completion is recorded apart from the entry
so that entries are never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    Column, Engine, Integer, MetaData, String, Table, Text, insert, select,
)

metadata = MetaData()

entries = Table(
    "audit_entries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("message_id", String(36), index=True),
    Column("type", String(64)),
    Column("sender", String(8), index=True),
    Column("broker_user", String(128)),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("thread", String(128), index=True),
    Column("digest", String(64), nullable=False),
    Column("kid", String(64)),
    Column("verdict", String(16), nullable=False),
    Column("reason", String(64)),
    Column("detail", Text),
    Column("received_at", String(32), nullable=False),
)
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

ACCEPTED, REJECTED, ISSUED, DEAD_LETTERED, UNROUTABLE = (
    "accepted", "rejected", "issued", "dead_lettered", "unroutable",
)


@dataclass
class AuditEntry:
    verdict: str
    digest: str
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
    marks_seen: bool = False  # an authentic message whose id is now spent
    seq: int = field(default=-1)

    def row(self) -> dict:
        return {
            "seq": self.seq, "message_id": self.message_id, "type": self.type, "sender": self.sender,
            "broker_user": self.broker_user, "recipients": json.dumps(list(self.recipients)),
            "thread": self.thread, "digest": self.digest, "kid": self.kid, "verdict": self.verdict,
            "reason": self.reason, "detail": self.detail, "received_at": self.received_at,
        }


@dataclass(frozen=True)
class SeenMessage:
    seq: int
    digest: str


class AuditStore:
    """Synchronous: the hub calls it from one worker thread, so appends are strictly ordered."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        with engine.connect() as conn:
            last = conn.execute(select(entries.c.seq).order_by(entries.c.seq.desc()).limit(1)).scalar()
        self._next_seq = 0 if last is None else last + 1

    @property
    def size(self) -> int:
        return self._next_seq

    def seen(self, message_ids: Iterable[str]) -> dict[str, SeenMessage]:
        ids = list(set(message_ids))
        if not ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(seen).where(seen.c.message_id.in_(ids))).all()
        return {r.message_id: SeenMessage(r.seq, r.digest) for r in rows}

    def append(self, batch: Sequence[AuditEntry]) -> None:
        """Assign sequence numbers and commit the whole batch durably, or nothing."""
        start = self._next_seq
        for offset, entry in enumerate(batch):
            entry.seq = start + offset
        with self._engine.begin() as conn:
            conn.execute(insert(entries), [e.row() for e in batch])
            seen_rows = [{"message_id": e.message_id, "seq": e.seq, "digest": e.digest}
                         for e in batch if e.marks_seen]
            if seen_rows:
                conn.execute(insert(seen), seen_rows)
        self._next_seq = start + len(batch)

    def mark_forwarded(self, seqs: Iterable[int], at: str) -> None:
        rows = [{"seq": s, "at": at} for s in seqs]
        if rows:
            with self._engine.begin() as conn:
                existing = set(conn.execute(select(forwarded.c.seq).where(
                    forwarded.c.seq.in_([r["seq"] for r in rows]))).scalars())
                fresh = [r for r in rows if r["seq"] not in existing]
                if fresh:
                    conn.execute(insert(forwarded), fresh)

    def entry(self, seq: int) -> dict | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(entries).where(entries.c.seq == seq)).mappings().first()
        return _public(row) if row else None

    def trail(self, *, message_id: str | None = None, thread: str | None = None,
              sender: str | None = None, limit: int = 1000) -> list[dict]:
        query = select(entries).order_by(entries.c.seq).limit(limit)
        if message_id:
            query = query.where(entries.c.message_id == message_id)
        if thread:
            query = query.where(entries.c.thread == thread)
        if sender:
            query = query.where(entries.c.sender == sender)
        with self._engine.connect() as conn:
            return [_public(r) for r in conn.execute(query).mappings()]


def _public(row) -> dict:  # noqa: ANN001
    out = dict(row)
    out["recipients"] = json.loads(out["recipients"])
    return out
