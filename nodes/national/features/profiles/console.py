"""The console's "Profiles" page: every member's competent-authority profile in force, and this
State's own, edited and published here (the same call as POST /api/profiles)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from nodes.national.feature import FeatureContext
from nodes.plumbing import console
from nodes.plumbing.openapi import document
from protocol import profiles
from protocol.errors import ProtocolError

TEMPLATES = Path(__file__).parent / "templates"
CONTEXT = web.AppKey("somex_profiles_console_context", FeatureContext)
_TEXT = ("mla_name", "mla_contact", "extradition_name", "extradition_contact", "languages", "notes")
_HTML = {"200": {"description": "an HTML page", "content": {"text/html": {}}}}


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[CONTEXT] = ctx
    app.router.add_get("/console/profiles", page)
    app.router.add_post("/console/profiles", publish)
    document(app, {"/console/profiles": {
        "get": {"summary": "Competent-authority profiles: every member's, and this State's own to edit",
                "tags": ["console"], "security": [{"session": []}], "responses": _HTML},
        "post": {"summary": "Publish this State's profile (as POST /api/profiles)", "tags": ["console"],
                 "security": [{"session": []}],
                 "responses": {"303": {"description": "published: back to the page"},
                               "400": {"description": "refused: the form again, with the reason",
                                       "content": {"text/html": {}}}}}}})


def form_values(profile: dict[str, Any] | None) -> dict[str, Any]:
    """The edit form's values for a profile (empty for none)."""
    if profile is None:
        return {"urgent_channels": [], "convention": False}
    return {"mla_name": profile["mla_authority"]["name"], "mla_contact": profile["mla_authority"]["contact"],
            "extradition_name": profile["extradition_authority"]["name"],
            "extradition_contact": profile["extradition_authority"]["contact"],
            "languages": ", ".join(profile["languages"]), "convention": profile["convention_basis_for_extradition"],
            "urgent_channels": profile.get("urgent_channels", []), "notes": profile.get("notes", "")}


def profile_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The profile the form describes (what ProfileBook.publish takes)."""
    fields: dict[str, Any] = {
        "mla_authority": {"name": values.get("mla_name", "").strip(), "contact": values.get("mla_contact", "").strip()},
        "extradition_authority": {"name": values.get("extradition_name", "").strip(),
                                  "contact": values.get("extradition_contact", "").strip()},
        "languages": [c.strip().lower() for c in values.get("languages", "").replace(";", ",").split(",") if c.strip()],
        "convention_basis_for_extradition": bool(values.get("convention")),
        "urgent_channels": list(values.get("urgent_channels", [])),
    }
    if values.get("notes", "").strip():
        fields["notes"] = values["notes"].strip()
    return fields


@console.view("focal")
async def page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    own = await asyncio.to_thread(ctx.service.get, ctx.country)
    ok = request.query.get("ok", "")
    return await _page(request, form_values(own), None, published=ok if ok.isdigit() else None)


async def _page(request: web.Request, values: dict[str, Any], error: str | None, status: int = 200,
                published: str | None = None) -> web.Response:
    ctx = request.app[CONTEXT]
    entries = await asyncio.to_thread(ctx.service.every)
    return console.render(request, "node/profiles.html", status=status, heading="Competent-authority profiles",
                          entries=entries, us=ctx.country, values=values, error=error, published=published,
                          channels=profiles.URGENT_CHANNELS)


@console.view("focal")
async def publish(request: web.Request) -> web.Response:
    form = await request.post()
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in _TEXT}
    values["convention"] = form.get("convention") == "yes"
    values["urgent_channels"] = [str(c) for c in form.getall("urgent_channels", [])]
    ctx = request.app[CONTEXT]
    try:
        done = await asyncio.to_thread(ctx.service.publish, profile_fields(values))
    except ProtocolError as exc:
        return await _page(request, values, f"{exc.reason}: {exc.detail}", status=400)
    return web.Response(status=303, headers={"Location": f"/console/profiles?ok={done['serial']}"})
