"""A batch's Ed25519 checks made by worker processes while the hub decides (issue 19).

The hub hands the signatures of a batch (raw key, signature, signed bytes) to a worker process
(nodes/hub/signature_worker.py) as soon as the batch is read, and decides meanwhile. Nothing is
decided in the worker. `SignatureChecks.check` stands in for crypto.keys.verify_signature inside
crypto.signing.verify_envelope, which still resolves the signer's key when the message is decided
(directory, revocations, validity then current). It returns without a check of its own only when
a worker verified exactly these inputs (algorithm, the same key object, signature bytes, signed
bytes) and answered that they hold; everything else — a bad signature, a key resolved otherwise
at decision time, a worker that died, garbled its answer or did not answer in time — is checked
in-process by verify_signature, which raises the reason. No message is accepted on a check that
was not made. A worker that failed is killed and a new one started for the next batch.

Processes, not threads: cryptography 50 releases the GIL inside verify, but a thread needs the
GIL back between two checks, and the event loop's thread holds it for its switch interval (5 ms),
so a thread pool made the hub slower (docs/performance.md, "hub19d").
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import structlog

from crypto.keys import ED25519, PublicKey, raw_public, verify_signature
from nodes.hub.signature_worker import KEY, SIGNATURE, encode_request
from protocol.encoding import decode_base64
from protocol.envelope import Envelope

log = structlog.get_logger("somex.hub")

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
CHUNK = 16  # checks per request: the first decisions of a batch wait for one chunk, not for the batch
WAIT = 5.0  # seconds a decision waits for a worker's answer before checking in-process
RESTART_DELAY = 10.0  # a failed worker is replaced no sooner than this after it was started

Check = tuple[PublicKey, bytes, bytes]  # (key, signature, signed bytes)
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])  # where `nodes` is, whatever the working directory


class WorkerFailed(Exception):
    """A signature worker died, garbled its answer or did not answer in time."""


class _Job:
    """One request to a worker: its answer, once read."""
    __slots__ = ("answer", "count", "failure")

    def __init__(self, count: int) -> None:
        self.count = count
        self.answer: bytes | None = None
        self.failure: BaseException | None = None


class SignatureWorker:
    """One worker process and the requests it has not answered yet (first in, first answered).
    Used from the event loop's thread only; reading and writing never wait beyond `WAIT`."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        path = os.pathsep.join(p for p in (_SOURCE_ROOT, os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen([sys.executable, "-m", "nodes.hub.signature_worker"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                                        env={**os.environ, "PYTHONPATH": path})
        self._out, self._in = self.process.stdin.fileno(), self.process.stdout.fileno()
        try:  # room for a whole batch's requests at once (Linux; 1 MiB is the unprivileged maximum)
            fcntl.fcntl(self._out, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        os.set_blocking(self._out, False)  # what does not fit is written as the worker reads
        self._unsent = bytearray()
        self._waiting: deque[_Job] = deque()
        self._answered = bytearray()
        self.failed: BaseException | None = None

    def submit(self, checks: list[tuple[bytes, bytes, bytes]]) -> _Job:
        job = _Job(len(checks))
        if self.failed is not None:
            job.failure = self.failed
            return job
        self._unsent += encode_request(checks)
        self._waiting.append(job)
        self._exchange(0)
        return job

    def wait(self, job: _Job, timeout: float = WAIT) -> None:
        """Until `job` is answered or has failed (then every job still waiting fails with it)."""
        if self._unsent and self.failed is None:
            self._exchange(0)
        deadline = time.monotonic() + timeout
        while job.answer is None and job.failure is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(WorkerFailed(f"no answer within {timeout:g}s"))
            else:
                self._exchange(left)

    def _exchange(self, timeout: float) -> None:
        try:
            readable, writable, _ = select.select([self._in], [self._out] if self._unsent else [], [], timeout)
            if writable:
                try:
                    del self._unsent[:os.write(self._out, self._unsent)]
                except BlockingIOError:
                    pass
            if readable:
                got = os.read(self._in, 65536)
                if not got:
                    raise WorkerFailed("the worker exited")
                self._answered += got
                while self._waiting and len(self._answered) >= self._waiting[0].count:
                    job = self._waiting.popleft()
                    job.answer = bytes(self._answered[:job.count])
                    del self._answered[:job.count]
                if self._answered and not self._waiting:
                    raise WorkerFailed("the worker answered what it was not asked")
        except (OSError, ValueError, WorkerFailed) as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self.failed is None:
            log.warning("a signature worker failed; its checks are made in-process and a new worker started",
                        error=repr(exc)[:200], pid=self.process.pid)
        self.failed = exc
        while self._waiting:
            self._waiting.popleft().failure = exc
        self.close()

    def close(self) -> None:
        self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.process.wait()


class _Made(NamedTuple):
    key: PublicKey
    signature: bytes
    worker: SignatureWorker
    job: _Job
    index: int  # in the job's answer


class SignatureChecks:
    """The checks started for one batch; `check` has crypto.keys.verify_signature's contract."""

    def __init__(self) -> None:
        self._made: dict[bytes, _Made] = {}  # by signed bytes (the envelope's cached signing input)

    def add(self, worker: SignatureWorker, job: _Job, checks: Sequence[Check]) -> None:
        for index, (key, signature, data) in enumerate(checks):
            self._made.setdefault(data, _Made(key, signature, worker, job, index))

    def check(self, alg: str, public_key: PublicKey, signature: bytes, data: bytes) -> None:
        made = self._made.get(data)
        if made is not None and alg == ED25519 and made.key is public_key and made.signature == signature:
            made.worker.wait(made.job)
            if made.job.answer is not None and made.job.answer[made.index] == 1:
                return
        verify_signature(alg, public_key, signature, data)


class SignaturePool:
    """`workers` signature worker processes (0: none, every check is made in-process), started with
    the hub, restarted after a failure, stopped with it."""

    def __init__(self, workers: int) -> None:
        self._count = workers
        self.workers: list[SignatureWorker] = []
        self._raw: dict[int, tuple[PublicKey, bytes]] = {}  # id(key) → (key, its raw bytes)

    def start(self, envelopes: Iterable[Envelope | None], trust, now: datetime) -> SignatureChecks | None:  # noqa: ANN001
        """Start checking the signatures of `envelopes` under their keys as they resolve at `now`;
        what does not resolve or decode is left to the decision, which refuses it with its reason.
        None without workers: the decision checks each signature itself (verify_signature)."""
        if not self._count:
            return None
        started = SignatureChecks()
        chunk: list[Check] = []
        chunks = [chunk]
        for env in envelopes:
            sig = env.sig if env is not None else None
            if sig is None or sig.alg != ED25519:
                continue
            try:
                key = trust.signer(sig.kid, now)[1]
                check = (key, self._raw_key(key), decode_base64(sig.value), env.signing_input())
            except Exception:  # noqa: BLE001,S112 - fails again in the decision, which names the reason
                continue
            if len(check[1]) != KEY or len(check[2]) != SIGNATURE:
                continue  # not what a worker takes: the decision refuses it
            if len(chunk) == CHUNK:
                chunk = []
                chunks.append(chunk)
            chunk.append(check)
        workers = self._running()
        for i, chunk in enumerate(c for c in chunks if c and workers):
            worker = workers[i % len(workers)]
            job = worker.submit([(raw, signature, data) for _, raw, signature, data in chunk])
            started.add(worker, job, [(key, signature, data) for key, _, signature, data in chunk])
        return started

    def open(self) -> None:
        """Start the workers now (the hub's start), so that the first batch does not wait for them."""
        self._running()

    def _running(self) -> list[SignatureWorker]:
        """The workers that work, those that failed replaced (not sooner than RESTART_DELAY after
        their start: one that cannot run is not restarted for every batch); what cannot be started
        is logged, and the checks are made in-process."""
        try:
            for i, worker in enumerate(self.workers):
                if worker.failed is not None and time.monotonic() - worker.started >= RESTART_DELAY:
                    self.workers[i] = SignatureWorker()
            while len(self.workers) < self._count:
                self.workers.append(SignatureWorker())
        except Exception as exc:  # noqa: BLE001 - e.g. no processes left: every check in-process
            log.error("a signature worker could not be started; checking signatures in-process",
                      error=repr(exc)[:200])
        return [w for w in self.workers if w.failed is None]

    def _raw_key(self, key: PublicKey) -> bytes:
        known = self._raw.get(id(key))
        if known is None or known[0] is not key:
            if len(self._raw) > 4096:
                self._raw.clear()
            known = self._raw[id(key)] = (key, raw_public(key))
        return known[1]

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers]

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers = []
