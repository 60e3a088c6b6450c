"""The focal point's web console on a national node (nodes/plumbing/console.py has the common ground).

Pages read the node's own stores and act through the same calls as the JSON API, so the console
and the API cannot disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from nodes.national import console_messages
from nodes.national.node import NationalNode
from nodes.national.witness import latest_witnessed, open_alarms
from nodes.plumbing import console
from nodes.plumbing.config import utcnow
from nodes.plumbing.openapi import document

NODE = web.AppKey("somex_console_node", NationalNode)
CORE_NAV = (("Health", "/console/"), ("Inbox", "/console/inbox"), ("Sent", "/console/sent"))
CERTIFICATE_WARNING_DAYS = 30
_HTML = {"200": {"description": "an HTML page", "content": {"text/html": {}}}}


def add_routes(app: web.Application, node: NationalNode) -> None:
    app[NODE] = node
    pages = [f.console for f in node.features if f.console is not None]  # in their navigation order
    nav = (*CORE_NAV, *(p.nav for p in pages))
    console.mount(app, console.Console(f"somex · {node.country}", ("focal",), nav, Path(__file__).parent / "templates",
                                       node.country,
                                       more_templates=[p.templates for p in pages if p.templates is not None]))
    app.router.add_get("/console/", overview)
    app.router.add_get("/console/events", events)
    console_messages.add_routes(app, node)
    for feature in node.features:
        if feature.console is not None:
            feature.console.add_routes(app, node.contexts[feature.name])
    document(app, {
        "/console/": {"get": {"summary": "Focal point console: federation health", "tags": ["console"],
                              "security": [{"session": []}], "responses": _HTML}},
        "/console/events": {"get": {"summary": "Live updates for console pages (server-sent events)",
                                    "tags": ["console"], "security": [{"session": []}],
                                    "responses": {"200": {"description": "an event stream",
                                                          "content": {"text/event-stream": {}}}}}},
    })


@console.view("focal")
async def overview(request: web.Request) -> web.Response:
    node = request.app[NODE]
    depth = await asyncio.to_thread(node.store.outbox_depth)
    witnessed = await asyncio.to_thread(latest_witnessed, node)
    alarms = [*await asyncio.to_thread(open_alarms, node), *node.alarms.active()]
    return console.render(request, "node/overview.html", heading="Federation health", country=node.country,
                          broker_connected=node.broker_connected, outbox_pending=depth, witnessed=witnessed,
                          alarms=alarms,
                          certificate=certificate_expiry(node.creds.certificate.not_valid_after_utc, utcnow()))


@dataclass(frozen=True)
class Expiry:
    not_after: datetime
    days_left: int
    warning: bool  # expired, or fewer than CERTIFICATE_WARNING_DAYS days left


def certificate_expiry(not_after: datetime, now: datetime) -> Expiry:
    """How long the node's signing certificate stays valid; a warning in its last 30 days."""
    left = not_after - now
    return Expiry(not_after, left.days, left.total_seconds() < CERTIFICATE_WARNING_DAYS * 86400)


@console.view("focal")
async def events(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]

    async def stream() -> AsyncIterator[dict[str, Any]]:
        async with node.events.subscribe() as queue:
            while True:
                yield await queue.get()

    return await console.event_stream(request, stream())
