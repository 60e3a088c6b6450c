"""HTTP routes of the competent-authority profiles: every member's (view), this State's (publish)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nodes.national.feature import FeatureContext
from nodes.plumbing.http import json_error, read_json, requires
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param
from protocol.errors import ProtocolError

CONTEXT = web.AppKey("somex_profiles_context", FeatureContext)


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[CONTEXT] = ctx
    app.router.add_get("/api/profiles", list_profiles)
    app.router.add_post("/api/profiles", publish_profile)
    app.router.add_get("/api/profiles/{country}", view_profile)
    document(app, _PATHS)


_ENTRY = obj(("profile", "message_id", "stored_at"), profile=obj(), message_id=STRING, stored_at=STRING)
_PATHS = {
    "/api/profiles": {
        "get": op("Every member's competent-authority profile in force (the newest serial of each)",
                  roles=("focal", "auditor"), tag="profiles", ok=(200, obj(("profiles",), profiles=array(_ENTRY)))),
        "post": op("Publish this State's profile (fields as in docs/profiles.md; `country` and `serial` default to "
                   "this State and the next serial): signed by this node and broadcast to every member",
                   roles=("focal",), tag="profiles",
                   body=obj(("mla_authority", "extradition_authority", "languages",
                             "convention_basis_for_extradition")),
                   errors=(415,), ok=(202, obj(("id", "country", "serial"), id=STRING, country=STRING,
                                              serial=INTEGER)))},
    "/api/profiles/{country}": {"get": op(
        "One member's profile in force", roles=("focal", "auditor"), tag="profiles",
        params=[path_param("country")], errors=(404,), ok=(200, _ENTRY))},
}


@requires("focal", "auditor")
async def list_profiles(request: web.Request) -> web.Response:
    return web.json_response({"profiles": await asyncio.to_thread(request.app[CONTEXT].service.every)})


@requires("focal", "auditor")
async def view_profile(request: web.Request) -> web.Response:
    country = request.match_info["country"].upper()
    found = await asyncio.to_thread(request.app[CONTEXT].service.entry, country)
    if found is None:
        return json_error(404, "not_found", f"{country[:8]!r} has published no profile this node knows of")
    return web.json_response(found)


@requires("focal")
async def publish_profile(request: web.Request) -> web.Response:
    fields = await read_json(request)
    try:
        done = await asyncio.to_thread(request.app[CONTEXT].service.publish, fields)
    except ProtocolError as exc:
        return json_error(400, exc.reason, exc.detail)
    return web.json_response(done, status=202)
