"""The hub's HTTP API: public log proofs (hashes only) and the auditor's read-only trails and exports."""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from crypto.witness import QuorumError, required_quorum
from crypto.directory import MAX_SIGNED_BYTES
from crypto.errors import CryptoError
from nodes.hub.console import add_routes as add_console_routes
from nodes.hub.export import export_bundle
from nodes.hub.web_view import HubView
from nodes.plumbing.amqp import STORAGE_ALARM
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation_state import federation_alarms
from nodes.plumbing.http import (MAX_SQL_INTEGER, ROLE, json_api_errors, json_error, limit_rate, requires,
                                role_of, security_headers)
from nodes.plumbing.metrics import serve_metrics
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param, query, serve
from protocol.checkpoint import format_note
from protocol.filters import TIME_FORMAT, FilterError, trail_filters
from protocol.timefmt import format_time

HUB = web.AppKey("somex_hub", HubView)


def make_app(hub: HubView) -> web.Application:
    app = web.Application(middlewares=[security_headers, json_api_errors])
    app[HUB] = hub
    limit_rate(app, hub.config.http_rate_limit, hub.config.http_failure_limit)
    app[ROLE] = {role: digest for role, digest in hub.federation.credentials("HUB").token_digests.items()
                 if role in ("auditor", "operator")}
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/log/checkpoint", checkpoint)
    app.router.add_get("/api/log/inclusion", inclusion)
    app.router.add_get("/api/log/consistency", consistency)
    app.router.add_get("/api/audit/entries", entries)
    app.router.add_get("/api/audit/entries/{seq}", entry)
    app.router.add_get("/api/audit/export", export)
    app.router.add_post("/api/federation/publish", publish)
    app.router.add_get("/api/federation/{kind:directory|revocations}", federation_document)
    document(app, _PATHS)
    serve_metrics(app, hub.telemetry)
    serve(app, "somex hub")
    add_console_routes(app, hub)
    return app


_NATURAL = {"type": "integer", "minimum": 0}
_PROOF = array({"type": "string", "contentEncoding": "base64"})
_TRAIL = [query(n) for n in ("message_id", "thread", "sender", "recipient", "type", "verdict")]
_SPAN = [query("since", description=f"inclusive: {TIME_FORMAT}"),
         query("until", description=f"exclusive: {TIME_FORMAT}")]
TRAIL_FILTERS = ("message_id", "thread", "sender", "recipient", "type", "verdict", "since", "until")
_PATHS = {
    "/api/health": {"get": op("ok/degraded, broker link, log size, relayed and parked counts (public); the alarms "
                              "and parked forwards per recipient only with the auditor token", tag="hub",
                              ok=(200, obj(("node", "status", "log_size", "alarm_count"), node=STRING,
                                           status={"enum": ["ok", "degraded"]}, broker_connected={"type": "boolean"},
                                           log_size=INTEGER, processed=INTEGER, alarm_count=INTEGER,
                                           parked=INTEGER, parked_forwards={}, alarms=array(obj()))))},
    "/api/log/checkpoint": {"get": op("The latest signed checkpoint (public)", tag="log", errors=(404,),
                                      ok=(200, obj(("size", "note"), size=INTEGER, note=STRING)))},
    "/api/log/inclusion": {"get": op("Inclusion proof of leaf `index` in the tree of `size` (public)", tag="log",
                                     params=[query("index", _NATURAL, required=True),
                                             query("size", _NATURAL, required=True)],
                                     ok=(200, obj(("index", "size", "leaf_hash", "proof"), index=INTEGER, size=INTEGER,
                                                  leaf_hash=STRING, proof=_PROOF)))},
    "/api/log/consistency": {"get": op("Consistency proof between two tree sizes (public)", tag="log",
                                       params=[query("first", _NATURAL, required=True),
                                               query("second", _NATURAL, required=True)],
                                       ok=(200, obj(("first", "second", "proof"), first=INTEGER, second=INTEGER,
                                                    proof=_PROOF)))},
    "/api/audit/entries": {"get": op("The audit trail (metadata only), filtered, paged by `after`",
                                     roles=("auditor",), tag="audit",
                                     params=[*_TRAIL, *_SPAN, query("after", INTEGER), query("limit", INTEGER)],
                                     ok=(200, obj(("entries", "next_after"), entries=array(obj()),
                                                  next_after={"type": ["integer", "null"]})))},
    "/api/audit/entries/{seq}": {"get": op("One log entry with its leaf and inclusion proof", roles=("auditor",),
                                           tag="audit", params=[path_param("seq", _NATURAL)], errors=(404,),
                                           ok=(200, obj(("entry", "leaf"), entry=obj(), leaf=STRING,
                                                        checkpoint=STRING, proof=_PROOF)))},
    "/api/audit/export": {"get": op("A self-verifying export bundle (entries, proofs, checkpoint, directory)",
                                    roles=("auditor",), tag="audit",
                                    params=[query("thread"), query("message_id"), *_SPAN,
                                            query("quorum", _NATURAL, description="witnesses whose cosignatures "
                                                  "the bundle's checkpoint needs (default: all)")],
                                    errors=(400, 409),
                                    ok=(200, obj()))},
    "/api/federation/publish": {"post": op(
        "Apply a root-signed directory or revocation list now and broadcast it to every node (hub operator)",
        roles=("operator",), tag="federation",
        body_content={"application/json": {"schema": {"type": "object",
                                                          "description": "the root-signed file, byte for byte"}}},
        errors=(413, 422),
        ok=(200, obj(("kind", "serial", "message_id", "recipients"), kind=STRING, serial=INTEGER,
                     message_id=STRING, recipients=array(STRING))))},
    "/api/federation/{kind}": {"get": op(
        "The newest root-signed directory or revocation list the hub applied, byte for byte as published "
        "(public: nodes fetch it at start-up and verify it against the root themselves)", tag="federation",
        params=[path_param("kind", {"enum": ["directory", "revocations"]})], errors=(404,),
        ok=(200, {"type": "object", "description": "the root-signed file, byte for byte"}))},
}


