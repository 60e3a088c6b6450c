"""Alert feeds: a country's bulk submissions (NDJSON or CSV) read as a stream, checked record by
record, deduplicated by content, and sent as signed `alert.document.batch` messages through the
outbox (docs/alerts.md).

A bad record is reported (line, field, reason) and never stops the good ones. A record whose
normalised content was sent before (by any feed of this node) is counted as a duplicate and not
sent again, so pushing the same file twice changes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column, Connection, Engine, Integer, LargeBinary, MetaData, String, Table, Text, insert, select, update,
)

from nodes.plumbing.config import utcnow
from protocol.alerts import FIELDS, MAX_BATCH_ALERTS, REQUIRED_FIELDS, alert_problem, content_hash
from protocol.envelope import Envelope, parse_json
from protocol.errors import DecodeError, ProtocolError
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.feature import FeatureContext

FORMATS = {"application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "text/csv": "csv"}
MAX_RECORD_BYTES = 16 * 1024  # a longer line is refused as one bad record, never buffered whole
MAX_STORED_ERRORS = 10_000  # per job; the counts stay exact beyond it
READ_BYTES = 512 * 1024  # lines are handed to the intake in blocks of about this size

metadata = MetaData()
jobs = Table(
    "feed_jobs", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("format", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("bytes", Integer, nullable=False, default=0),
    Column("lines", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),  # new alerts queued for sending
    Column("duplicates", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("batches", Integer, nullable=False, default=0),
    Column("detail", Text),
)
errors = Table(
    "feed_errors", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("field", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)
sent = Table(  # content hashes of every alert this node's feeds have sent
    "feed_sent", metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("message_id", String(36), nullable=False),
)
_COUNTERS = ("bytes", "lines", "accepted", "duplicates", "rejected", "batches")


class FeedRefused(Exception):
    """The feed as a whole cannot be read (e.g. a CSV header naming unknown fields)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


