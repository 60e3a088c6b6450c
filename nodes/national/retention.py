"""The node's retention sweep (issue 20): every kind of stored data leaves the disk on its date.

One task per node runs `sweep` at start and every SWEEP_INTERVAL: held cases past their retention,
alerts past their review date, stored messages past their class's date (protocol/retention.py),
joint-investigation messages, reported hits; then `erase_freed` so that what was deleted is not
left readable in SQLite's write-ahead log. A deletion of personal data inside the inbox's
transaction (a case withdrawn) marks the connection (store.mark_personal_data_deleted); the inbox
erases right after that transaction commits, before it acknowledges the message.
docs/cases.md has the table: each kind of stored data, where, how long, what deletes it, the test.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Engine, delete, select

from nodes.national.store import delete_outbox, deliveries, messages, receipts, refusals
from nodes.plumbing.config import utcnow
from nodes.plumbing.db import erase_freed
from protocol import retention
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.parts import WithFeatures

log = structlog.get_logger("somex.retention")

SWEEP_INTERVAL = 600.0  # seconds
def purge_messages(engine: Engine, now: datetime) -> int:
    """Stored messages past their retention day, with their receipts, outbox and delivery rows.
    Messages whose retention a feature governs (a held case's carriers) have no day and stay."""
    today = now.date().isoformat()
    with engine.begin() as conn:
        ids = list(conn.execute(select(messages.c.message_id).where(messages.c.retain_until.is_not(None)
                                                                     & (messages.c.retain_until < today))).scalars())
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            conn.execute(delete(receipts).where(receipts.c.of.in_(chunk)))
            delete_outbox(conn, chunk)
            conn.execute(delete(deliveries).where(deliveries.c.message_id.in_(chunk)))
            conn.execute(delete(messages).where(messages.c.message_id.in_(chunk)))
        cutoff = format_time(now - timedelta(days=retention.DEFAULT_DAYS))
        conn.execute(delete(refusals).where(refusals.c.at < cutoff))
    return len(ids)


def sweep(node: WithFeatures, now: datetime) -> dict[str, int]:
    """One pass over everything with a retention date; the number deleted of each kind."""
    engine = node.store.engine
    removed: dict[str, int] = {}
    for feature in node.features:  # each message class purges its own data first
        for purge in feature.purges:
            removed.update(purge(node.contexts[feature.name], now))
    removed["messages"] = purge_messages(engine, now)
    if any(removed.values()):
        node.log.info("retention sweep deleted stored data", **removed)
    if not erase_freed(engine):
        node.log.warning("deleted data may stay in the write-ahead log until the next sweep: a reader held it")
    return removed


async def sweep_periodically(node: WithFeatures) -> None:
    while True:
        try:
            await asyncio.to_thread(sweep, node, utcnow())
        except Exception:  # noqa: BLE001 - a failed sweep is retried at the next one
            node.log.exception("retention sweep failed; it runs again in 10 minutes")
        await asyncio.sleep(SWEEP_INTERVAL)


__all__ = ["purge_messages", "sweep", "sweep_periodically"]
