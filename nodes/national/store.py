"""A national node's database: outbox, messages in both directions, receipts, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column, Connection, Engine, Index, Integer, LargeBinary, MetaData, String, Table, Text, case, delete, func,
    insert, inspect, select, text, update,
)

from nodes.plumbing.row_inserts import insert_rows
from protocol import retention
from protocol.catalog import REGISTRY

metadata = MetaData()

outbox = Table(
    "outbox", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), unique=True, nullable=False),
    # Empty since revision 0006: the signed bytes are stored once, in messages.raw, or (a file
    # chunk) in the files feature's files/sealed/ (`queue_outgoing(..., raws=None)`); file chunks
    # queued before 3 December (evid17e) in outbox_raw. Rows queued before revision 0006 keep theirs.
    Column("raw", LargeBinary, nullable=False),
    Column("queued_at", String(32), nullable=False),
    Column("published_at", String(32), index=True),
)
outbox_raw = Table(  # the signed bytes of a file chunk queued before 3 December (evid17e): read, dropped
    "outbox_raw", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # outbox.seq (no foreign keys in this schema)
    Column("raw", LargeBinary, nullable=False),
)
messages = Table(
    "messages", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("direction", String(3), nullable=False, index=True),  # "in" or "out"
    Column("type", String(64), nullable=False),
    Column("sender", String(8), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("thread", String(128)),
    Column("reply_to", String(36)),
    Column("created", String(32), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("body", Text),  # clear bodies only; sealed payloads stay in raw
    Column("raw", LargeBinary, nullable=False),
    Column("stored_at", String(32), nullable=False),
    Column("log_index", Integer),
    Column("log_receipt", Text),
    Column("retain_until", String(10), index=True),  # protocol/retention.py: deleted after this day
)
# Most messages (alerts, hits, checkpoints) have no thread and reply to nothing: the two indexes
# hold only the rows that do, so storing those others writes no index page (docs/performance.md).
for _column in ("thread", "reply_to"):
    Index(f"ix_messages_{_column}", messages.c[_column], sqlite_where=messages.c[_column].isnot(None),
          postgresql_where=messages.c[_column].isnot(None))
receipts = Table(
    "receipts", metadata,
    Column("of", String(36), primary_key=True),
    Column("by", String(8), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("receipt_id", String(36), nullable=False),
    Column("at", String(32), nullable=False),
    Column("reason", String(64)),  # for kind `refused`: the recipient's reason code
)
refusals = Table(
    "refusals", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36)),
    Column("sender", String(8)),
    Column("reason", String(64), nullable=False),
    Column("detail", Text),
    Column("at", String(32), nullable=False),
)


# The core's other tables, here so that importing this module defines the whole core schema:
# delivery tracking (delivery.py)
deliveries = Table(
    "deliveries", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("recipient", String(8), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("thread", String(128)),
    Column("queued_at", String(32), nullable=False),
    Column("due", String(32), nullable=False, index=True),  # next deadline: alarm and re-send then
    Column("state", String(16), nullable=False, index=True),  # pending / settled / rejected
    Column("settled_at", String(32)),
    Column("overdue_since", String(32)),
    Column("resends", Integer, nullable=False, default=0),
    Column("expires", String(32), nullable=False),
)
# checkpoints this node cosigned, and the witness alarms (witness.py)
witnessed = Table(
    "witnessed_checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the hub's signed note with this node's cosignature added
    Column("at", String(32), nullable=False),
)
alarms = Table(
    "alarms", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text),
    Column("at", String(32), nullable=False),
)
# log receipts checked against a witnessed checkpoint (log_watch.py)
receipt_checks = Table(
    "log_receipt_checks", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("log_index", Integer, nullable=False),
    Column("size", Integer, nullable=False),  # the witnessed checkpoint the proof was checked against
    Column("verdict", String(16), nullable=False),  # "included" or "not_included"
    Column("at", String(32), nullable=False),
)


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    direction: str
    type: str
    sender: str
    recipients: list[str]
    thread: str | None
    reply_to: str | None
    created: str
    digest: str
    body: Any
    stored_at: str
    log_index: int | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# Clear bodies kept once, inside `raw` (issue 19): a feed batch (up to 4 MiB) is not stored twice.
BODY_IN_RAW = frozenset({"alert.document.batch"})


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        row.message_id, row.direction, row.type, row.sender, json.loads(row.recipients), row.thread,
        row.reply_to, row.created, row.digest, _body(row), row.stored_at, row.log_index,
    )


def _body(row: Any) -> Any:
    if row.body:
        return json.loads(row.body)
    if row.type in BODY_IN_RAW and row.raw:  # verified when it was stored, sent or received
        return json.loads(json.loads(row.raw)["body"])
    return None


class NodeStore:
    """Synchronous store; the node calls it through asyncio.to_thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        _add_missing_columns(engine, receipts)
        _add_missing_columns(engine, messages)
        _backfill_retention(engine)

    # outbox ------------------------------------------------------------------------------------
    def pending(self, limit: int, exclude: Iterable[int] = ()) -> list[tuple[int, str, bytes]]:
        """Unpublished outbox rows in order, but for those in `exclude` (being published), with
        their signed bytes from wherever they are stored (see `outbox`)."""
        raw = case((func.length(outbox.c.raw) > 0, outbox.c.raw), else_=func.coalesce(outbox_raw.c.raw, messages.c.raw))
        query = (select(outbox.c.seq, outbox.c.message_id, raw)
                 .select_from(outbox.outerjoin(outbox_raw, outbox_raw.c.seq == outbox.c.seq)
                              .outerjoin(messages, messages.c.message_id == outbox.c.message_id))
                 .where(outbox.c.published_at.is_(None)))
        if exclude := list(exclude):
            query = query.where(outbox.c.seq.not_in(exclude))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query.order_by(outbox.c.seq).limit(limit))]  # type: ignore[misc]

    def mark_published(self, seqs: Sequence[int], at: str) -> None:
        if seqs:
            with self.engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.seq.in_(list(seqs))).values(published_at=at))

    def outbox_depth(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox)
                                .where(outbox.c.published_at.is_(None))).scalar_one()

    # messages ----------------------------------------------------------------------------------
    def known_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(set(ids))
        if not ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(select(messages.c.message_id).where(messages.c.message_id.in_(ids))).scalars())

    def get(self, message_id: str) -> StoredMessage | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(messages).where(messages.c.message_id == message_id)).first()
        return _message(row) if row else None

    def raw(self, message_id: str) -> bytes | None:
        """The signed envelope exactly as received or sent (sealed payloads stay sealed)."""
        with self.engine.connect() as conn:
            return conn.execute(select(messages.c.raw).where(messages.c.message_id == message_id)).scalar()

    def list(self, *, direction: str | None = None, type: str | None = None,
             thread: str | None = None, limit: int = 100, offset: int = 0) -> list[StoredMessage]:
        query = select(messages).order_by(messages.c.stored_at.desc(), messages.c.message_id.desc())
        if direction:
            query = query.where(messages.c.direction == direction)
        if type:
            query = query.where(messages.c.type == type)
        else:  # checkpoints are the witness's business (witnessed_checkpoints), not a focal point's
            query = query.where(messages.c.type != "hub.checkpoint")
        if thread:
            query = query.where(messages.c.thread == thread)
        with self.engine.connect() as conn:
            return [_message(r) for r in conn.execute(query.limit(limit).offset(offset))]

    def receipts_for(self, message_id: str) -> list[dict[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(receipts).where(receipts.c.of == message_id).order_by(receipts.c.at))
            return [dict(r._mapping) for r in rows]

    def receipts_of(self, ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The signed receipts for messages `ids`, both ways: those peers sent for ours (`by` them)
        and those this node sent for theirs (`by` us), by the message they confirm, oldest first."""
        ids = list(set(ids))
        found: dict[str, list[dict[str, Any]]] = {}
        if not ids:
            return found
        with self.engine.connect() as conn:
            for r in conn.execute(select(receipts).where(receipts.c.of.in_(ids)).order_by(receipts.c.at)):
                found.setdefault(r.of, []).append({"kind": r.kind, "by": r.by, "at": r.at, "reason": r.reason})
            sent = conn.execute(select(messages.c.reply_to, messages.c.sender, messages.c.body).where(
                (messages.c.type == "receipt") & (messages.c.direction == "out") & messages.c.reply_to.in_(ids)))
            for r in sent:
                body = json.loads(r.body) if r.body else {}
                found.setdefault(r.reply_to, []).append({"kind": body.get("kind"), "by": r.sender,
                                                         "at": body.get("at"), "reason": body.get("reason")})
        for items in found.values():
            items.sort(key=lambda i: i["at"] or "")
        return found

    def replies_to(self, message_id: str) -> list[StoredMessage]:
        with self.engine.connect() as conn:
            return [_message(r) for r in conn.execute(select(messages).where(messages.c.reply_to == message_id))]

    def refusals(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(refusals).order_by(refusals.c.seq.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]


def queue_outgoing(conn: Connection, envs: Sequence[Any], raws: Sequence[bytes] | None, now: str, *,
                   payloads: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Queue signed envelopes in the outbox with their `messages` rows, in `conn`'s transaction;
    the signed bytes `raws` are stored once, in messages.raw. `raws=None`: the database keeps none
    (the caller's feature does: NationalNode.enqueue's `external`). `payloads`: the envelopes'
    clear bodies as built, if the caller has them (message_row)."""
    insert_rows(conn, outbox, [{"message_id": e.id, "raw": b"", "queued_at": now} for e in envs])
    bodies = payloads if payloads is not None else [None] * len(envs)
    insert_rows(conn, messages, [message_row("out", e, e.digest(), r, now, payload=p)
                                 for e, r, p in zip(envs, raws or [b""] * len(envs), bodies, strict=True)])


def delete_outbox(conn: Connection, message_ids: Sequence[str]) -> None:
    """Delete the outbox rows of `message_ids` with their signed bytes (wherever stored)."""
    conn.execute(delete(outbox_raw).where(outbox_raw.c.seq.in_(
        select(outbox.c.seq).where(outbox.c.message_id.in_(message_ids)))))
    conn.execute(delete(outbox).where(outbox.c.message_id.in_(message_ids)))


def drop_outbox_bytes(conn: Connection, message_id: str) -> None:
    """Forget the signed bytes the outbox holds for `message_id` (its row stays, as published)."""
    conn.execute(delete(outbox_raw).where(outbox_raw.c.seq.in_(
        select(outbox.c.seq).where(outbox.c.message_id == message_id))))
    conn.execute(update(outbox).where(outbox.c.message_id == message_id).values(raw=b""))


_REFUSED_IN_TRANSACTION = "somex.refused"


def begin_refusals(conn: Connection) -> None:
    """Start noting which messages the effects in `conn`'s transaction refuse (see record_refusal)."""
    conn.info[_REFUSED_IN_TRANSACTION] = {}


def end_refusals(conn: Connection) -> dict[str, str]:
    """Message id → reason code of every refusal recorded since begin_refusals."""
    return conn.info.pop(_REFUSED_IN_TRANSACTION, {})


def record_refusal(conn: Connection, message_id: str | None, sender: str | None, reason: str, detail: str,
                   at: str) -> None:
    """Record that this node refused a message (or its effect). Inside the inbox's transaction the
    sender then gets a signed receipt of kind `refused` with `reason` instead of `delivered`."""
    conn.execute(insert(refusals), {"message_id": message_id, "sender": sender, "reason": reason,
                                    "detail": detail[:2000], "at": at})
    noted = conn.info.get(_REFUSED_IN_TRANSACTION)
    if noted is not None and message_id is not None:
        noted.setdefault(message_id, reason)


def refusal_reasons(conn: Connection, message_ids: Iterable[str]) -> dict[str, str]:
    """The first recorded refusal reason of each of `message_ids` that was refused."""
    ids = list(set(message_ids))
    if not ids:
        return {}
    rows = conn.execute(select(refusals.c.message_id, refusals.c.reason).where(refusals.c.message_id.in_(ids))
                        .order_by(refusals.c.seq))
    found: dict[str, str] = {}
    for message_id, reason in rows:
        found.setdefault(message_id, reason)
    return found


_PERSONAL_DATA_DELETED = "somex.personal_data_deleted"


def mark_personal_data_deleted(conn: Connection) -> None:
    """Note that the transaction on `conn` deletes personal data: whoever commits it then calls
    db.erase_freed, so the data does not stay readable in SQLite's write-ahead log."""
    conn.info[_PERSONAL_DATA_DELETED] = True


def take_deletion_mark(conn: Connection) -> bool:
    """Whether the transaction on `conn` deleted personal data (and forget the mark)."""
    return bool(conn.info.pop(_PERSONAL_DATA_DELETED, False))


def message_row(direction: str, env: Any, digest: str, raw: bytes, stored_at: str,
                log_index: int | None = None, log_receipt: str | None = None,
                payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `messages` row of a sent or received envelope; `payload`: its parsed clear body when the
    caller has it (saves parsing an alert batch again for its retention date)."""
    return {
        "message_id": env.id, "direction": direction, "type": env.type, "sender": env.sender,
        "recipients": json.dumps(list(env.recipients)), "thread": env.thread, "reply_to": env.reply_to,
        "created": env.created, "digest": digest, "raw": raw, "stored_at": stored_at,
        # a clear body with personal data stays in `raw`: it is let out by the read path alone
        "body": None if env.type in BODY_IN_RAW or getattr(REGISTRY.get(env.type), "personal_data", False)
        else env.body,
        "log_index": log_index, "log_receipt": log_receipt,
        "retain_until": _retain_until(env.type, env.created, env.body, payload),
    }


def _retain_until(type: str, created: str, body: str | None, payload: Mapping[str, Any] | None) -> str:
    if payload is None and type in retention.ALERT_TYPES and body is not None:
        payload = json.loads(body)
    return retention.retain_until(type, created, payload)


def _backfill_retention(engine: Engine) -> None:
    """Messages stored before retention dates existed get theirs (once, at start-up)."""
    with engine.begin() as conn:
        rows = conn.execute(select(messages.c.message_id, messages.c.type, messages.c.created, messages.c.body)
                            .where(messages.c.retain_until.is_(None))).all()
        for row in rows:
            conn.execute(update(messages).where(messages.c.message_id == row.message_id)
                         .values(retain_until=_retain_until(row.type, row.created, row.body, None)))


def _add_missing_columns(engine: Engine, table: Table) -> None:
    """A database made before a nullable column was added gets it (create_all adds tables only)."""
    present = {c["name"] for c in inspect(engine).get_columns(table.name)}
    missing = [c for c in table.columns if c.name not in present and c.nullable]
    if missing:
        with engine.begin() as conn:
            for column in missing:
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" '
                                  f'{column.type.compile(engine.dialect)}'))


__all__ = ["mark_personal_data_deleted", "take_deletion_mark", "begin_refusals", "end_refusals", "record_refusal", "refusal_reasons", "NodeStore", "StoredMessage", "insert", "message_row", "messages", "outbox", "outbox_raw", "queue_outgoing", "delete_outbox", "drop_outbox_bytes", "receipts", "refusals", "deliveries", "witnessed", "alarms", "receipt_checks"]
