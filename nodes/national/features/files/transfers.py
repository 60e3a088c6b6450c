"""Evidence files of any size at one node (docs/evidence-files.md): spooling an upload to disk,
sending its chunks a few at a time once the carrier message is delivered, receiving chunks to disk,
reassembling and verifying, and the timeout of a file that stays incomplete.

Files live under `<node home>/files/` (0700), each file 0600: `out/<id>` (an upload waiting to be
sent or being sent), `sealed/<message id>` (a chunk's signed envelope, exactly as queued, until its
receipt), `in/<carrier>.<n>.part` (chunks arriving), `in/<carrier>.<n>` (complete and verified: the
only form a focal point can download). A chunk's signed bytes never go to the database (sender:
`enqueue(external=True)`, the relay reads `sealed/` through `sent_bytes`; receiver: the feature's
`stored_without_copy`, refused chunks included): the per-chunk digest, the hub's log receipt and the
file's SHA-256 remain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text, and_, func, insert, select, update

from crypto.signing import VerifiedEnvelope
from nodes.national.store import drop_outbox_bytes, outbox, receipts, record_refusal
from nodes.plumbing.config import utcnow
from nodes.plumbing.private_files import sync_path
from protocol import envelope as wire
from protocol import files as protocol_files
from protocol.errors import PolicyError, ProtocolError
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.feature import FeatureContext

log = structlog.get_logger("somex.files")

WINDOW = 8  # chunks sealed and queued but not yet receipted, per node: at most ~8 × 4 MiB in sealed/
# Of those, chunks not yet published: each one the relay holds in memory (5.4 MiB, and its frames)
# until the broker confirms it, so a slow broker would otherwise have the whole window in memory.
UNPUBLISHED = 2
_READ = 1024 * 1024
# A sealed copy no committed chunk row names is a round's whose transaction was lost (a crash) or
# lost its race, or one whose commit is still to come: deleted only once this old. A round of a node
# stopped in this process can outlive the stop (its thread cannot be stopped), and a restarted node's
# first round deleted such a chunk's copy before its row committed: a row with no bytes to send.
ORPHANED_AFTER = 300.0
_BUSY_POLL = 0.05  # seconds between the pump's rounds while chunks await their receipts

metadata = MetaData()
files_out = Table(
    "files_out", metadata,
    Column("carrier", String(36), primary_key=True),  # the message whose sealed body lists the file
    Column("n", Integer, primary_key=True, autoincrement=False),  # its place in that list
    Column("recipient", String(8), nullable=False),
    Column("thread", String(128), nullable=False),
    Column("spool", String(64), nullable=False),  # file name under files/out/
    Column("ref", Text, nullable=False),  # the file reference (JSON) the carrier lists
    Column("state", String(16), nullable=False, index=True),  # waiting, sending, complete, failed
    Column("next_chunk", Integer, nullable=False, default=0),  # the first chunk not yet sealed and queued
    Column("reason", String(64)),
    Column("updated_at", String(32), nullable=False),
)
chunks_out = Table(
    "file_chunks_out", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("carrier", String(36), nullable=False, index=True),
    Column("n", Integer, nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # sent, delivered, refused
    Column("at", String(32), nullable=False),
)
files_in = Table(
    "files_in", metadata,
    Column("carrier", String(36), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("sender", String(8), nullable=False),
    Column("thread", String(128), nullable=False, index=True),
    Column("ref", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # receiving, complete, failed
    Column("received", Integer, nullable=False, default=0),
    Column("reason", String(64)),
    Column("expected_at", String(32), nullable=False),
    Column("completed_at", String(32)),
)
chunks_in = Table(
    "file_chunks_in", metadata,
    Column("carrier", String(36), primary_key=True),
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("chunk", Integer, primary_key=True, autoincrement=False),
    Column("message_id", String(36), nullable=False),
    Column("at", String(32), nullable=False),
)


@dataclass
class Spooled:
    """An upload written to `files/out/` with its file reference computed in the same pass."""

    spool: str
    ref: dict[str, Any]


# The whole file's SHA-256 is computed here, beside the chunks' and the write (hashlib lets go of
# the interpreter lock over a piece): a spool's pieces go one at a time, in order.
_WHOLE_FILE_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="files-hash")


@dataclass
class Spool:
    """Write an upload to disk piece by piece; `finish()` gives its file reference. Never holds
    more than one chunk's digest state and two pieces (the one written, the one the whole file's
    digest is still reading)."""

    path: Path
    name: str
    media_type: str
    size: int = 0
    _file: Any = None
    _whole: Any = field(default_factory=hashlib.sha256)
    _chunk: Any = field(default_factory=hashlib.sha256)
    _in_chunk: int = 0
    _chunks: list[str] = field(default_factory=list)
    _whole_pending: Future | None = None

    def __post_init__(self) -> None:
        self._file = open(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):  # a caller's buffer may change once we return; the digest reads on
            data = bytes(data)
        if self.size + len(data) > protocol_files.MAX_FILE_BYTES:
            self.discard()
            raise PolicyError("file_too_large", f"a file holds at most {protocol_files.MAX_FILE_BYTES} bytes")
        self._file.write(data)
        self.size += len(data)
        self._whole_done()
        self._whole_pending = _WHOLE_FILE_HASHING.submit(self._whole.update, data)
        view = memoryview(data)
        while view:
            take = min(len(view), protocol_files.CHUNK_BYTES - self._in_chunk)
            self._chunk.update(view[:take])
            self._in_chunk += take
            view = view[take:]
            if self._in_chunk == protocol_files.CHUNK_BYTES:
                self._chunks.append(self._chunk.hexdigest())
                self._chunk, self._in_chunk = hashlib.sha256(), 0

    def _whole_done(self) -> None:
        if self._whole_pending is not None:
            pending, self._whole_pending = self._whole_pending, None
            pending.result()

    def finish(self) -> Spooled:
        """The file reference, once the bytes and the file's directory entry are on disk: the
        carrier that lists it may commit after this, and a crash must not leave it a short file."""
        self._whole_done()
        if self._in_chunk:
            self._chunks.append(self._chunk.hexdigest())
        if self.size == 0:
            self.discard()
            raise PolicyError("bad_request", f"file {self.name[:80]!r} is empty")
        self._file.flush()
        os.fdatasync(self._file.fileno())
        self._file.close()
        sync_path(self.path.parent)
        ref = {"name": self.name, "media_type": self.media_type, "size": self.size,
               "sha256": self._whole.hexdigest(), "chunk_bytes": protocol_files.CHUNK_BYTES, "chunks": self._chunks}
        return Spooled(self.path.name, ref)

    def discard(self) -> None:
        self._whole_done()
        self._file.close()
        self.path.unlink(missing_ok=True)


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


class FileTransfers:
    """Large files sent and received by this node, in chunks."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self.engine = ctx.db
        self.log = ctx.log
        root = _private_dir(Path(ctx.home) / "files")
        self.out_dir = _private_dir(root / "out")
        self.sealed_dir = _private_dir(root / "sealed")
        self.in_dir = _private_dir(root / "in")
        self.wake = asyncio.Event()
        self._in_flight = 0  # chunks queued and not yet receipted, as the last round counted them

    # -- sending ----------------------------------------------------------------------------------

    def spool(self, name: str, media_type: str) -> Spool:
        """A new upload on disk (0600): write it, then `finish()`."""
        return Spool(self.out_dir / uuid.uuid4().hex, name, media_type)

    def spool_file(self, source: Path, name: str | None = None,
                   media_type: str = "application/octet-stream") -> Spooled:
        """Copy a file on disk into the spool, computing its reference on the way."""
        spool = self.spool(name or source.name, media_type)
        try:
            with open(source, "rb") as f:
                while piece := f.read(_READ):
                    spool.write(piece)
        except BaseException:
            spool.discard()
            raise
        return spool.finish()

    def discard(self, spooled: Sequence[Spooled]) -> None:
        for s in spooled:
            (self.out_dir / s.spool).unlink(missing_ok=True)

    def send_with(self, conn: Connection, carrier: Any, spooled: Sequence[Spooled]) -> None:
        """In the transaction that queues `carrier` (whose sealed body lists `spooled`'s references in
        this order): the files wait for its delivery receipt, then go out chunk by chunk."""
        now = format_time(utcnow())
        (recipient,) = carrier.recipients
        if spooled:
            conn.execute(insert(files_out), [
                {"carrier": carrier.id, "n": n, "recipient": recipient, "thread": carrier.thread, "spool": s.spool,
                 "ref": json.dumps(s.ref), "state": "waiting", "next_chunk": 0, "updated_at": now}
                for n, s in enumerate(spooled)])
            self.wake_soon()

    def wake_soon(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.call_soon_threadsafe(self.wake.set)

    async def pump(self) -> None:
        """Send what is due: a few chunks in flight at a time, sealed from disk when it is their turn."""
        self._loop = asyncio.get_running_loop()
        while True:
            self.wake.clear()
            try:
                busy = await self._finish_round()
            except Exception:  # noqa: BLE001 - a database or disk hiccup: the next round retries
                self.log.exception("file sending round failed; will retry")
                busy = False
            if not busy:
                try:  # a receipt wakes the pump inside its transaction, maybe before the commit: while
                    # chunks are in flight, look again soon rather than at the next idle poll
                    await asyncio.wait_for(self.wake.wait(), timeout=_BUSY_POLL if self._in_flight else 1.0)
                except TimeoutError:
                    pass

    async def _finish_round(self) -> bool:
        """`step` in a thread, which a cancelled pump (the node stopping) waits for: a thread cannot be
        stopped, and a round left running would queue a chunk under a node that restarts in the same
        process, whose first round deletes that chunk's sealed copy before its row commits."""
        round_ = asyncio.ensure_future(asyncio.to_thread(self.step))
        try:
            return await asyncio.shield(round_)
        except asyncio.CancelledError:
            await asyncio.wait([round_])
            raise

    def step(self) -> bool:
        """One round: start files whose carrier is delivered, queue chunks up to the window. True
        if a chunk was queued (more may follow at once)."""
        with self.engine.begin() as conn:
            self._start_delivered(conn)
            in_flight = self._in_flight = conn.execute(select(func.count()).select_from(chunks_out)
                                                       .where(chunks_out.c.state == "sent")).scalar_one()
            self._drop_settled_sealed(conn)
            if in_flight >= WINDOW or in_flight and self._unpublished(conn) >= UNPUBLISHED:
                return False
            row = conn.execute(select(files_out).where(files_out.c.state == "sending")
                               .order_by(files_out.c.updated_at).limit(1)).first()
        if row is None:
            return False
        self._queue_chunk(row)
        return True

    @staticmethod
    def _unpublished(conn: Connection) -> int:
        return conn.execute(select(func.count()).select_from(chunks_out.join(
            outbox, outbox.c.message_id == chunks_out.c.message_id)).where(
            (chunks_out.c.state == "sent") & outbox.c.published_at.is_(None))).scalar_one()

    def _start_delivered(self, conn: Connection) -> None:
        waiting = conn.execute(select(files_out.c.carrier, files_out.c.recipient).distinct()
                               .where(files_out.c.state == "waiting")).all()
        now = format_time(utcnow())
        for carrier, recipient in waiting:
            kinds = {r.kind: r.reason for r in conn.execute(select(receipts.c.kind, receipts.c.reason).where(
                (receipts.c.of == carrier) & (receipts.c.by == recipient)))}
            if "refused" in kinds:
                conn.execute(update(files_out).where(files_out.c.carrier == carrier).values(
                    state="failed", reason="carrier_refused", updated_at=now))
                self.log.warning("files not sent: their carrier was refused", message_id=carrier,
                                 reason=kinds["refused"])
            elif "delivered" in kinds:
                conn.execute(update(files_out).where(files_out.c.carrier == carrier).values(
                    state="sending", updated_at=now))

    def _queue_chunk(self, row: Any) -> None:
        ref = json.loads(row.ref)
        index = row.next_chunk
        length = protocol_files.chunk_length(ref, index)
        with open(self.out_dir / row.spool, "rb") as f:
            f.seek(index * ref["chunk_bytes"])
            data = f.read(length)
        try:
            protocol_files.verify_chunk(ref, index, data)
        except PolicyError:  # the spooled file changed on disk: never send what the carrier does not list
            self._fail_out(row, "file_changed")
            return
        header = {"file": row.carrier, "n": row.n, "chunk": index, "chunks": len(ref["chunks"]), "bytes": len(data)}
        env = self.ctx.build_sealed("file.chunk", [row.recipient], {"data": data}, header=header, thread=row.thread,
                                    reply_to=row.carrier)
        del data
        self._write_sealed(env)  # durable before the row that makes the relay send it commits
        now = format_time(utcnow())
        last = index + 1 == len(ref["chunks"])
        with self.engine.begin() as conn:
            moved = conn.execute(update(files_out).where(
                (files_out.c.carrier == row.carrier) & (files_out.c.n == row.n)
                & (files_out.c.next_chunk == index) & (files_out.c.state == "sending")
            ).values(next_chunk=index + 1, state="sent" if last else "sending", updated_at=now)).rowcount
            if not moved:
                return
            conn.execute(insert(chunks_out), {"message_id": env.id, "carrier": row.carrier, "n": row.n,
                                              "chunk": index, "state": "sent", "at": now})
            self.ctx.enqueue([env], conn, external=True)  # sealed/ alone holds its bytes until receipted
        self.ctx.wake_relay()  # committed: publish it now, not at the relay's next poll
        self.log.debug("file chunk queued", message_id=env.id, thread=row.thread, chunk=index)

    def _write_sealed(self, env: Any) -> None:
        """The chunk's signed envelope to `sealed/<id>`, synced with its directory entry: every
        publication of this message id, the first and any re-send after a restart, is these bytes."""
        path = self.sealed_dir / env.id
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            pieces = wire.encoded_pieces(env)
            if os.writev(fd, pieces) != sum(map(len, pieces)):
                raise OSError(f"short write of {path.name}")
            os.fdatasync(fd)
        finally:
            os.close(fd)
        sync_path(self.sealed_dir)

    def sealed_bytes(self, message_id: str) -> bytes | None:
        """A queued chunk's signed bytes (the relay's `sent_bytes`), or None once it was receipted."""
        try:
            with open(self.sealed_dir / message_id, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _drop_settled_sealed(self, conn: Connection) -> None:
        """Delete the sealed copies of chunks that need no more sending, as committed: receipted (any
        kind), or never queued and older than ORPHANED_AFTER."""
        paths = list(self.sealed_dir.iterdir())
        if not paths:
            return
        states = dict(conn.execute(select(chunks_out.c.message_id, chunks_out.c.state).where(
            chunks_out.c.message_id.in_([p.name for p in paths]))).all())
        now = time.time()
        for path in paths:
            state = states.get(path.name)
            if state == "sent":
                continue
            if state is None:
                try:
                    if now - path.stat().st_mtime < ORPHANED_AFTER:
                        continue
                except FileNotFoundError:
                    continue
            path.unlink(missing_ok=True)

    def _fail_out(self, row: Any, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(files_out).where((files_out.c.carrier == row.carrier) & (files_out.c.n == row.n))
                         .values(state="failed", reason=reason, updated_at=format_time(utcnow())))
        self.log.error("file not sent", message_id=row.carrier, n=row.n, reason=reason)

    def on_chunk_receipt(self, conn: Connection, body: Mapping[str, Any]) -> None:
        """A receipt the core accepted: if it is for one of our chunks, that chunk is settled; its
        sealed copy leaves the outbox (the spooled file keeps the bytes)."""
        sent = conn.execute(select(chunks_out).where(chunks_out.c.message_id == body["of"])).first()
        if sent is None or sent.state != "sent":
            return
        refused = body["kind"] == "refused"
        if body["kind"] not in ("delivered", "refused"):
            return
        now = format_time(utcnow())
        conn.execute(update(chunks_out).where(chunks_out.c.message_id == sent.message_id)
                     .values(state="refused" if refused else "delivered", at=now))
        drop_outbox_bytes(conn, sent.message_id)
        key = (files_out.c.carrier == sent.carrier) & (files_out.c.n == sent.n)
        if refused:
            conn.execute(update(files_out).where(key).values(state="failed", reason=body.get("reason") or "refused",
                                                             updated_at=now))
            self.log.warning("file chunk refused by the recipient", message_id=sent.message_id,
                             reason=body.get("reason"))
        else:
            row = conn.execute(select(files_out).where(key)).first()
            pending = conn.execute(select(func.count()).select_from(chunks_out).where(
                (chunks_out.c.carrier == sent.carrier) & (chunks_out.c.n == sent.n)
                & (chunks_out.c.state != "delivered"))).scalar_one()
            if row is not None and row.state == "sent" and pending == 0:
                conn.execute(update(files_out).where(key).values(state="complete", updated_at=now))
                (self.out_dir / row.spool).unlink(missing_ok=True)
                self.log.info("file delivered", message_id=sent.carrier, n=sent.n)
        self.wake_soon()

    # -- receiving --------------------------------------------------------------------------------

    def expect(self, conn: Connection, carrier: Any, refs: Sequence[Mapping[str, Any]]) -> None:
        """In the transaction that stores a carrier: the files its sealed body lists are expected."""
        now = format_time(utcnow())
        if refs:
            conn.execute(insert(files_in), [
                {"carrier": carrier.id, "n": n, "sender": carrier.sender, "thread": carrier.thread,
                 "ref": json.dumps(dict(ref)), "state": "receiving", "received": 0, "expected_at": now}
                for n, ref in enumerate(refs)])

    def part_path(self, carrier: str, n: int) -> Path:
        return self.in_dir / f"{carrier}.{n}.part"

    def final_path(self, carrier: str, n: int) -> Path:
        return self.in_dir / f"{carrier}.{n}"

    def take_chunk(self, conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any]) -> None:
        """A chunk arrived (in the storing transaction): checked against its file's reference and
        written in place; the last one completes and verifies the file. ProtocolError if refused."""
        env = verified.envelope
        header = env.header  # signed; the body rule checked that the chunk holds header["bytes"]
        row = conn.execute(select(files_in).where(
            (files_in.c.carrier == header["file"]) & (files_in.c.n == header["n"]))).first()
        if row is None or row.sender != env.sender:
            raise ProtocolError("unknown_file", f"no file {header['n']} of message {header['file']} from {env.sender} "
                                                "is expected")
        if env.thread != row.thread or env.reply_to != row.carrier:
            raise ProtocolError("chunk_wrong_thread", "the chunk is not on its file's thread, in reply to its carrier")
        if row.state != "receiving":
            raise ProtocolError("file_closed", f"the file is {row.state} ({row.reason or 'no reason'}): no more "
                                               "chunks are taken")
        ref = json.loads(row.ref)
        index = header["chunk"]
        if header["chunks"] != len(ref["chunks"]):
            raise ProtocolError("chunk_out_of_range", f"the header counts {env.header['chunks']} chunks, the file "
                                                      f"has {len(ref['chunks'])}")
        if conn.execute(select(chunks_in.c.message_id).where(
                (chunks_in.c.carrier == row.carrier) & (chunks_in.c.n == row.n)
                & (chunks_in.c.chunk == index))).first() is not None:
            raise ProtocolError("duplicate_chunk", f"chunk {index} arrived already in another message")
        data = protocol_files.chunk_data(body)  # the opened plaintext itself: no decoding, no copy
        try:
            protocol_files.verify_chunk(ref, index, data)
        except PolicyError as exc:
            self._fail_in(conn, row, exc.reason)
            raise
        part = self.part_path(row.carrier, row.n)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, data, index * ref["chunk_bytes"])
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if row.received == 0:  # the part file was made now: its name on disk before the row commits
            sync_path(self.in_dir)
        del data
        now = format_time(utcnow())
        conn.execute(insert(chunks_in), {"carrier": row.carrier, "n": row.n, "chunk": index,
                                         "message_id": env.id, "at": now})
        received = row.received + 1
        key = (files_in.c.carrier == row.carrier) & (files_in.c.n == row.n)
        conn.execute(update(files_in).where(key).values(received=received))
        if received < len(ref["chunks"]):
            return
        if _sha256_of(part) != ref["sha256"]:
            self._fail_in(conn, row, "file_digest_mismatch")
            raise ProtocolError("file_digest_mismatch", f"file {ref['name'][:80]!r}: every chunk matched, the whole "
                                                        "file does not match its SHA-256")
        os.replace(part, self.final_path(row.carrier, row.n))
        sync_path(self.in_dir)  # the name the committed row shows survives a crash
        conn.execute(update(files_in).where(key).values(state="complete", completed_at=now))
        self.log.info("file received and verified", message_id=row.carrier, thread=row.thread, n=row.n,
                      size=ref["size"])

    def _fail_in(self, conn: Connection, row: Any, reason: str) -> None:
        """The file is refused as a whole: its partial bytes are deleted; it is never shown."""
        conn.execute(update(files_in).where((files_in.c.carrier == row.carrier) & (files_in.c.n == row.n))
                     .values(state="failed", reason=reason))
        self.part_path(row.carrier, row.n).unlink(missing_ok=True)
        self.log.warning("file refused", message_id=row.carrier, thread=row.thread, n=row.n, reason=reason)

    def sweep(self) -> int:
        """Files still incomplete past the timeout are failed (`file_incomplete`); their parts deleted."""
        cutoff = format_time(utcnow() - self.ctx.settings["file_timeout"])
        failed = 0
        with self.engine.begin() as conn:
            for row in conn.execute(select(files_in).where(
                    (files_in.c.state == "receiving") & (files_in.c.expected_at < cutoff))).all():
                self._fail_in(conn, row, "file_incomplete")
                failed += 1
        return failed

    async def watch(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # noqa: BLE001 - the next sweep retries
                self.log.exception("file sweep failed")
            await asyncio.sleep(self.ctx.settings["file_sweep_interval"])

    # -- the focal point's view -------------------------------------------------------------------

    def list(self, thread: str | None = None) -> list[dict[str, Any]]:
        """Every large file in or out (of a thread, if given): name, size, SHA-256, progress, state."""
        items = []
        with self.engine.connect() as conn:
            q_out, q_in = select(files_out), select(files_in)
            if thread:
                q_out, q_in = q_out.where(files_out.c.thread == thread), q_in.where(files_in.c.thread == thread)
            for r in conn.execute(q_out).all():
                ref = json.loads(r.ref)
                done = conn.execute(select(func.count()).select_from(chunks_out).where(and_(
                    chunks_out.c.carrier == r.carrier, chunks_out.c.n == r.n,
                    chunks_out.c.state == "delivered"))).scalar_one()
                items.append(_item("out", r, ref, done, r.recipient))
            for r in conn.execute(q_in).all():
                items.append(_item("in", r, json.loads(r.ref), r.received, r.sender))
        return items

    def download(self, carrier: str, n: int) -> tuple[Mapping[str, Any], Path]:
        """A received file, only once complete and verified. LookupError, or ProtocolError with the
        file's state as reason."""
        with self.engine.connect() as conn:
            row = conn.execute(select(files_in).where((files_in.c.carrier == carrier) & (files_in.c.n == n))).first()
        if row is None:
            raise LookupError(f"no received file {n} of message {carrier[:40]}")
        if row.state != "complete":
            raise ProtocolError(row.reason or "file_incomplete",
                                f"the file is {row.state}: only a complete, verified file can be downloaded")
        return json.loads(row.ref), self.final_path(carrier, n)


def _item(direction: str, row: Any, ref: Mapping[str, Any], done: int, peer: str) -> dict[str, Any]:
    return {"direction": direction, "carrier": row.carrier, "n": row.n, "thread": row.thread, "peer": peer,
            "name": ref["name"], "media_type": ref["media_type"], "size": ref["size"], "sha256": ref["sha256"],
            "chunks": len(ref["chunks"]), "done": done, "state": "sending" if row.state == "sent" else row.state,
            "reason": row.reason}


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in _pieces(f):
            digest.update(piece)
    return digest.hexdigest()


def _pieces(f: Any) -> Iterator[bytes]:
    while piece := f.read(_READ):
        yield piece


# -- the feature's hooks ------------------------------------------------------------------------------

def on_chunk(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
             body: Mapping[str, Any] | None) -> None:
    assert body is not None
    env = verified.envelope
    try:
        ctx.service.take_chunk(conn, verified, body)
    except ProtocolError as exc:
        record_refusal(conn, env.id, env.sender, exc.reason, f"{exc.reason}: {exc.detail}", format_time(utcnow()))
        log.warning("file chunk refused", message_id=env.id, thread=env.thread, reason=exc.reason, detail=exc.detail)


def on_receipt(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope, body: Mapping[str, Any]) -> None:
    ctx.service.on_chunk_receipt(conn, body)


def sent_bytes(ctx: FeatureContext, message_id: str) -> bytes | None:
    return ctx.service.sealed_bytes(message_id)


async def pump(ctx: FeatureContext) -> None:
    await ctx.service.pump()


async def watch(ctx: FeatureContext) -> None:
    await ctx.service.watch()


__all__ = ["FileTransfers", "Spool", "Spooled", "on_chunk", "on_receipt", "pump", "sent_bytes", "watch"]
