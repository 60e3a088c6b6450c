"""The focal point's inbox and sent messages, and one message (opening a received one marks it read).

The store pages by type and thread; country and dates are applied here to the latest PAGE
messages, which the page says when it filters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from urllib.parse import urlencode

from aiohttp import web

from crypto.errors import CryptoError
from nodes.national import delivery, reads
from nodes.national.node import NationalNode
from nodes.national.store import StoredMessage
from nodes.runtime import console
from nodes.runtime.config import utcnow
from nodes.runtime.openapi import document
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

NODE = web.AppKey("somex_console_messages_node", NationalNode)
PAGE = 200
FILTERS = ("type", "country", "thread", "since", "until")


def add_routes(app: web.Application, node: NationalNode) -> None:
    app[NODE] = node
    app.router.add_get("/console/inbox", inbox)
    app.router.add_get("/console/sent", sent)
    app.router.add_get("/console/messages/{id}", message_page)
    session = [{"session": []}]
    params = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in (*FILTERS, "partial")]
    html = {"200": {"description": "an HTML page (with ?partial=1 only its live part)", "content": {"text/html": {}}}}
    document(app, {
        "/console/inbox": {"get": {"summary": "Received messages, unread marked (live; filters: type, country, "
                                              "thread, since, until)", "tags": ["console"], "security": session,
                                   "parameters": params, "responses": html}},
        "/console/sent": {"get": {"summary": "Sent messages (live; same filters as the inbox)", "tags": ["console"],
                                  "security": session, "parameters": params, "responses": html}},
        "/console/messages/{id}": {"get": {
            "summary": "One message, its receipts and body; opening a received message marks it read",
            "tags": ["console"], "security": session,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {**html, "404": {"description": "no such message", "content": {"text/html": {}}}}}},
    })


class FilterError(ValueError):
    pass


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} is a date like 2026-11-23, not {value[:20]!r}") from None


def keep(rows: Sequence[StoredMessage], direction: str, country: str | None, since: date | None,
         until: date | None) -> list[StoredMessage]:
    """The rows from (inbox) or to (sent) `country`, stored from `since` to `until` (days, inclusive)."""
    def other_side(m: StoredMessage) -> list[str]:
        return [m.sender] if direction == "in" else m.recipients

    return [m for m in rows
            if (not country or country.upper() in other_side(m))
            and (since is None or m.stored_at[:10] >= since.isoformat())
            and (until is None or m.stored_at[:10] <= until.isoformat())]


@console.view("focal")
async def inbox(request: web.Request) -> web.Response:
    return await _listing(request, "in", "Inbox")


@console.view("focal")
async def sent(request: web.Request) -> web.Response:
    return await _listing(request, "out", "Sent")


async def _listing(request: web.Request, direction: str, heading: str) -> web.Response:
    node = request.app[NODE]
    q = {name: request.query.get(name, "").strip() for name in FILTERS}
    try:
        since, until = parse_day(q["since"], "since"), parse_day(q["until"], "until")
        error = None
    except FilterError as exc:
        since = until = None
        error = str(exc)
    rows = await asyncio.to_thread(node.store.list, direction=direction, type=q["type"] or None,
                                   thread=q["thread"] or None, limit=PAGE)
    shown = [] if error else keep(rows, direction, q["country"], since, until)
    read = await asyncio.to_thread(reads.read_ids, node.store.engine, [m.message_id for m in shown]) \
        if direction == "in" else set()
    live = f"{request.path}?{urlencode({**{k: v for k, v in q.items() if v}, 'partial': '1'})}"
    template = "node/messages_rows.html" if request.query.get("partial") == "1" else "node/messages.html"
    tracked = await asyncio.to_thread(delivery.states, node, [m.message_id for m in shown]) \
        if direction == "out" else {}
    return console.render(request, template, status=400 if error else 200, heading=heading, direction=direction,
                          delivery=tracked,
                          messages=shown, unread={m.message_id for m in shown if direction == "in"} - read,
                          filters=q, error=error, live=live, page=PAGE)


@console.view("focal")
async def message_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    message_id = request.match_info["id"]
    stored = await asyncio.to_thread(node.store.get, message_id)
    if stored is None:
        return console.error_page(request, 404, "No such message", f"no message {message_id[:40]}")
    if stored.direction == "in":
        await asyncio.to_thread(reads.mark_read, node.store.engine, message_id, format_time(utcnow()))
    receipts = await asyncio.to_thread(node.store.receipts_for, message_id)
    opened, unreadable = await asyncio.to_thread(_open, node, message_id)
    return console.render(request, "node/message.html", heading=f"Message {stored.type}", message=stored,
                          receipts=receipts, unreadable=unreadable,
                          body=opened.body_without_attachment_contents() if opened else None,
                          banner=opened.banner() if opened and opened.sealed else None)


def _open(node: NationalNode, message_id: str) -> tuple[reads.OpenedMessage | None, str | None]:
    """The body through the read path (a sealed one is logged and may send a `retrieved` receipt)."""
    try:
        return reads.open_message(node, message_id, reads.CONSOLE_READER), None
    except LookupError as exc:
        return None, str(exc)
    except (ProtocolError, CryptoError) as exc:
        return None, f"{exc.reason}: {exc.detail}"