class FeedIntake:
    """One feed being read. Synchronous: the API hands it blocks of lines from a worker thread."""

    def __init__(self, ctx: FeatureContext, fmt: str, batch_size: int = MAX_BATCH_ALERTS) -> None:
        if not 1 <= batch_size <= MAX_BATCH_ALERTS:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_ALERTS}")
        self.ctx, self.format, self.batch_size = ctx, fmt, batch_size
        self.job_id = str(uuid.uuid4())
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self._header: list[str] | None = None
        self._pending: dict[bytes, dict[str, Any]] = {}
        self._stored_errors = 0
        with ctx.db.begin() as conn:
            conn.execute(insert(jobs), {"job_id": self.job_id, "format": fmt, "status": "running",
                                        "started_at": format_time(utcnow()), **self.counts})
        self._saved = dict(self.counts)  # the counts the job row holds

    # -- reading ----------------------------------------------------------------------------------

    def take(self, lines: Sequence[bytes], size: int) -> None:
        """Check a block of raw lines (without their newlines) that held `size` bytes."""
        failures: list[dict[str, Any]] = []
        candidates: list[tuple[bytes, dict[str, Any]]] = []
        for raw in lines:
            self.counts["lines"] += 1
            line_no = self.counts["lines"]
            try:
                record = self._parse(raw, line_no)
            except _BadRecord as bad:
                failures.append({"line": line_no, "field": bad.field, "reason": bad.reason, "detail": bad.detail})
                continue
            if record is None:
                continue
            problem = alert_problem(record)
            if problem is None and record["issuing_country"] != self.ctx.country:
                failures.append({"line": line_no, "field": "issuing_country", "reason": "not_issuing_country",
                                 "detail": f"{self.ctx.country} may alert only on documents it issued"})
            elif problem is not None:
                failures.append({"line": line_no, "field": problem.field, "reason": problem.reason,
                                 "detail": problem.detail})
            else:
                candidates.append((bytes.fromhex(content_hash(record)), record))
        self.counts["bytes"] += size
        self.counts["rejected"] += len(failures)
        known = self._already_sent([digest for digest, _ in candidates])
        full: list[dict[bytes, dict[str, Any]]] = []
        for digest, record in candidates:
            if digest in known or digest in self._pending:
                self.counts["duplicates"] += 1
                continue
            known.add(digest)  # a later copy in this block is a duplicate, also once this batch is cut
            self._pending[digest] = record
            if len(self._pending) >= self.batch_size:
                full.append(self._pending)
                self._pending = {}
        self._queue(full, failures)

    def too_long(self) -> None:
        """A line longer than MAX_RECORD_BYTES was skipped by the reader."""
        self.counts["lines"] += 1
        self.counts["rejected"] += 1
        self._save([{"line": self.counts["lines"], "field": "$", "reason": "record_too_long",
                     "detail": f"a record is at most {MAX_RECORD_BYTES} bytes"}])

    def _parse(self, raw: bytes, line_no: int) -> dict[str, Any] | None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            return None  # blank lines separate nothing and are not records
        if len(raw) > MAX_RECORD_BYTES:
            raise _BadRecord("$", "record_too_long", f"a record is at most {MAX_RECORD_BYTES} bytes")
        if self.format == "ndjson":
            try:
                record = parse_json(raw, what="record")
            except DecodeError as exc:
                raise _BadRecord("$", exc.reason, exc.detail) from None
            return record
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadRecord("$", "bad_utf8", f"not valid UTF-8 at byte {exc.start}") from None
        try:
            values = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise _BadRecord("$", "malformed_csv", str(exc)) from None
        if self._header is None:
            self._header = _check_header(values)
            return None
        if len(values) != len(self._header):
            raise _BadRecord("$", "malformed_csv", f"{len(values)} values for {len(self._header)} columns")
        return {name: value for name, value in zip(self._header, values) if value != ""}

    def _already_sent(self, digests: list[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        engine = self.ctx.db
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        with engine.connect() as conn:
            for start in range(0, len(digests), 900):
                chunk = digests[start:start + 900]
                found.update(d for (d,) in conn.exec_driver_sql(
                    f"SELECT digest FROM feed_sent WHERE digest IN ({', '.join([mark] * len(chunk))})", tuple(chunk)))
        return found

    # -- sending ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._pending:
            full, self._pending = [self._pending], {}
            self._queue(full, [])

    def _queue(self, full: list[dict[bytes, dict[str, Any]]], failures: list[dict[str, Any]]) -> None:
        """A block's full batches, signed, with its bad lines and the job's counts: one transaction,
        so a batch is queued exactly when its alerts count as sent (and a block's several batches
        share one commit: the digests' index pages are written once, not once per batch)."""
        if not full:
            self._save(failures)
            return
        bodies = [{"alerts": list(pending.values())} for pending in full]
        envs = [self._batch(body) for body in bodies]
        for pending in full:
            self.counts["accepted"] += len(pending)
            self.counts["batches"] += 1
        with self.ctx.db.begin() as conn:
            self.ctx.enqueue(envs, conn, payloads=bodies)
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            # In key order: the random digests' index pages are each visited once, in order (~5-10 %
            # less CPU per row than feed order on a 200,000-row table).
            conn.exec_driver_sql(f"INSERT INTO feed_sent (digest, message_id) VALUES ({mark}, {mark})",
                                 sorted((d, env.id) for pending, env in zip(full, envs) for d in pending))
            self._record(conn, failures)
        self.ctx.wake_relay()  # committed: the relay reads the batches now, not at its next poll
        for pending, env in zip(full, envs):
            self.ctx.log.debug("feed batch queued", message_id=env.id, job=self.job_id, alerts=len(pending))

    def _batch(self, body: dict[str, Any]) -> Envelope:
        """The signed batch to every node: each record was checked as it was read (alert_problem,
        the issuing country), so the batch is not parsed back and checked again."""
        return self.ctx.build("alert.document.batch", ["*"], body=body, body_checked=True)

    def _save(self, failures: list[dict[str, Any]]) -> None:
        if not failures and self.counts == self._saved:  # a batch queued last wrote these counts
            return
        with self.ctx.db.begin() as conn:
            self._record(conn, failures)

    def _record(self, conn: Connection, failures: list[dict[str, Any]]) -> None:
        """Bad lines (the first MAX_STORED_ERRORS of the job) and the job's counts, in `conn`'s transaction."""
        room = max(0, MAX_STORED_ERRORS - self._stored_errors)
        kept = [{"job_id": self.job_id, **f} for f in failures[:room]]
        if kept:
            conn.execute(insert(errors), kept)
        conn.execute(update(jobs).where(jobs.c.job_id == self.job_id).values(**self.counts))
        self._stored_errors += len(kept)
        self._saved = dict(self.counts)

    def finish(self) -> None:
        self._flush()
        self._end("done", None)

    def fail(self, reason: str, detail: str) -> None:
        """Stop here: what was queued stays queued (pushing the file again sends only the rest)."""
        self._pending.clear()
        self._end("failed", f"{reason}: {detail}"[:2000])

    def _end(self, status: str, detail: str | None) -> None:
        with self.ctx.db.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.job_id == self.job_id).values(
                status=status, detail=detail, finished_at=format_time(utcnow()), **self.counts))


