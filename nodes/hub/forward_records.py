"""Forward completion (table `forwarded`, an operational record: docs/audit-log.md) written in the
next batch's append transaction instead of a transaction of its own after every batch; whatever no
batch took within `delay` is written on its own. A transaction through a thread hop costs the hub
~0.35-0.8 ms of CPU, at low rates (batches of a few messages) a large part of a message's cost.

Nothing recovers from this table: a message whose batch was not acknowledged is redelivered and
forwarded again by its entry. A crash can leave the last forwards done unrecorded (at most `delay`
or one batch's worth), never a forward undone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

import structlog

log = structlog.get_logger("somex.hub")


class ForwardStore(Protocol):
    def record_forwards(self, done: Mapping[int, str]) -> None: ...


class ForwardRecords:
    """Forwards done and not yet recorded: entry seq → when."""

    def __init__(self, store: ForwardStore, delay: float = 0.5) -> None:
        self._store, self.delay = store, delay
        self._pending: dict[int, str] = {}
        self._writer: asyncio.Task | None = None

    def add(self, seqs: Iterable[int], at: str) -> None:
        self.give_back(dict.fromkeys(seqs, at))

    def take(self) -> dict[int, str]:
        """The records not yet written, for the caller's transaction (`give_back` if it fails)."""
        pending, self._pending = self._pending, {}
        return pending

    def give_back(self, pending: Mapping[int, str]) -> None:
        self._keep(pending)
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_when_no_batch_did(), name="hub-forward-records")

    def _keep(self, pending: Mapping[int, str]) -> None:
        for seq, at in pending.items():
            self._pending.setdefault(seq, at)

    async def _write_when_no_batch_did(self) -> None:
        while self._pending:
            await asyncio.sleep(self.delay)
            pending = self.take()
            if not pending:
                continue
            try:
                await asyncio.to_thread(self._store.record_forwards, pending)
            except asyncio.CancelledError:
                self._keep(pending)
                raise
            except Exception as exc:  # noqa: BLE001 - storage away: kept, written with a later batch
                self._keep(pending)
                log.warning("recording forwards done failed; will try again", error=str(exc)[:200])

    async def close(self) -> None:
        """Stop the writer and write what is pending (a clean stop leaves no forward unrecorded)."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        pending = self.take()
        if pending:
            try:
                await asyncio.to_thread(self._store.record_forwards, pending)
            except Exception as exc:  # noqa: BLE001 - an operational record; the entries are durable
                log.warning("recording forwards done at stop failed", count=len(pending), error=str(exc)[:200])