def _ints(request: web.Request, *names: str) -> list[int]:
    try:
        values = [int(request.query[n]) for n in names]
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text=f'{{"error":"bad_request","detail":"integers required: {", ".join(names)}"}}',
                                 content_type="application/json") from None
    if any(v < 0 for v in values):
        raise web.HTTPBadRequest(text='{"error":"bad_request","detail":"negative"}', content_type="application/json")
    return values


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


async def health(request: web.Request) -> web.Response:
    """Counts for anyone; which inbox stalls and whose forwards are parked only for a token holder."""
    hub = request.app[HUB]
    connected = hub.session is not None and hub.session.connected.is_set()
    failing: list[dict] = []
    try:
        parked = await asyncio.to_thread(hub.store.parked_counts)
    except Exception as exc:  # noqa: BLE001 - the database is what is failing: this page must still say so
        parked = {}
        failing = [] if hub.alarms.is_open(STORAGE_ALARM) else [
            {"kind": "storage", "reason": "storage_unavailable", "detail": str(exc)[:500], "at": format_time(utcnow())}]
    alarms = failing + hub.alarms.active() + federation_alarms(hub.federation, utcnow())
    result = {"node": "HUB", "status": "ok" if connected and not alarms and not parked else "degraded",
              "broker_connected": connected, "log_size": hub.store.size, "processed": hub.processed,
              "alarm_count": len(alarms), "parked": sum(parked.values())}
    if role_of(request, request.app[ROLE]) is not None:
        result |= {"alarms": alarms, "parked_forwards": parked}
    return web.json_response(result)


async def checkpoint(request: web.Request) -> web.Response:
    latest = await asyncio.to_thread(request.app[HUB].store.latest_checkpoint)
    if latest is None:
        return json_error(404, "no_checkpoint", "no checkpoint signed yet")
    return web.json_response({"size": latest[0], "note": format_note(latest[1]).decode()})


async def inclusion(request: web.Request) -> web.Response:
    store = request.app[HUB].store
    index, size = _ints(request, "index", "size")
    if not index < size <= store.size:
        return json_error(400, "bad_index", f"need index < size <= {store.size}")
    proof = await asyncio.to_thread(store.inclusion_proof, index, size)
    leaf = (await asyncio.to_thread(store.leaf_hashes, index, index + 1))[0]
    return web.json_response({"index": index, "size": size, "leaf_hash": leaf.hex(), "proof": _b64(proof)})


async def consistency(request: web.Request) -> web.Response:
    store = request.app[HUB].store
    first, second = _ints(request, "first", "second")
    if not first <= second <= store.size:
        return json_error(400, "bad_size", f"need first <= second <= {store.size}")
    proof = await asyncio.to_thread(store.consistency_proof, first, second)
    return web.json_response({"first": first, "second": second, "proof": _b64(proof)})


