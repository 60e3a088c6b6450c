"""The focal point's case pages: what the node holds, and one case under its handling-code banner.
Opening a case reads personal data, so it goes through cases.read_case and is in the access log
as `console:focal`."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nodes.national import cases as store
from nodes.national.node import NationalNode
from nodes.runtime import console
from nodes.runtime.openapi import document

NODE = web.AppKey("somex_console_cases_node", NationalNode)
WHO = "console:focal"


def add_routes(app: web.Application, node: NationalNode) -> None:
    app[NODE] = node
    app.router.add_get("/console/cases", case_list)
    app.router.add_get("/console/cases/{id:\\d+}", case_page)
    session = [{"session": []}]
    html = {"200": {"description": "an HTML page", "content": {"text/html": {}}},
            "303": {"description": "not logged in: to the login page"}}
    document(app, {
        "/console/cases": {"get": {"summary": "Cases the node holds, with their handling codes (no personal data)",
                                   "tags": ["console"], "security": session, "responses": html}},
        "/console/cases/{id}": {"get": {
            "summary": "One case under its handling-code banner; the reading is in the access log",
            "tags": ["console"], "security": session,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {**html, "404": {"description": "no such case", "content": {"text/html": {}}}}}},
    })


@console.view("focal")
async def case_list(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(store.list_cases, request.app[NODE])
    return console.render(request, "node/cases.html", heading="Cases", cases=rows)


@console.view("focal")
async def case_page(request: web.Request) -> web.Response:
    try:
        case = await asyncio.to_thread(store.read_case, request.app[NODE], int(request.match_info["id"]), WHO)
    except store.CaseError as exc:
        return console.error_page(request, exc.status, "The case cannot be shown", f"{exc.reason}: {exc.detail}")
    return console.render(request, "node/case.html", heading=f"Case {case['reference']}", case=case)
