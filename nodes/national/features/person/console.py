"""The console's "Border check" page: paste a machine-readable zone (or type a document), optionally
a name and birth date, and see the result banner. It calls the same check as POST /api/border/check,
so the page and the API cannot disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from nodes.national import reads
from nodes.national.feature import FeatureContext
from nodes.national.features.person.check import BadBorderCheck, read_query
from nodes.plumbing import console
from nodes.plumbing.config import utcnow
from nodes.plumbing.openapi import document
from protocol.alerts import DOCUMENT_TYPES
from protocol.person import CHECK_KINDS

TEMPLATES = Path(__file__).parent / "templates"
CONTEXT = web.AppKey("somex_person_console_context", FeatureContext)
_FIELDS = ("mrz", "country", "type", "number", "name", "date_of_birth", "check", "point")
_HTML = {"200": {"description": "an HTML page", "content": {"text/html": {}}}}


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[CONTEXT] = ctx
    app.router.add_get("/console/border", check_form)
    app.router.add_post("/console/border", check)
    document(app, {"/console/border": {
        "get": {"summary": "Border check: paste a machine-readable zone or type a document", "tags": ["console"],
                "security": [{"session": []}], "responses": _HTML},
        "post": {"summary": "Run a border check (as POST /api/border/check) and show the result banner",
                 "tags": ["console"], "security": [{"session": []}], "responses": _HTML}}})


@console.view("focal")
async def check_form(request: web.Request) -> web.Response:
    return _page(request, {"check": "border", "type": "passport"}, None, None)


def query_of(values: dict[str, str]) -> dict[str, Any]:
    """The API's request for the form's values: a zone if one is pasted, else the document."""
    data: dict[str, Any] = {"check": values.get("check") or "border", "point": values.get("point", "")}
    if values.get("mrz", "").strip():
        data["mrz"] = values["mrz"]
    else:
        data["document"] = {"country": values.get("country", "").strip().upper(), "type": values.get("type", ""),
                            "number": values.get("number", "")}
    for name in ("name", "date_of_birth"):
        if values.get(name, "").strip():
            data[name] = values[name].strip()
    return data


@console.view("focal")
async def check(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in _FIELDS}
    ctx = request.app[CONTEXT]
    try:
        query = read_query(query_of(values), utcnow().year)
    except BadBorderCheck as bad:
        return _page(request, values, None, bad.as_json(), status=400)
    outcome = await ctx.service.check(query, reads.CONSOLE_READER)
    return _page(request, values, outcome.as_json(ctx.country), None)


def _page(request: web.Request, values: dict[str, str], answer: dict[str, Any] | None,
          error: dict[str, Any] | None, status: int = 200) -> web.Response:
    return console.render(request, "node/border_check.html", status=status, heading="Border check",
                          values=values, answer=answer, error=error, types=DOCUMENT_TYPES, kinds=CHECK_KINDS)
