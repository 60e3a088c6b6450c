"""The node's HTTP API for focal points, feeds and auditors (aiohttp, one token per role)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from nodes.national.console import add_routes as add_console_routes
from nodes.national import reads
from nodes.national import delivery
from nodes.national.node import NationalNode
from nodes.national.watchdogs import health_counts
from nodes.national.witness import latest_cosigned_note, latest_witnessed, open_alarms
from nodes.plumbing.amqp import STORAGE_ALARM
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation_state import federation_alarms
from nodes.plumbing.http import (ROLE, json_api_errors, json_error, limit_rate, page, read_json, requires,
                                role_of, security_headers)
from nodes.plumbing.metrics import serve_metrics
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param, query, serve
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

NODE = web.AppKey("somex_node", NationalNode)
MAX_REQUEST_BYTES = 1024 * 1024


def make_app(node: NationalNode) -> web.Application:
    app = web.Application(middlewares=[security_headers, json_api_errors], client_max_size=MAX_REQUEST_BYTES)
    app[NODE] = node
    limit_rate(app, node.config.http_rate_limit, node.config.http_failure_limit)
    app[ROLE] = dict(node.creds.token_digests)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/witness/latest", witness_latest)
    app.router.add_post("/api/messages", send_message)
    app.router.add_get("/api/messages", list_messages)
    app.router.add_get("/api/messages/{id}", get_message)
    app.router.add_get("/api/refusals", list_refusals)
    app.router.add_get("/api/reads", list_reads)
    document(app, _PATHS)
    serve_metrics(app, node.telemetry)
    serve(app, f"somex national node {node.country}")
    for feature in node.features:  # each message class brings its own routes
        if feature.routes is not None:
            feature.routes(app, node.contexts[feature.name])
    add_console_routes(app, node)
    return app


PAGE = [query("limit", INTEGER), query("offset", INTEGER)]
_PATHS = {
    "/api/health": {"get": op("ok/degraded, broker link, outbox depth, delivery and alarm counts (public); the "
                              "alarms themselves only with a token of any role", tag="node",
                              ok=(200, obj(("node", "status", "alarm_count"), node=STRING,
                                           status={"enum": ["ok", "degraded"]}, broker_connected={"type": "boolean"},
                                           outbox_pending=INTEGER, alarm_count=INTEGER, awaiting_receipt=INTEGER,
                                           overdue=INTEGER, alarms=array(obj()))))},
    "/api/witness/latest": {"get": op("The newest checkpoint of the hub's log this node cosigned: the hub's signed "
                                      "note with this node's cosignature (public, for peer witnesses and auditors)",
                                      tag="node", errors=(404,),
                                      ok=(200, obj(("node", "size", "note"), node=STRING, size=INTEGER,
                                                   note=STRING)))},
    "/api/messages": {
        "post": op("Send a message (signed, sealed, queued for the hub)", roles=("focal",), tag="messages",
                   body=obj(("type", "to"), type=STRING, to=array(STRING), body={}, thread=STRING, reply_to=STRING,
                            handling={"type": "object"}, header={"type": "object"},
                            ttl_seconds={"type": "integer", "minimum": 60, "maximum": 7776000}),
                   ok=(202, obj(("id", "status"), id=STRING, status=STRING)), errors=(415,)),
        "get": op("Stored messages, newest first", roles=("focal", "auditor"), tag="messages",
                  params=[query("direction", {"enum": ["in", "out"]}), query("type"), query("thread"), *PAGE],
                  ok=(200, obj(("messages",), messages=array(obj()))))},
    "/api/reads": {"get": op("Sealed bodies opened at this node, newest first: who, when, which message (the "
                             "read path's journal; case reads also in /api/cases/access-log)",
                             roles=("focal", "auditor"), tag="messages", params=[query("message_id")],
                             ok=(200, obj(("reads",), reads=array(obj()))))},
    "/api/messages/{id}": {"get": op("One message with its receipts, hub rejections and (sent messages) "
                                     "delivery state per recipient", roles=("focal", "auditor"),
                                     tag="messages", params=[path_param("id")], errors=(404,),
                                     ok=(200, obj(("message_id",), message_id=STRING, receipts=array(obj()),
                                                  rejections=array(obj()), delivery=array(obj()))))},
    "/api/refusals": {"get": op("Messages this node refused on receipt", roles=("focal", "auditor"), tag="messages",
                                ok=(200, obj(("refusals",), refusals=array(obj()))))},
}


async def health(request: web.Request) -> web.Response:
    """Anyone (a load balancer, a monitor) learns ok/degraded and counts; what the alarms say (which
    message, which recipient, how far the clock is off) only a holder of a token of this node."""
    node = request.app[NODE]
    stored: dict = {}
    checkpoint_alarms: list[dict] = []
    failing: list[dict] = []
    try:
        stored = {"outbox_pending": await asyncio.to_thread(node.store.outbox_depth),
                  **await asyncio.to_thread(health_counts, node),
                  "last_checkpoint_witnessed": await asyncio.to_thread(latest_witnessed, node)}
        checkpoint_alarms = [{"kind": a["kind"], "reason": a["reason"], "detail": a["detail"], "at": a["at"]}
                             for a in await asyncio.to_thread(open_alarms, node)]
    except Exception as exc:  # noqa: BLE001 - the database is what is failing: this page must still say so
        failing = [] if node.alarms.is_open(STORAGE_ALARM) else [
            {"kind": "storage", "reason": "storage_unavailable", "detail": str(exc)[:500], "at": format_time(utcnow())}]
    alarms = failing + checkpoint_alarms + node.alarms.active() + federation_alarms(node.federation, utcnow())
    result = {"node": node.country, "status": "ok" if node.broker_connected and not alarms else "degraded",
              "broker_connected": node.broker_connected, "alarm_count": len(alarms), **stored}
    if role_of(request, request.app[ROLE]) is not None:
        result["alarms"] = alarms
    return web.json_response(result)


async def witness_latest(request: web.Request) -> web.Response:
    """Public like the hub's /api/log/checkpoint: a signed note reveals hashes only."""
    node = request.app[NODE]
    latest = await asyncio.to_thread(latest_cosigned_note, node)
    if latest is None:
        return json_error(404, "no_checkpoint", "this node has cosigned no checkpoint yet")
    return web.json_response({"node": node.country, "size": latest[0], "note": latest[1]})