@requires("auditor")
async def entries(request: web.Request) -> web.Response:
    q = request.query
    try:
        limit, after = min(int(q.get("limit", "100")), 1000), int(q.get("after", "-1"))
    except ValueError:
        return json_error(400, "bad_request", "limit and after are integers")
    if limit < 1 or not -1 <= after <= MAX_SQL_INTEGER:
        return json_error(400, "bad_request", "limit is 1..1000; after is an entry number (or -1)")
    try:
        q = trail_filters({n: q.get(n, "") for n in TRAIL_FILTERS})
    except FilterError as exc:
        return json_error(400, exc.reason, exc.detail)
    rows = await asyncio.to_thread(
        request.app[HUB].store.trail, message_id=q.get("message_id"), thread=q.get("thread"), sender=q.get("sender"),
        recipient=q.get("recipient"), type=q.get("type"), verdict=q.get("verdict"), since=q.get("since"),
        until=q.get("until"), after=after, limit=limit)
    return web.json_response({"entries": rows, "next_after": rows[-1]["seq"] if len(rows) == limit else None})


@requires("auditor")
async def entry(request: web.Request) -> web.Response:
    store = request.app[HUB].store
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        return json_error(400, "bad_request", "entry numbers are integers")
    if not 0 <= seq < store.size:
        return json_error(404, "not_found", f"no entry {seq}"[:60])
    found = await asyncio.to_thread(store.entry, seq)
    if found is None:
        return json_error(404, "not_found", f"no entry {seq}")
    leaf = found.pop("leaf")
    result = {"entry": found, "leaf": base64.b64encode(leaf).decode()}
    latest = await asyncio.to_thread(store.latest_checkpoint)
    if latest is not None and seq < latest[0]:
        result["checkpoint"] = format_note(latest[1]).decode()
        result["proof"] = _b64(await asyncio.to_thread(store.inclusion_proof, seq, latest[0]))
    return web.json_response(result)


@requires("auditor")
async def export(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    try:
        q = {**request.query, **trail_filters({n: request.query.get(n, "") for n in ("since", "until")})}
    except FilterError as exc:
        return json_error(400, exc.reason, exc.detail)
    directory_raw = (hub.federation.path / "directory.signed.json").read_bytes()
    revocations_raw = (hub.federation.path / "revocations.signed.json").read_bytes()
    try:
        quorum = required_quorum(hub.federation.directory, int(q["quorum"]) if "quorum" in q else None,
                                 hub.federation.revocations.revoked)
    except (ValueError, QuorumError) as exc:
        return json_error(400, "bad_quorum", f"{exc}"[:200])
    try:
        bundle = await asyncio.to_thread(export_bundle, hub.store, directory_raw, quorum=quorum, revocations_raw=revocations_raw,
                                         thread=q.get("thread"),
                                         since=q.get("since"), until=q.get("until"), message_id=q.get("message_id"))
    except LookupError as exc:
        return json_error(409, "no_checkpoint", str(exc))
    return web.json_response(bundle)


async def federation_document(request: web.Request) -> web.Response:
    """The root-signed file the hub holds (it writes each document it applies over it): the same bytes
    it broadcast. Nothing secret; a node trusts it only after checking the root's signature and serial."""
    from nodes.plumbing.federation import DOCUMENT_FILES

    hub = request.app[HUB]
    raw = await asyncio.to_thread((hub.federation.path / DOCUMENT_FILES[request.match_info["kind"]]).read_bytes)
    return web.Response(body=raw, content_type="application/json")


@requires("operator")
async def publish(request: web.Request) -> web.Response:
    """The root's file as sent (its bytes are what the root signed: no JSON re-encoding here). Read
    here, after the operator's token was checked, with the bound of a signed document (larger than
    the application's bound for other bodies, which anyone may send to the console's login)."""
    chunks, size = [], 0
    while chunk := await request.content.read(1 << 16):
        size += len(chunk)
        if size > MAX_SIGNED_BYTES:
            return json_error(413, "request_too_large", f"a federation document may have at most "
                                                        f"{MAX_SIGNED_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        published = await request.app[HUB].publish_federation_document(raw)
    except CryptoError as exc:
        return json_error(422, exc.reason, f"{exc.detail} (nothing changed)")
    return web.json_response(published)
