"""HTTP routes for case information and joint investigations (focal points; auditors read the logs)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from crypto.errors import CryptoError

from nodes.national.features.cases import store as store
from nodes.national.feature import FeatureContext
from nodes.national.reads import OFFICER_HEADER, reader
from nodes.plumbing.config import utcnow
from nodes.plumbing.http import MAX_SQL_INTEGER, json_error, read_json, requires
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param, query
from protocol.errors import ProtocolError

NODE = web.AppKey("somex_case_node", FeatureContext)


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[NODE] = ctx
    r = app.router
    r.add_post("/api/cases", create_case)
    r.add_get("/api/cases", list_cases)
    r.add_get("/api/cases/search", search)
    r.add_get("/api/cases/stats", stats)
    r.add_get("/api/cases/access-log", access_log)
    r.add_get("/api/cases/purges", purges)
    r.add_post("/api/cases/purge", purge_now)
    r.add_get("/api/cases/{id:\\d+}", read_case)
    r.add_post("/api/cases/{id:\\d+}/information", add_information)
    r.add_post("/api/cases/{id:\\d+}/share", share_case)
    r.add_post("/api/cases/{id:\\d+}/permission", grant_permission)
    r.add_post("/api/cases/{id:\\d+}/withdraw", withdraw_case)
    r.add_get("/api/cases/{id:\\d+}/history", case_history)
    r.add_post("/api/jits", open_jit)
    r.add_get("/api/jits", list_jits)
    r.add_get("/api/jits/{thread}", read_jit)
    r.add_post("/api/jits/{thread}/messages", jit_message)
    document(app, _PATHS)


_CASE_ID = path_param("id", {"type": "integer", "minimum": 0})
_OFFICER = {"name": OFFICER_HEADER, "in": "header", "required": False, "schema": STRING,
            "description": "the person behind the role token, for the access log"}
_QUEUED = obj(("id", "status"), id=STRING, to=array(STRING), status=STRING)
_COUNTRIES = array(STRING)
_PATHS = {
    "/api/cases": {
        "post": op("Record a case (fields as in docs/cases.md)", roles=("focal",), tag="cases", body=obj(),
                   errors=(409, 415), ok=(201, obj(("id",), id=INTEGER))),
        "get": op("This node's cases", roles=("focal",), tag="cases", ok=(200, obj(("cases",), cases=array(obj()))))},
    "/api/cases/search": {"get": op("Search persons (name, dob, document) or vessels (vessel, imo); logged",
                                    roles=("focal",), tag="cases",
                                    params=[query(n) for n in ("name", "dob", "document", "vessel", "imo")] + [_OFFICER],
                                    ok=(200, obj(persons=array(obj()), vessels=array(obj()))))},
    "/api/cases/stats": {"get": op("Statistics (no personal data)", roles=("focal", "auditor"), tag="cases",
                                   params=[query("format", {"enum": ["json", "csv"]})],
                                   ok_content={"application/json": {"schema": obj(("columns", "rows"),
                                                                                  columns=array(STRING),
                                                                                  rows=array({}))},
                                               "text/csv": {"schema": STRING}})},
    "/api/cases/access-log": {"get": op("Who read which case, when", roles=("focal", "auditor"), tag="cases",
                                        ok=(200, obj(("entries",), entries=array(obj()))))},
    "/api/cases/purges": {"get": op("The purge journal", roles=("focal", "auditor"), tag="cases",
                                    ok=(200, obj(("purges",), purges=array(obj()))))},
    "/api/cases/purge": {"post": op("Purge the cases past their retention now", roles=("focal",), tag="cases",
                                    ok=(200, obj(("purged",), purged={})))},
    "/api/cases/{id}": {"get": op("One case (the read is logged)", roles=("focal",), tag="cases",
                                  params=[_CASE_ID, _OFFICER], errors=(404,), ok=(200, obj()))},
    "/api/cases/{id}/information": {"post": op("Add information to a case", roles=("focal",), tag="cases",
                                               params=[_CASE_ID], body=obj(), errors=(404, 409, 415),
                                               ok=(200, obj(("case",), case=obj())))},
    "/api/cases/{id}/share": {"post": op("Share a case with countries or a joint investigation", roles=("focal",),
                                         tag="cases", params=[_CASE_ID], errors=(404, 409, 415),
                                         body=obj(to=_COUNTRIES, jit=STRING, handling={"type": "object"}),
                                         ok=(202, _QUEUED))},
    "/api/cases/{id}/permission": {"post": op("Let a recipient pass a received case on", roles=("focal",),
                                              tag="cases", params=[_CASE_ID], errors=(404, 409, 415),
                                              body=obj(("recipient", "to"), recipient=STRING, to=_COUNTRIES,
                                                       condition=STRING),
                                              ok=(202, _QUEUED))},
    "/api/cases/{id}/withdraw": {"post": op("Withdraw a shared case", roles=("focal",), tag="cases",
                                            params=[_CASE_ID], body=obj(reason=STRING), errors=(404, 409, 415),
                                            ok=(202, _QUEUED))},
    "/api/cases/{id}/history": {"get": op("A case's sharing history: shares, permissions, withdrawals "
                                          "(envelope facts, no personal data)", roles=("focal",), tag="cases",
                                          params=[_CASE_ID], errors=(404,),
                                          ok=(200, obj(("history",), history=array(obj()))))},
    "/api/jits": {"post": op("Open a joint investigation team", roles=("focal",), tag="jits",
                             body=obj(("members",), members=_COUNTRIES, title=STRING, reference=STRING),
                             errors=(415,), ok=(201, obj(("thread", "id", "members"), thread=STRING, id=STRING,
                                                         members=_COUNTRIES))),
                  "get": op("The joint investigations this node is a member of", roles=("focal",), tag="jits",
                            ok=(200, obj(("jits",), jits=array(obj()))))},
    "/api/jits/{thread}": {"get": op("A joint investigation: members, messages, shared cases", roles=("focal",),
                                     tag="jits", params=[path_param("thread")], errors=(404,), ok=(200, obj()))},
    "/api/jits/{thread}/messages": {"post": op("Write to a joint investigation", roles=("focal",), tag="jits",
                                               params=[path_param("thread")], body=obj(("text",), text=STRING),
                                               errors=(404, 409, 415), ok=(202, _QUEUED))},
}


def _node(request: web.Request) -> FeatureContext:
    return request.app[NODE]


def _case_id(request: web.Request) -> int:
    """The case number of the path; a JSON 404 past the largest a database can hold."""
    case_id = int(request.match_info["id"])
    if case_id > MAX_SQL_INTEGER:
        raise web.HTTPNotFound(text=json.dumps({"error": "not_found", "detail": "no such case"}),
                               content_type="application/json")
    return case_id


_who = reader


async def _call(fn: Callable[..., Any], *args: Any, status: int = 200, **kwargs: Any) -> web.Response:
    try:
        result = await asyncio.to_thread(fn, *args, **kwargs)
    except store.CaseError as exc:
        return json_error(exc.status, exc.reason, exc.detail)
    except (ProtocolError, CryptoError) as exc:
        return json_error(400, exc.reason, exc.detail)
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    return web.json_response(result, status=status)


def _fields(data: dict, allowed: set[str]) -> web.Response | None:
    unknown = data.keys() - allowed
    return json_error(400, "unknown_field", f"unknown field(s): {sorted(unknown)}") if unknown else None


def _countries(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(c, str) for c in value)


@requires("focal")
async def create_case(request: web.Request) -> web.Response:
    data = await read_json(request)
    return await _call(lambda: {"id": store.create_case(_node(request), data)}, status=201)


@requires("focal")
async def list_cases(request: web.Request) -> web.Response:
    return await _call(lambda: {"cases": store.list_cases(_node(request))})


@requires("focal")
async def read_case(request: web.Request) -> web.Response:
    return await _call(store.read_case, _node(request), _case_id(request), _who(request))


@requires("focal")
async def add_information(request: web.Request) -> web.Response:
    data = await read_json(request)
    return await _call(lambda: {"case": store.add_information(_node(request), _case_id(request), data)})


@requires("focal")
async def share_case(request: web.Request) -> web.Response:
    data = await read_json(request)
    if (bad := _fields(data, {"to", "jit", "handling"})) is not None:
        return bad
    to, jit, handling = data.get("to"), data.get("jit"), data.get("handling")
    if (to is not None and not _countries(to)) or (jit is not None and not isinstance(jit, str)) \
            or (handling is not None and not isinstance(handling, dict)):
        return json_error(400, "bad_request", "'to' is a list of countries, 'jit' a thread, 'handling' an object")

    def share() -> dict[str, Any]:
        env = store.share_case(_node(request), _case_id(request), to, handling, jit)
        return {"id": env.id, "to": list(env.recipients), "thread": env.thread, "handling": dict(env.handling),
                "status": "queued"}

    return await _call(share, status=202)


@requires("focal")
async def grant_permission(request: web.Request) -> web.Response:
    data = await read_json(request)
    if (bad := _fields(data, {"recipient", "to", "condition"})) is not None:
        return bad
    if not isinstance(data.get("recipient"), str) or not _countries(data.get("to")) \
            or not isinstance(data.get("condition", ""), str):
        return json_error(400, "bad_request", "'recipient' (a country) and 'to' (countries) are required")

    def grant() -> dict[str, Any]:
        env = store.grant_permission(_node(request), _case_id(request), data["recipient"], data["to"],
                                     data.get("condition"))
        return {"id": env.id, "status": "queued"}

    return await _call(grant, status=202)


@requires("focal")
async def withdraw_case(request: web.Request) -> web.Response:
    data = await read_json(request)
    if (bad := _fields(data, {"reason"})) is not None:
        return bad
    if not isinstance(data.get("reason", ""), str):
        return json_error(400, "bad_request", "'reason' is a text")

    def withdraw() -> dict[str, Any]:
        env = store.withdraw_case(_node(request), _case_id(request), data.get("reason"))
        return {"id": env.id, "to": list(env.recipients), "status": "queued"}

    return await _call(withdraw, status=202)


@requires("focal")
async def case_history(request: web.Request) -> web.Response:
    return await _call(lambda: {"history": store.case_history(_node(request), _case_id(request))})


@requires("focal")
async def search(request: web.Request) -> web.Response:
    q = request.query
    ctx, who = _node(request), _who(request)
    if q.keys() - {"name", "dob", "document", "vessel", "imo"}:
        return json_error(400, "unknown_field", "search by name, dob, document, vessel or imo")
    if q.get("vessel") or q.get("imo"):
        return await _call(lambda: {"vessels": store.search_vessels(ctx, q.get("vessel"), q.get("imo"), who)})
    query = store.PersonQuery(q.get("name") or None, q.get("dob") or None, q.get("document") or None)
    if query == store.PersonQuery():
        return json_error(400, "bad_request", "give at least one of name, dob, document, vessel, imo")
    return await _call(lambda: {"persons": store.search_persons(ctx, query, who)})


@requires("focal", "auditor")
async def stats(request: web.Request) -> web.StreamResponse:
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        return json_error(400, "bad_request", "format is json or csv")
    rows = await asyncio.to_thread(store.statistics, _node(request))
    if fmt == "csv":
        return web.Response(text=store.statistics_csv(rows), content_type="text/csv")
    return web.json_response({"columns": list(store.rules.STAT_COLUMNS), "rows": rows})


@requires("focal", "auditor")
async def access_log(request: web.Request) -> web.Response:
    return await _call(lambda: {"entries": store.access_entries(_node(request))})


@requires("focal", "auditor")
async def purges(request: web.Request) -> web.Response:
    return await _call(lambda: {"purges": store.purge_journal(_node(request))})


@requires("focal")
async def purge_now(request: web.Request) -> web.Response:
    return await _call(lambda: {"purged": store.purge_expired(_node(request), utcnow())})


@requires("focal")
async def open_jit(request: web.Request) -> web.Response:
    data = await read_json(request)
    if (bad := _fields(data, {"members", "title", "reference"})) is not None:
        return bad
    if not _countries(data.get("members")) or not all(isinstance(data.get(k, ""), str) for k in ("title", "reference")):
        return json_error(400, "bad_request", "'members' is a list of countries; 'title', 'reference' texts")

    def open_() -> dict[str, Any]:
        thread, env = store.open_jit(_node(request), data["members"], data.get("title"), data.get("reference"))
        return {"thread": thread, "id": env.id, "members": sorted({*env.recipients, env.sender})}

    return await _call(open_, status=201)


@requires("focal")
async def list_jits(request: web.Request) -> web.Response:
    return await _call(lambda: {"jits": store.list_jits(_node(request))})


@requires("focal")
async def read_jit(request: web.Request) -> web.Response:
    return await _call(store.jit_view, _node(request), request.match_info["thread"], _who(request))


@requires("focal")
async def jit_message(request: web.Request) -> web.Response:
    data = await read_json(request)
    if (bad := _fields(data, {"text"})) is not None:
        return bad
    if not isinstance(data.get("text"), str):
        return json_error(400, "bad_request", "'text' is required")

    def send() -> dict[str, Any]:
        env = store.send_jit_message(_node(request), request.match_info["thread"], data["text"])
        return {"id": env.id, "to": list(env.recipients), "status": "queued"}

    return await _call(send, status=202)
