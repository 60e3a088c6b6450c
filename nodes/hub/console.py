"""The auditor's web console on the hub: read-only (nodes/runtime/console.py has the common ground)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from nodes.hub.relay import Hub
from nodes.runtime import console
from nodes.runtime.openapi import document

HUB = web.AppKey("somex_console_hub", Hub)
NAV = (("Overview", "/console/"),)
_HTML = {"200": {"description": "an HTML page", "content": {"text/html": {}}},
         "303": {"description": "not logged in: to the login page"}}


def add_routes(app: web.Application, hub: Hub) -> None:
    app[HUB] = hub
    console.mount(app, console.Console("somex · audit", ("auditor",), NAV, Path(__file__).parent / "templates"))
    app.router.add_get("/console/", overview)
    document(app, {"/console/": {"get": {"summary": "Auditor console: the log at a glance", "tags": ["console"],
                                         "security": [{"session": []}], "responses": _HTML}}})


@console.view("auditor")
async def overview(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    latest = await asyncio.to_thread(hub.store.latest_checkpoint)
    return console.render(request, "hub/overview.html", heading="Audit log", log_size=hub.store.size,
                          checkpoint_size=latest[0] if latest else None)
