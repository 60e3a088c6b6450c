"""End-to-end delivery assurance at the sending node: every receipted message it sends is tracked,
per recipient, until that recipient's signed receipt arrives (any kind settles it: `delivered`, or
a refusal); past a deadline the node raises an alarm and re-sends the SAME signed envelope (same id,
same bytes: its outbox row is published again). The hub forwards a known id with the same digest
again under its existing audit entry; recipients deduplicate by id and send their receipt again.

A message the hub rejected is settled as `rejected` (re-sending it cannot help): the rejection is
an alarm of its own (nodes/national/watchdogs.py).

Broadcasts (`*`, alerts) are not receipted types and are not tracked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, and_, func, select, update

from crypto.signing import VerifiedEnvelope
from nodes.national.store import deliveries, outbox
from nodes.plumbing.config import utcnow
from nodes.plumbing.row_inserts import insert_rows
from protocol import messages
from protocol.envelope import Envelope
from protocol.timefmt import format_time, parse_time

if TYPE_CHECKING:
    from nodes.national.parts import EffectTable, NodeBasics, Relay

log = structlog.get_logger("somex.delivery")

PENDING, SETTLED, REJECTED = "pending", "settled", "rejected"
OVERDUE_ALARM = "delivery_overdue"
MAX_RESEND_INTERVAL_FACTOR = 8  # re-sends back off: deadline, 2×, 4×, ... up to 8× the deadline


def install(node: EffectTable, rejected: Callable[[VerifiedEnvelope, Mapping[str, Any]], None]) -> None:
    """Add the effect of a hub rejection: it settles the rejected message's deliveries and tells
    `rejected` (the watchdogs' alarm). (A receipt settles its delivery in nodes/national/receipts.py,
    once it is known to be genuine.)"""
    previous_rejection = node.effects.get("hub.rejection")

    def on_rejection(n: Any, conn: Connection, verified: VerifiedEnvelope,
                     body: Mapping[str, Any] | None) -> Sequence[Envelope] | None:
        answers = previous_rejection(n, conn, verified, body) if previous_rejection else None
        assert body is not None
        if body.get("of"):
            settle(conn, body["of"], None, REJECTED, body["at"])
        rejected(verified, body)
        return answers

    node.effects["hub.rejection"] = on_rejection


def track(conn: Connection, envs: Sequence[Envelope], queued_at: datetime, deadline_seconds: float) -> None:
    """In the transaction that queues `envs`: one pending delivery per recipient of each receipted one."""
    due = format_time(queued_at + timedelta(seconds=deadline_seconds))
    rows = [{"message_id": e.id, "recipient": r, "type": e.type, "thread": e.thread,
             "queued_at": format_time(queued_at), "due": due, "state": PENDING, "resends": 0, "expires": e.expires}
            for e in envs if messages.lookup(e.type).receipted for r in e.recipients if r != "*"]
    insert_rows(conn, deliveries, rows)


def settle(conn: Connection, message_id: str, recipient: str | None, state: str, at: str) -> None:
    where = and_(deliveries.c.message_id == message_id, deliveries.c.state == PENDING)
    if recipient is not None:
        where = and_(where, deliveries.c.recipient == recipient)
    conn.execute(update(deliveries).where(where).values(state=state, settled_at=at))


def status_of(conn: Connection, message_id: str) -> list[dict[str, Any]]:
    """Per recipient: state (pending / overdue / settled / rejected), when queued, re-sends."""
    rows = conn.execute(select(deliveries).where(deliveries.c.message_id == message_id)
                        .order_by(deliveries.c.recipient)).all()
    return [{"recipient": r.recipient, "state": "overdue" if r.state == PENDING and r.overdue_since else r.state,
             "queued_at": r.queued_at, "overdue_since": r.overdue_since, "resends": r.resends,
             "settled_at": r.settled_at} for r in rows]


def status(node: NodeBasics, message_id: str) -> list[dict[str, Any]]:
    with node.store.engine.connect() as conn:
        return status_of(conn, message_id)


def states(node: NodeBasics, message_ids: Sequence[str]) -> dict[str, str]:
    with node.store.engine.connect() as conn:
        return states_of(conn, message_ids)


def states_of(conn: Connection, message_ids: Sequence[str]) -> dict[str, str]:
    """One word per message for lists: overdue if any recipient is, else pending if any is, else
    rejected or receipted; messages that are not tracked are absent."""
    if not message_ids:
        return {}
    rows = conn.execute(select(deliveries.c.message_id, deliveries.c.state, deliveries.c.overdue_since)
                        .where(deliveries.c.message_id.in_(list(message_ids)))).all()
    rank = {"receipted": 0, REJECTED: 1, PENDING: 2, "overdue": 3}
    result: dict[str, str] = {}
    for r in rows:
        word = ("overdue" if r.overdue_since else PENDING) if r.state == PENDING else \
            ("receipted" if r.state == SETTLED else r.state)
        if rank[word] >= rank.get(result.get(r.message_id, "receipted"), 0):
            result[r.message_id] = word
    return result


def counts(conn: Connection) -> dict[str, int]:
    pending = conn.execute(select(func.count(func.distinct(deliveries.c.message_id)))
                           .where(deliveries.c.state == PENDING)).scalar_one()
    overdue = conn.execute(select(func.count(func.distinct(deliveries.c.message_id)))
                           .where((deliveries.c.state == PENDING) & deliveries.c.overdue_since.is_not(None))).scalar_one()
    return {"awaiting_receipt": pending, "overdue": overdue}


def sweep(node: NodeBasics, now: datetime) -> list[dict[str, Any]]:
    """Mark what is past its deadline overdue and queue it again (its outbox row is published
    again, same bytes); return the messages that became overdue in this sweep."""
    stamp = format_time(now)
    deadline = node.config.delivery_deadline.total_seconds()
    newly: list[dict[str, Any]] = []
    with node.store.engine.begin() as conn:
        due = conn.execute(select(deliveries).where((deliveries.c.state == PENDING) & (deliveries.c.due <= stamp))).all()
        resend: set[str] = set()
        for row in due:
            factor = min(2 ** row.resends, MAX_RESEND_INTERVAL_FACTOR)
            values: dict[str, Any] = {"due": format_time(now + timedelta(seconds=deadline * factor))}
            if row.overdue_since is None:
                values["overdue_since"] = stamp
                newly.append({"message_id": row.message_id, "recipient": row.recipient, "type": row.type,
                              "thread": row.thread, "queued_at": row.queued_at})
            if parse_time(row.expires) > now:  # an expired message would only be rejected
                values["resends"] = row.resends + 1
                resend.add(row.message_id)
            conn.execute(update(deliveries).where((deliveries.c.message_id == row.message_id)
                                                  & (deliveries.c.recipient == row.recipient)).values(**values))
        if resend:  # published again by the relay, exactly as first signed
            conn.execute(update(outbox).where(outbox.c.message_id.in_(sorted(resend))
                                              & outbox.c.published_at.is_not(None)).values(published_at=None))
    return newly


def overdue(node: NodeBasics, limit: int = 20) -> list[dict[str, Any]]:
    with node.store.engine.connect() as conn:
        rows = conn.execute(select(deliveries).where((deliveries.c.state == PENDING)
                                                     & deliveries.c.overdue_since.is_not(None))
                            .order_by(deliveries.c.queued_at).limit(limit)).all()
    return [{"message_id": r.message_id, "recipient": r.recipient, "type": r.type, "queued_at": r.queued_at,
             "resends": r.resends} for r in rows]


async def watch(node: Relay) -> None:
    """Every `delivery_sweep_interval` seconds: alarm on and re-send overdue messages."""
    while True:
        await asyncio.sleep(node.config.delivery_sweep_interval)
        try:
            await asyncio.to_thread(check, node)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a database hiccup: the next sweep retries
            node.log.exception("delivery sweep failed; will try again")


def check(node: Relay) -> None:
    newly = sweep(node, utcnow())
    for d in newly:
        node.log.error("no delivery receipt in time: re-sending the same signed message", message_id=d["message_id"],
                       thread=d["thread"], recipient=d["recipient"], type=d["type"], queued_at=d["queued_at"],
                       action="check the recipient's node and the hub; the alarm clears when the receipt arrives")
    if newly:
        node.wake_soon()
    late = overdue(node)
    if late:
        with node.store.engine.connect() as conn:
            total = counts(conn)["overdue"]
        first = late[0]
        node.alarms.raise_alarm(
            OVERDUE_ALARM, OVERDUE_ALARM,
            f"{total} sent message(s) without a delivery receipt past the deadline "
            f"({node.config.delivery_deadline.total_seconds():g} s); oldest {first['message_id']} to {first['recipient']}"
            ", re-sent; check the recipient's node and the hub",
            count=total, message_id=first["message_id"], recipients=sorted({d["recipient"] for d in late}))
    else:
        node.alarms.clear(OVERDUE_ALARM)


__all__ = ["deliveries", "install", "settle", "status_of", "states_of", "track", "watch"]
