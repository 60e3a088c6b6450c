"""Hit reports after the answer: a border check that finds something holds its reports (`person.hit`
to a matched alert's issuer, `alert.hit` to a flagged document's) in its own durable transaction, with
their message ids assigned, answers, and hands them to the reporter, which builds, signs and queues
them in the outbox and releases them, in one transaction per round. Reports a stop or a crash left
held are sent first at the next start, under the ids the answers gave (docs/person-alerts.md, "Hit
reports").

On SQLite the round commits with `synchronous=NORMAL` on the event loop (a local write without an
fsync of its own: cheaper than a thread hop, as for the check's own commit): what it writes is
already durable as held reports, so a power loss that takes the round takes it whole and the next
start sends them again under the same ids (a copy the relay had published meanwhile reaches the hub
twice: it refuses the second as a replay). On a database server the round runs in a thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from nodes.national.feature import FeatureContext
from nodes.national.features.person import store
from protocol.errors import ProtocolError

ROUND = 64  # reports built and queued per transaction
RETRY_SECONDS = 1.0  # after a round failed (e.g. the database was busy): its reports wait, held


async def _give_way() -> None:
    """Two turns of the event loop: in the first it reads what arrived on its sockets and schedules
    the handlers, in the second they run (up to their first wait)."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class Reporter:
    """Sends held hit reports: those `hand`ed over by checks, and at start those left held."""

    def __init__(self, ctx: FeatureContext, checkpoints: store.WalCheckpoints | None) -> None:
        self.ctx = ctx
        self._checkpoints = checkpoints  # SQLite: the check's connections' checkpoint turn
        self._conn: Connection | None = None
        self._waiting: deque[store.HeldReport] = deque()
        self._wake = asyncio.Event()
        self._in_round = False
        # A duplicate id, as SQLAlchemy raises it or the driver's cursor does (row_inserts.py)
        self._taken = (IntegrityError, ctx.db.dialect.loaded_dbapi.IntegrityError)

    def hand(self, reports: Sequence[store.HeldReport]) -> None:
        """Reports a check has just committed as held."""
        self._waiting.extend(reports)
        self._wake.set()

    def busy(self) -> bool:
        """Reports wait or a round is under way."""
        return self._in_round or bool(self._waiting)

    async def run(self) -> None:
        """Those left held first, then rounds while reports wait; each round's fault is retried."""
        while True:
            try:
                left = await asyncio.to_thread(store.held_reports, self.ctx.db)
                break
            except Exception:  # noqa: BLE001 - the database at start (e.g. a failover): read again
                self.ctx.log.exception("held hit reports not read; retrying", retry_in_seconds=RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
        handed = {r.message_id for r in self._waiting}  # a check may have run meanwhile
        self._waiting.extendleft(reversed([r for r in left if r.message_id not in handed]))
        if left:
            self.ctx.log.info("hit reports left held are sent now", count=len(left))
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._waiting.popleft() for _ in range(min(ROUND, len(self._waiting)))]
            self._in_round = True
            try:
                await self.send(batch)
            except Exception:  # noqa: BLE001 - the database: the reports stay held; retried
                self._waiting.extendleft(reversed(batch))
                self.ctx.log.exception("hit reports not queued; retrying", retry_in_seconds=RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                self._in_round = False

    async def send(self, batch: Sequence[store.HeldReport]) -> None:
        """One round: each report built and signed, then queued, and all released, in one transaction.
        Checks go first: the round gives way to the loop before each step (a check that arrived
        meanwhile answers before the step runs)."""
        envs = []
        for report in batch:
            await _give_way()
            env = self._build(report)
            if env is not None:
                envs.append(env)
        released = [r.message_id for r in batch]
        await _give_way()
        if self._checkpoints is None:
            await asyncio.to_thread(self._queue_each_if_need_be, envs, released)
        else:
            self._queue_each_if_need_be(envs, released)
        if envs:
            self.ctx.wake_relay()  # committed now: the relay reads them at once
        for env in envs:
            self.ctx.events.publish({"kind": "sent", "id": env.id, "type": env.type, "thread": env.thread,
                                     "to": list(env.recipients)})

    def _build(self, report: store.HeldReport) -> Any:
        """The signed report, or None if it cannot be sent (the hit stands in the check log): one
        report's fault never holds back the others."""
        log = self.ctx.log.bind(message_id=report.message_id, type=report.type, issuer=report.recipient)
        if report.body is None:
            log.error("held hit report unreadable; dropped (the check log keeps the hit)")
            return None
        try:
            return self.ctx.build(report.type, [report.recipient], body=report.body, message_id=report.message_id)
        except ProtocolError as exc:  # e.g. the issuer left the federation since the check
            log.warning("hit report not sendable; dropped (the check log keeps the hit)", reason=exc.reason,
                        detail=exc.detail)
        except Exception:  # noqa: BLE001 - a defect this report meets must not hold back the others
            log.exception("hit report could not be built; dropped (the check log keeps the hit)")
        return None

    def _queue_each_if_need_be(self, envs: list[Any], released: list[str]) -> None:
        """The round in one transaction; if a report's message is in the outbox already (its id
        taken), each report in one of its own, that one released without a second copy."""
        try:
            self._queue(envs, released)
            return
        except self._taken:
            self.ctx.log.warning("a hit report of the round is queued already; queuing them one by one")
        by_id = {env.id: env for env in envs}
        for message_id in released:
            env = by_id.get(message_id)
            try:
                self._queue([env] if env is not None else [], [message_id])
            except self._taken:
                self._queue([], [message_id])

    def _queue(self, envs: list[Any], released: list[str]) -> None:
        if self._checkpoints is None:
            with self.ctx.db.begin() as conn:
                self._write(conn, envs, released)
            return
        if self._conn is None:
            self._conn = store.private_connection(self.ctx.db, "NORMAL")
        with self._checkpoints.turn, self._conn.begin():
            self._write(self._conn, envs, released)
        self._checkpoints.committed()

    def _write(self, conn: Connection, envs: list[Any], released: list[str]) -> None:
        if envs:
            self.ctx.enqueue(envs, conn)
        store.release_reports(conn, released)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
