"""The focal point's inbox and sent messages, and one message (opening a received one marks it read).

The store pages by type and thread; country and dates are applied here to the latest PAGE
messages, which the page says when it filters."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select

from crypto.errors import CryptoError
from nodes.national import delivery, reads
from nodes.national.node import NationalNode
from nodes.national.store import StoredMessage
from nodes.national.store import messages as store_messages
from nodes.plumbing import console
from nodes.plumbing.i18n import WordsError, words
from nodes.plumbing.config import utcnow
from nodes.plumbing.openapi import document
from protocol import envelope as wire
from protocol import messages
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

NODE = web.AppKey("somex_console_messages_node", NationalNode)
PAGE = 200
SUBJECT_CHARS = 80
TYPES = tuple(sorted(t for t in messages.REGISTRY if t not in ("hub.checkpoint", "witness.cosign")))
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


class FilterError(WordsError):
    pass


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(words("%(name)s: a date like 2026-11-23 (year-month-day), not %(value)s", name=name,
                                value=repr(value[:20]))) from None


def parse_country(value: str | None, members: Sequence[str]) -> str | None:
    """A member's code in any case (mex = MEX); anything else is an error naming the members, so
    a filter never silently matches nothing."""
    if not value:
        return None
    code = value.strip().upper()
    if code not in members:
        raise FilterError(words("country: the three-letter code of a member (%(members)s), not %(value)s",
                                members=", ".join(members), value=repr(value[:20])))
    return code


def parse_type(value: str | None) -> str | None:
    if not value:
        return None
    if value not in TYPES:
        raise FilterError(words("type: one of %(types)s, not %(value)s", types=", ".join(TYPES),
                                value=repr(value[:40])))
    return value


def keep(rows: Sequence[StoredMessage], direction: str, country: str | None, since: date | None,
         until: date | None) -> list[StoredMessage]:
    """The rows from (inbox) or to (sent) `country`, stored from `since` to `until` (days, inclusive)."""
    def other_side(m: StoredMessage) -> list[str]:
        return [m.sender] if direction == "in" else m.recipients

    return [m for m in rows
            if (not country or country.upper() in other_side(m))
            and (since is None or m.stored_at[:10] >= since.isoformat())
            and (until is None or m.stored_at[:10] <= until.isoformat())]


def facts(message: StoredMessage, header: Mapping[str, Any]) -> dict[str, Any]:
    """What the listing's subject is made of, from the header and clear body only (a listing opens
    no sealed body): the template turns these into words (node/message_words.html)."""
    body = message.body if isinstance(message.body, dict) else {}
    found: dict[str, Any] = {k: header[k] for k in ("reference", "kind", "event") if isinstance(header.get(k), str)}
    if isinstance(body.get("text"), str):
        found["text"] = body["text"][:SUBJECT_CHARS] + ("…" if len(body["text"]) > SUBJECT_CHARS else "")
    for name in ("document_type", "document_number", "status", "issuing_country", "reason", "of_type", "of",
                 "kind"):
        if isinstance(body.get(name), str):
            found.setdefault(name, body[name])
    if isinstance(body.get("alerts"), list):
        found["count"] = len(body["alerts"])
    return found


def action_needed(node: NationalNode, messages: Sequence[StoredMessage], unread: set[str]) -> set[str]:
    """Received messages that wait for this focal point: what a feature says waits (e.g. an MLA
    request still open on our side), and a hub rejection not yet read."""
    needed = {m.message_id for m in messages if m.direction == "in" and m.type == "hub.rejection"
              and m.message_id in unread}
    for feature in node.features:
        if feature.awaiting_action is not None:
            needed |= feature.awaiting_action(node.contexts[feature.name], messages)
    return needed


def headers_of(node: NationalNode, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    if not ids:
        return {}
    with node.store.engine.connect() as conn:
        raws = conn.execute(select(store_messages.c.message_id, store_messages.c.raw)
                            .where(store_messages.c.message_id.in_(list(ids)))).all()
    found = {}
    for message_id, raw in raws:
        try:
            found[message_id] = dict(wire.decode(raw).header)
        except ProtocolError:
            found[message_id] = {}
    return found


@console.view("focal")
async def inbox(request: web.Request) -> web.Response:
    return await _listing(request, "in", "Inbox")


@console.view("focal")
async def sent(request: web.Request) -> web.Response:
    return await _listing(request, "out", "Sent")


async def _listing(request: web.Request, direction: str, heading: str) -> web.Response:
    node = request.app[NODE]
    q = {name: request.query.get(name, "").strip() for name in FILTERS}
    members = [n for n in node.federation.directory.node_ids() if n != node.country]
    try:
        since, until = parse_day(q["since"], "since"), parse_day(q["until"], "until")
        country, type_ = parse_country(q["country"], [*members, "HUB"]), parse_type(q["type"])
        if since and until and since > until:
            raise FilterError(words("since (%(since)s) is after until (%(until)s): nothing can match", since=since,
                                    until=until))
        error = None
    except FilterError as exc:
        since = until = country = type_ = None
        error = exc.said
    shown: list[StoredMessage] = []
    if not error:
        rows = await asyncio.to_thread(node.store.list, direction=direction, type=type_, thread=q["thread"] or None,
                                       limit=PAGE)
        # Receipts are folded into the message they confirm, unless asked for by type.
        shown = [m for m in keep(rows, direction, country, since, until) if type_ == "receipt" or m.type != "receipt"]
    ids = [m.message_id for m in shown]
    read = await asyncio.to_thread(reads.read_ids, node.store.engine, ids) if direction == "in" else set()
    unread = {m.message_id for m in shown if direction == "in"} - read
    live = f"{request.path}?{urlencode({**{k: v for k, v in q.items() if v}, 'partial': '1'})}"
    template = "node/messages_rows.html" if request.query.get("partial") == "1" else "node/messages.html"
    tracked = await asyncio.to_thread(delivery.states, node, ids) if direction == "out" else {}
    headers = await asyncio.to_thread(headers_of, node, ids)
    return console.render(request, template, status=400 if error else 200, heading=heading, direction=direction,
                          delivery=tracked, messages=shown, unread=unread, us=node.country,
                          receipts=await asyncio.to_thread(node.store.receipts_of, ids),
                          facts={m.message_id: facts(m, headers.get(m.message_id, {})) for m in shown},
                          action=await asyncio.to_thread(action_needed, node, shown, unread),
                          filters=q, error=error, live=live, page=PAGE, types=TYPES)


@console.view("focal")
async def message_page(request: web.Request) -> web.Response:
    node = request.app[NODE]
    message_id = request.match_info["id"]
    stored = await asyncio.to_thread(node.store.get, message_id)
    if stored is None:
        return console.error_page(request, 404, "No such message", words("No message %(id)s.", id=message_id[:40]))
    if stored.direction == "in":
        await asyncio.to_thread(reads.mark_read, node.store.engine, message_id, format_time(utcnow()))
    receipts = (await asyncio.to_thread(node.store.receipts_of, [message_id])).get(message_id, [])
    opened, unreadable = await asyncio.to_thread(_open, node, message_id)
    header = (await asyncio.to_thread(headers_of, node, [message_id])).get(message_id, {})
    request_id = (stored.message_id if stored.type == "mla.request" else stored.reply_to) \
        if stored.type.startswith("mla.") else None
    return console.render(request, "node/message.html", heading="Message", message=stored, us=node.country,
                          receipts=receipts, unreadable=unreadable, facts=facts(stored, header), request_id=request_id,
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
