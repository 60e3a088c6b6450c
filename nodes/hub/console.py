"""The auditor's web console on the hub: read-only (nodes/plumbing/console.py has the common ground)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode
from pathlib import Path
from typing import Any

from aiohttp import web

from crypto.witness import directory_witnesses, required_quorum
from nodes.hub.export import export_bundle
from nodes.hub.web_view import HubView
from nodes.hub.sequence import sequence_diagram
from nodes.hub.volume import hour_slots, volume_chart
from nodes.plumbing import console
from nodes.plumbing.i18n import WordsError, words
from nodes.plumbing.openapi import document
from protocol import messages
from protocol.policy import HUB_ID
from protocol.checkpoint import SignedNote, format_note, parse_checkpoint_body

HUB = web.AppKey("somex_console_hub", HubView)
NAV = (("Overview", "/console/"), ("Trails", "/console/trails"), ("Checkpoint", "/console/checkpoint"),
       ("Volume", "/console/volume"))
THREAD_CAP = 200
PAGE = 100
MAX_HOURS = 168
FILTERS = ("message_id", "thread", "sender", "recipient", "type", "verdict", "since", "until")
_HTML = {"200": {"description": "an HTML page", "content": {"text/html": {}}}}
_SESSION = [{"session": []}]


def _page(summary: str, parameters: list[dict[str, Any]] | None = None, **responses: Any) -> dict[str, Any]:
    return {"get": {"summary": summary, "tags": ["console"], "security": _SESSION,
                    "parameters": parameters or [], "responses": {**_HTML, **responses}}}


def add_routes(app: web.Application, hub: HubView) -> None:
    app[HUB] = hub
    console.mount(app, console.Console("somex · audit", ("auditor",), NAV, Path(__file__).parent / "templates",
                                       HUB_ID))
    r = app.router
    r.add_get("/console/", overview)
    r.add_get("/console/entries/{seq}", entry_page)
    r.add_get("/console/entries/{seq}/bundle", entry_bundle)
    r.add_get(r"/console/threads/{thread:[\s\S]+}", thread_page)  # any thread name, "/" and line breaks too
    r.add_get("/console/trails", trails_page)
    r.add_get("/console/checkpoint", checkpoint_page)
    r.add_get("/console/volume", volume_page)
    seq = [{"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}]
    thread = [{"name": "thread", "in": "path", "required": True, "schema": {"type": "string"}}]
    query = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in FILTERS]
    query.append({"name": "after", "in": "query", "required": False, "schema": {"type": "integer"}})
    bad = {"description": "not an entry number, or no such entry", "content": {"text/html": {}}}
    document(app, {
        "/console/": _page("Auditor console: the log at a glance"),
        "/console/entries/{seq}": _page("One audit entry, the latest checkpoint, and its inclusion proof checked "
                                        "in the browser", seq, **{"400": bad, "404": bad}),
        "/console/entries/{seq}/bundle": {"get": {
            "summary": "The audit bundle of the entry's message, as a download", "tags": ["console"],
            "security": _SESSION, "parameters": seq,
            "responses": {"200": {"description": "the bundle (somex audit verify)",
                                  "content": {"application/json": {}}},
                          "400": bad, "404": bad,
                          "409": {"description": "the entry is not covered by a checkpoint yet", "content": {"text/html": {}}}}}},
        "/console/threads/{thread}": _page("A thread's audited messages as a sequence diagram", thread),
        "/console/trails": _page("Search the audit trail", query,
                                 **{"400": {"description": "a bad paging value", "content": {"text/html": {}}}}),
        "/console/checkpoint": _page("The latest checkpoint and how far each witness has cosigned"),
        "/console/volume": _page("Accepted messages per sender → recipient pair and hour", [
            {"name": "hours", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HOURS, "default": 24}}],
            **{"400": {"description": "hours out of range", "content": {"text/html": {}}}}),
    })


@console.view("auditor")
async def overview(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    latest = await asyncio.to_thread(hub.store.latest_checkpoint)
    return console.render(request, "hub/overview.html", heading="Audit log", log_size=hub.store.size,
                          checkpoint_size=latest[0] if latest else None, alarms=hub.alarms.active())


def _seq(request: web.Request) -> int | web.Response:
    raw = request.match_info["seq"]
    if not raw.isdigit():
        return console.error_page(request, 400, "Not an entry number", words("%(value)s is not an entry number.",
                                                                                    value=repr(raw[:40])))
    return int(raw)


def _signatures(note: SignedNote, hub_key: str) -> list[dict[str, str]]:
    """Who signed the note; a witness's cosignature/v1 carries its time (8 bytes, then 64 of signature)."""
    return [{"name": s.name, "role": "hub" if s.name == hub_key else "witness", "key_id": s.key_id.hex(),
             "at": datetime.fromtimestamp(int.from_bytes(s.sig[:8], "big"), timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
             if s.name != hub_key and len(s.sig) == 72 else ""} for s in note.signatures]


@console.view("auditor")
async def entry_page(request: web.Request) -> web.Response:
    store = request.app[HUB].store
    seq = _seq(request)
    if isinstance(seq, web.Response):
        return seq
    found = await asyncio.to_thread(store.entry, seq)
    if found is None:
        return console.error_page(request, 404, "No such entry",
                                  words("The log has no entry %(seq)s (it has %(size)s).", seq=seq, size=store.size))
    leaf = found.pop("leaf")
    latest = await asyncio.to_thread(store.latest_checkpoint)
    note_text, signatures, proof_data = None, [], None
    if latest is not None:
        size, note = latest
        note_text = format_note(note).decode()
        signatures = _signatures(note, store.key_name)
        if seq < size:
            proof = await asyncio.to_thread(store.inclusion_proof, seq, size)
            root = parse_checkpoint_body(note.body).root_hash
            proof_data = {"leaf": base64.b64encode(leaf).decode(), "index": seq, "size": size, "origin": store.origin,
                          "root": base64.b64encode(root).decode(),
                          "proof": [base64.b64encode(p).decode() for p in proof]}
    return console.render(request, "hub/entry.html", heading=words("Entry %(seq)s", seq=seq), entry=found,
                          note_text=note_text,
                          signatures=signatures, checkpoint_size=latest[0] if latest else None,
                          proof_json=json.dumps(proof_data) if proof_data else None)


@console.view("auditor")
async def entry_bundle(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    seq = _seq(request)
    if isinstance(seq, web.Response):
        return seq
    found = await asyncio.to_thread(hub.store.entry, seq)
    if found is None or not found.get("message_id"):
        return console.error_page(request, 404, "Nothing to export",
                                  words("Entry %(seq)s does not exist or names no message, so it has no bundle.",
                                        seq=seq))
    quorum = required_quorum(hub.federation.directory, revoked=hub.federation.revocations.revoked)
    latest = await asyncio.to_thread(hub.store.latest_checkpoint)
    covered = await asyncio.to_thread(hub.store.newest_cosigned, quorum)
    if latest is None or seq >= (covered or latest[0]):
        return console.error_page(request, 409, "Not yet covered by a witnessed checkpoint",
                                  words("Entry %(seq)s is not in a checkpoint the witness quorum (%(quorum)s of "
                                        "%(witnesses)s) has cosigned yet, so a bundle could not prove it. The hub "
                                        "signs one within seconds of new traffic and the witnesses cosign it as they "
                                        "receive it; try again shortly.", seq=seq, quorum=quorum,
                                        witnesses=len(directory_witnesses(hub.federation.directory,
                                                                          hub.federation.revocations.revoked))))
    directory_raw = (hub.federation.path / "directory.signed.json").read_bytes()
    revocations_raw = (hub.federation.path / "revocations.signed.json").read_bytes()
    bundle = await asyncio.to_thread(export_bundle, hub.store, directory_raw, quorum=quorum,
                                     revocations_raw=revocations_raw, message_id=found["message_id"])
    return web.Response(body=json.dumps(bundle, indent=1).encode(), content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="somex-audit-entry-{seq}.json"'})


@console.view("auditor")
async def thread_page(request: web.Request) -> web.Response:
    thread = request.match_info["thread"]
    rows = await asyncio.to_thread(request.app[HUB].store.trail, thread=thread, limit=THREAD_CAP + 1)
    capped = len(rows) > THREAD_CAP
    rows = rows[:THREAD_CAP]
    return console.render(request, "hub/thread.html", heading=words("Thread %(thread)s", thread=thread), thread=thread,
                          entries=rows,
                          capped=capped, cap=THREAD_CAP, diagram=sequence_diagram(rows))


class FilterError(WordsError):
    pass


_TIME_PREFIX = re.compile(r"\d{4}-\d\d-\d\d(T\d\d(:\d\d(:\d\d(\.\d{1,6})?)?)?)?")


def check_filters(filters: dict[str, str], members: list[str]) -> dict[str, str]:
    """The trail's filters as the store takes them: countries upper-cased and known, types known,
    times a UTC ISO prefix that is a real time. FilterError names the expected format, so a typo
    is never answered with an empty trail."""
    checked = dict(filters)
    for name in ("sender", "recipient"):
        if checked[name]:
            checked[name] = checked[name].upper()
            if checked[name] not in members:
                raise FilterError(words("%(name)s: the code of a member (%(members)s), not %(value)s", name=name,
                                        members=", ".join(members), value=repr(filters[name][:20])))
    if checked["type"] and checked["type"] not in messages.REGISTRY:
        raise FilterError(words("type: one of %(types)s, not %(value)s", types=", ".join(sorted(messages.REGISTRY)),
                                value=repr(filters["type"][:40])))
    for name in ("since", "until"):
        value = checked[name].removesuffix("Z")
        if value:
            if not _TIME_PREFIX.fullmatch(value):
                raise FilterError(words("%(name)s: a UTC time like 2026-11-23 or 2026-11-23T14:05, not %(value)s",
                                        name=name, value=repr(filters[name][:30])))
            try:
                datetime.fromisoformat(value if "T" in value else value + "T00:00")
            except ValueError:
                raise FilterError(words("%(name)s: %(value)s is not a real date or time", name=name,
                                        value=repr(filters[name][:30]))) from None
            checked[name] = value
    return checked


@console.view("auditor")
async def trails_page(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    q = request.query
    filters = {n: q.get(n, "").strip() for n in FILTERS}
    after_raw = q.get("after", "-1")
    try:
        after = int(after_raw)
    except ValueError:
        return console.error_page(request, 400, "Bad paging value", words("after=%(value)s is not an entry number.",
                                                                                 value=repr(after_raw[:40])))
    directory = hub.federation.directory
    try:
        checked = check_filters(filters, directory.node_ids(exclude_hub=False))
    except FilterError as exc:
        return console.render(request, "hub/trails.html", status=400, heading="Audit trail", filters=filters,
                              entries=[], next_query=None, error=exc.said, broker_users={})
    rows = await asyncio.to_thread(hub.store.trail, **{k: v or None for k, v in checked.items()},
                                   after=after, limit=PAGE)
    next_query = None
    if len(rows) == PAGE:
        next_query = urlencode({**{k: v for k, v in filters.items() if v}, "after": rows[-1]["seq"]})
    return console.render(request, "hub/trails.html", heading="Audit trail", filters=filters, entries=rows,
                          next_query=next_query, error=None, broker_users=broker_users(directory))


def broker_users(directory: Any) -> dict[str, str]:
    """Each member's node id by broker user, so a page can show when an entry's broker user (who
    really sent it) is not the account of the sender it claims."""
    return {entry.broker_user: node_id for node_id, entry in directory.nodes.items()}


@console.view("auditor")
async def checkpoint_page(request: web.Request) -> web.Response:
    store = request.app[HUB].store
    latest = await asyncio.to_thread(store.latest_checkpoint)
    witnessed = await asyncio.to_thread(store.witnessed_sizes)
    return console.render(request, "hub/checkpoint.html", heading="Latest checkpoint", log_size=store.size,
                          size=latest[0] if latest else None,
                          note_text=format_note(latest[1]).decode() if latest else None,
                          signatures=_signatures(latest[1], store.key_name) if latest else [],
                          witnessed=sorted(witnessed.items()))


@console.view("auditor")
async def volume_page(request: web.Request) -> web.Response:
    raw = request.query.get("hours", "24")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
        return console.error_page(request, 400, "Bad window", words("hours must be a whole number from 1 to %(most)s.",
                                                                         most=MAX_HOURS))
    hours, now = int(raw), datetime.now(timezone.utc)
    slots = hour_slots(now, hours)
    since = (now - timedelta(hours=hours - 1)).strftime("%Y-%m-%dT%H")
    counts = await asyncio.to_thread(request.app[HUB].store.hourly_volume, since)
    return console.render(request, "hub/volume.html", heading="Message volume", hours=hours, max_hours=MAX_HOURS,
                          chart=volume_chart(counts, slots), counts=counts)