class _BadRecord(Exception):
    def __init__(self, field: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.reason, self.detail = field, reason, detail


def _check_header(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise FeedRefused("bad_csv_header", f"unknown column(s) {unknown[:5]}; columns are alert field names: "
                                            f"{', '.join(FIELDS)}")
    if len(set(names)) != len(names):
        raise FeedRefused("bad_csv_header", "a column is named twice")
    missing = [n for n in REQUIRED_FIELDS if n not in names]
    if missing:
        raise FeedRefused("bad_csv_header", f"missing required column(s) {missing}")
    return names


async def line_blocks(chunks: AsyncIterator[bytes], intake: FeedIntake) -> AsyncIterator[tuple[list[bytes], int]]:
    """Blocks of complete lines (and the bytes they took) from a byte stream. Memory stays bounded:
    a line longer than MAX_RECORD_BYTES is reported to the intake as a bad record and skipped."""
    buffer = bytearray()
    skipping = False
    async for chunk in chunks:
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk, skipping = chunk[cut + 1:], False
        buffer += chunk
        if len(buffer) < READ_BYTES:
            continue
        cut = buffer.rfind(b"\n")
        if cut >= 0:
            block = bytes(buffer[:cut])
            del buffer[:cut + 1]
            yield block.split(b"\n"), cut + 1
        if len(buffer) > MAX_RECORD_BYTES:
            intake.too_long()
            buffer.clear()
            skipping = True
    if buffer and not skipping:
        size = len(buffer)
        if buffer.endswith(b"\n"):
            del buffer[-1:]
        yield bytes(buffer).split(b"\n"), size


async def read_into(intake: FeedIntake, chunks: AsyncIterator[bytes], *,
                    progress: Callable[[FeedIntake], None] | None = None,
                    interrupted: str = "the upload stopped before its end") -> None:
    """Read a whole feed from `chunks` into `intake`: the job ends `done`, or `failed` with the
    reason (FeedRefused and ProtocolError are raised again, and so is whatever broke the reading).
    `progress` is called on the event loop after each block. The API and the console both read
    feeds through here."""
    try:
        async for lines, size in line_blocks(chunks, intake):
            await asyncio.to_thread(intake.take, lines, size)
            if progress is not None:
                progress(intake)
        await asyncio.to_thread(intake.finish)
    except (FeedRefused, ProtocolError) as exc:  # ProtocolError: a batch the node refuses to sign (a bug)
        await asyncio.to_thread(intake.fail, exc.reason, exc.detail)
        raise
    except BaseException:  # the upload broke off (or the server stops): say so in the job
        await asyncio.shield(asyncio.to_thread(intake.fail, "interrupted", interrupted))
        raise


def job(engine: Engine, job_id: str, *, error_limit: int = 1000, error_offset: int = 0) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        if row is None:
            return None
        found = conn.execute(select(errors.c.line, errors.c.field, errors.c.reason, errors.c.detail)
                             .where(errors.c.job_id == job_id).order_by(errors.c.line)
                             .limit(error_limit).offset(error_offset))
        return {**dict(row._mapping), "errors": [dict(e._mapping) for e in found]}


def recent_jobs(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(jobs).order_by(jobs.c.started_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]




__all__ = ["FORMATS", "FeedIntake", "FeedRefused", "create_tables", "job", "line_blocks", "read_into", "recent_jobs"]
