"""The one read path for message bodies a focal point opens, and the inbox's unread marks.

Sealed bodies carry personal data (case information, MLA requests and answers, joint-investigation
messages). Every route that shows one (API, console, and the CLI and exports, which go through the
API) gets it from `open_message`, never from the node's sealing key: the opening is journaled in
`body_access_log` (who, when, which message) in the same transaction that lets the body out, a
`case.share` is also logged in `case_access_log` against the case it carries (docs/cases.md: every
read is logged), the envelope's handling code comes back with the notices to show next to the data,
and a focal point's first look at a received MLA request sends the `retrieved` receipt.
`tests/integration/test_personal_data_reads.py` walks every API route and console page to hold
this; `tests/unit/test_read_path.py` checks that nothing else calls the node's opener.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from nodes.national.opened import OpenedMessage
from nodes.plumbing.config import utcnow
from nodes.plumbing.row_inserts import insert_rows
from nodes.plumbing.http import ROLE, role_of
from protocol import cases as case_rules
from protocol import envelope as wire
from protocol.catalog import REGISTRY
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.parts import NodeBasics, Opener

log = structlog.get_logger("somex.reads")
OFFICER_HEADER = "X-Somex-Officer"  # optional: the person behind the role token, for the access logs
CONSOLE_READER = "console:focal"

metadata = MetaData()
reads = Table(
    "message_reads", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("read_at", String(32), nullable=False),
)
body_access_log = Table(
    "body_access_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("who", String(200), nullable=False),
    Column("purpose", String(32), nullable=False),  # "read" or "attachment"
    Column("message_id", String(36), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("sender", String(3), nullable=False),
    Column("thread", String(128)),
)


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


def open_message(node: Opener, message_id: str, who: str, purpose: str = "read") -> OpenedMessage:
    """The body of a stored message for `who`; LookupError if there is none, SealError/DecodeError
    (reason codes) if it cannot be opened. A sealed body is journaled before it is returned."""
    stored = node.store.get(message_id)
    raw = node.store.raw(message_id) if stored is not None else None
    if stored is None or raw is None:
        raise LookupError(f"no message {message_id[:40]}")
    if not raw:  # a file chunk once its bytes are in the file on disk (docs/evidence-files.md)
        raise LookupError(f"message {message_id[:40]}: its sealed copy is not kept; the file it carried is")
    env = wire.decode(raw)
    body = node._open_body(env)  # noqa: SLF001 - the read path is the one caller outside the inbox
    handling = dict(env.handling)
    opened = OpenedMessage(env.id, env.type, env.sender, stored.direction, body, handling,
                           case_rules.handling_notices(handling) if "code" in handling else [],
                           env.header.get("reference") if isinstance(env.header.get("reference"), str) else None,
                           sealed=env.sealed is not None)
    if not opened.sealed and not getattr(REGISTRY.get(env.type), "personal_data", False):
        return opened  # a clear body without personal data (the hub and every recipient see it)
    with node.store.engine.begin() as conn:
        journal(conn, who, purpose, [(env.id, env.type, env.sender, env.thread)])
        for ctx, hook in node.read_hooks.get(env.type, ()):  # the features' own journal of the reading
            hook(ctx, conn, env, body, stored.direction, who)
    node.log.info("sealed body opened", message_id=env.id, thread=env.thread, type=env.type,
             purpose=purpose)
    return opened


def journal(conn: Connection, who: str, purpose: str, opened: Iterable[tuple[str, str, str, str | None]]) -> None:
    """Record sealed bodies (message id, type, sender, thread) let out to `who`, in the caller's
    transaction: the body leaves only if the record is committed with it."""
    at = format_time(utcnow())
    rows = [{"at": at, "who": who[:200], "purpose": purpose, "message_id": message_id, "type": type,
             "sender": sender, "thread": thread} for message_id, type, sender, thread in opened]
    insert_rows(conn, body_access_log, rows)


def reader(request: web.Request) -> str:
    """Who reads, for the access logs: the API role, and the officer if the caller names one."""
    role = role_of(request, request.app[ROLE]) or "?"
    officer = request.headers.get(OFFICER_HEADER, "").strip()
    return f"{role}:{officer[:150]}" if officer else role


def access_entries(node: NodeBasics, message_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """The journal of sealed bodies opened here, newest first."""
    query = select(body_access_log).order_by(body_access_log.c.seq.desc()).limit(limit)
    if message_id is not None:
        query = query.where(body_access_log.c.message_id == message_id)
    with node.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- unread marks (which received messages a focal point has opened in the console) -------------------

def mark_read(engine: Engine, message_id: str, at: str) -> None:
    """The first opening counts; opening it again (or in two tabs at once) changes nothing."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(reads), {"message_id": message_id, "read_at": at})
    except IntegrityError:
        pass


def read_ids(engine: Engine, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(reads.c.message_id).where(reads.c.message_id.in_(ids))).scalars())
