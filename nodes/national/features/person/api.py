"""HTTP routes of person alerts: the border check (focal point and carrier), issuing and withdrawing,
hits received, the check log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nodes.national import reads
from nodes.national.feature import FeatureContext
from nodes.national.features.person import issuing, store
from nodes.national.features.person.check import BadBorderCheck, read_query
from nodes.plumbing.config import utcnow
from nodes.plumbing.http import ROLE, json_error, read_json, requires, role_of
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param
from protocol.errors import ProtocolError
from protocol.person import CHECK_KINDS

CONTEXT = web.AppKey("somex_person_context", FeatureContext)


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[CONTEXT] = ctx
    app.router.add_post("/api/border/check", border_check)
    app.router.add_get("/api/border/checks/{reference}", check_log_entry)
    app.router.add_post("/api/person-alerts", issue_alert)
    app.router.add_post("/api/person-alerts/{reference}/withdraw", withdraw_alert)
    app.router.add_get("/api/person-alerts/hits", list_hits)
    app.router.add_get("/api/person-alerts/replica", replica_summary)
    document(app, _PATHS)


_CHECK = obj((), document=obj(("country", "type", "number"), country=STRING, type=STRING, number=STRING),
             mrz={"type": "string", "description": "TD1, TD2 or TD3, lines separated by line breaks"},
             name={"type": "string", "description": "the traveller's name in any script"},
             date_of_birth={"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"},
             check={"enum": list(CHECK_KINDS)}, point={"type": "string", "maxLength": 120})
_PATHS = {
    "/api/border/check": {"post": op(
        "A border officer's one check: a document or a machine-readable zone (every check digit verified, each bad "
        "one named), optionally a name and birth date; answers document alerts and scored person matches together "
        "and tells each matched alert's issuer (person.hit). Every check is in the access log. A carrier token gets "
        "hit / no-hit and a reference to call, never the record", roles=("focal", "carrier"), tag="border",
        body=_CHECK, errors=(415,),
        ok=(200, obj(("reference", "hit"), reference=STRING, hit={"type": "boolean"}, document={},
                     person_matches=array(obj()), truncated={"type": "boolean"}, mrz={}, call=STRING)))},
    "/api/border/checks/{reference}": {"get": op(
        "One border check of the access log (what a carrier's call quotes): who, when, where, which alerts",
        roles=("focal", "auditor"), tag="border", params=[path_param("reference")], errors=(404,), ok=(200, obj()))},
    "/api/person-alerts": {"post": op(
        "Issue or update a person alert (the person.alert body without `issuer`; a name's `latin` and `script` "
        "are computed when left out)", roles=("focal",), tag="border", body=obj(("action",)), errors=(415,),
        ok=(202, obj(("id", "status"), id=STRING, status=STRING)))},
    "/api/person-alerts/{reference}/withdraw": {"post": op(
        "Withdraw one of this country's person alerts: sent to wherever the alert went", roles=("focal",),
        tag="border", params=[path_param("reference")], body=obj((), reason=STRING), errors=(404, 415),
        ok=(202, obj(("id", "status"), id=STRING, status=STRING)))},
    "/api/person-alerts/hits": {"get": op(
        "Hits other countries reported on this country's person alerts", roles=("focal", "auditor"), tag="border",
        ok=(200, obj(("hits",), hits=array(obj()))))},
    "/api/person-alerts/replica": {"get": op(
        "Person alerts of other countries in force here", roles=("focal", "auditor"), tag="border",
        ok=(200, obj(("active_alerts",), active_alerts=INTEGER)))},
}


def _ctx(request: web.Request) -> FeatureContext:
    return request.app[CONTEXT]


@requires("focal", "carrier")
async def border_check(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    data = await read_json(request)
    try:
        query = read_query(data, utcnow().year)
    except BadBorderCheck as bad:
        return web.json_response(bad.as_json(), status=400)
    outcome = await ctx.service.check(query, reads.reader(request))
    if role_of(request, request.app[ROLE]) == "carrier":
        return web.json_response(outcome.for_carrier(ctx.country))
    return web.json_response(outcome.as_json(ctx.country))


@requires("focal", "auditor")
async def check_log_entry(request: web.Request) -> web.Response:
    entry = await asyncio.to_thread(store.check_entry, _ctx(request).db, request.match_info["reference"][:40])
    if entry is None:
        return json_error(404, "not_found", "no border check with this reference")
    return web.json_response(entry)


@requires("focal")
async def issue_alert(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data.get("action") not in ("create", "update"):
        return json_error(400, "bad_field", "action: create or update (withdraw: POST .../{reference}/withdraw)")
    try:
        env = await issuing.issue(_ctx(request), data)
    except ProtocolError as exc:
        return json_error(400, exc.reason, exc.detail)
    return web.json_response({"id": env.id, "status": "queued"}, status=202)


@requires("focal")
async def withdraw_alert(request: web.Request) -> web.Response:
    data = await read_json(request)
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        return json_error(400, "bad_field", "reason: text")
    try:
        env = await issuing.withdraw(_ctx(request), request.match_info["reference"],
                                     utcnow().date().isoformat(), reason)
    except issuing.UnknownAlert as exc:
        return json_error(404, "not_found", str(exc))
    except ProtocolError as exc:
        return json_error(400, exc.reason, exc.detail)
    return web.json_response({"id": env.id, "status": "queued"}, status=202)


@requires("focal", "auditor")
async def list_hits(request: web.Request) -> web.Response:
    return web.json_response({"hits": await asyncio.to_thread(store.received_hits, _ctx(request).db)})


@requires("focal", "auditor")
async def replica_summary(request: web.Request) -> web.Response:
    count = await asyncio.to_thread(store.replica_count, _ctx(request).db, utcnow().date().isoformat())
    return web.json_response({"active_alerts": count})


__all__ = ["add_routes"]