@requires("focal")
async def send_message(request: web.Request) -> web.Response:
    node = request.app[NODE]
    data = await read_json(request)
    unknown = data.keys() - {"type", "to", "body", "thread", "reply_to", "handling", "header", "ttl_seconds"}
    if unknown:
        return json_error(400, "unknown_field", f"unknown field(s): {sorted(unknown)}")
    mtype, to = data.get("type"), data.get("to")
    if not isinstance(mtype, str) or not isinstance(to, list) or not all(isinstance(t, str) for t in to):
        return json_error(400, "bad_request", "'type' (string) and 'to' (list of country codes or [\"*\"]) are required")
    ttl = data.get("ttl_seconds", int(node.config.message_ttl.total_seconds()))
    if not isinstance(ttl, int) or not 60 <= ttl <= 90 * 86400:
        return json_error(400, "bad_request", "ttl_seconds must be an integer from 60 to 7776000")
    try:
        env = await node.send(mtype, to, body=data.get("body"), thread=data.get("thread"),
                              reply_to=data.get("reply_to"), handling=data.get("handling"),
                              header=data.get("header"), ttl=timedelta(seconds=ttl))
    except ProtocolError as exc:
        return json_error(400, exc.reason, exc.detail)
    except ValueError as exc:
        return json_error(400, "bad_request", str(exc))
    return web.json_response({"id": env.id, "status": "queued"}, status=202)


@requires("focal", "auditor")
async def list_messages(request: web.Request) -> web.Response:
    node = request.app[NODE]
    q = request.query
    direction = q.get("direction")
    if direction not in (None, "in", "out"):
        return json_error(400, "bad_request", "direction is 'in' or 'out'")
    limit, offset = page(request)
    rows = await asyncio.to_thread(node.store.list, direction=direction, type=q.get("type"),
                                   thread=q.get("thread"), limit=limit, offset=offset)
    return web.json_response({"messages": [r.as_json() for r in rows]})


@requires("focal", "auditor")
async def get_message(request: web.Request) -> web.Response:
    node = request.app[NODE]
    message_id = request.match_info["id"]
    stored = await asyncio.to_thread(node.store.get, message_id)
    if stored is None:
        return json_error(404, "not_found", f"no message {message_id[:40]}")
    receipts = await asyncio.to_thread(node.store.receipts_for, message_id)
    replies = await asyncio.to_thread(node.store.replies_to, message_id)
    rejections = [r.body for r in replies if r.type == "hub.rejection"]
    tracked = await asyncio.to_thread(delivery.status, node, message_id)
    return web.json_response({**stored.as_json(), "receipts": receipts, "rejections": rejections,
                              "delivery": tracked})


@requires("focal", "auditor")
async def list_reads(request: web.Request) -> web.Response:
    node, message_id = request.app[NODE], request.query.get("message_id") or None
    return web.json_response({"reads": await asyncio.to_thread(reads.access_entries, node, message_id)})


@requires("focal", "auditor")
async def list_refusals(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return web.json_response({"refusals": await asyncio.to_thread(node.store.refusals)})
