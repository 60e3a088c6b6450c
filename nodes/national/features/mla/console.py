"""The focal point's MLA pages: the list of requests, composing one, and a request with its
timeline and the events this State may send now. They call the same CentralAuthority methods as
the JSON API (nodes/national/mla_api.py), so both see and do the same."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import BodyPartReader, web

from crypto.errors import CryptoError
from nodes.national import reads
from nodes.national.features.mla.authority import CentralAuthority, Upload
from nodes.national.reads import CONSOLE_READER
from nodes.national.features.mla.api import MAX_FIELDS_BYTES, read_part, TooLarge
from nodes.plumbing import console
from nodes.plumbing.i18n import words
from nodes.plumbing.config import utcnow
from nodes.plumbing.http import attachment_disposition
from nodes.plumbing.openapi import document
from protocol import mla
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

AUTHORITY = web.AppKey("somex_console_mla", CentralAuthority)
LIST_FIELDS = {"legal_basis": "legal_basis", "offence": "offences", "measure": "measures"}
TEXT_FIELDS = ("to", "kind", "reference", "summary", "deadline", "urgency", "urgency_reason", "treaty", "language",
               "treaty_override")
# The guided steps of each measure's template (protocol/mla.py MEASURE_TEMPLATES): `detail.<measure>.<field>`.
DETAIL_FIELDS = tuple(f"detail.{m}.{f}" for m in mla.MEASURES for f in mla.measure_fields(m))
CHOICES = {"kind": mla.KINDS, "legal_basis": mla.LEGAL_BASES, "offence": mla.OFFENCES, "measure": mla.MEASURES,
           "urgency": mla.URGENCIES, "grounds": mla.REFUSAL_GROUNDS}
_HTML = {"200": {"description": "an HTML page (with ?partial=1 only its live part)", "content": {"text/html": {}}}}


def add_routes(app: web.Application, authority: CentralAuthority) -> None:
    app[AUTHORITY] = authority
    r = app.router
    r.add_get("/console/mla", request_list)
    r.add_get("/console/mla/new", compose_form)
    r.add_post("/console/mla/new", compose)
    r.add_get("/console/mla/{id}", request_page)
    r.add_post("/console/mla/{id}/events", act)
    r.add_get("/console/mla/messages/{id}/attachments/{index:\\d+}", attachment)
    r.add_get("/console/mla/files/{carrier}/{n:\\d+}", evidence_file)
    session = [{"session": []}]
    path_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    partial = [{"name": "partial", "in": "query", "schema": {"type": "string", "enum": ["1"]}}]
    document(app, {
        "/console/mla": {"get": {"summary": "MLA requests in both directions (live)", "tags": ["console"],
                                 "security": session, "parameters": partial, "responses": _HTML}},
        "/console/mla/new": {
            "get": {"summary": "Compose an MLA request", "tags": ["console"], "security": session,
                    "responses": _HTML},
            "post": {"summary": "Send an MLA request (multipart: csrf_token first, then the fields and "
                                "attachment files)", "tags": ["console"], "security": session,
                     "requestBody": {"required": True, "content": {"multipart/form-data": {}}},
                     "responses": {"303": {"description": "sent: to the request's page"},
                                   "400": {"description": "refused: the form again, with the reason",
                                           "content": {"text/html": {}}}}}},
        "/console/mla/{id}": {"get": {
            "summary": "One MLA request: status, timeline, the events this State may send; opening an "
                       "incoming request sends the `retrieved` receipt", "tags": ["console"],
            "security": session, "parameters": path_id + partial,
            "responses": {**_HTML, "404": {"description": "no such request", "content": {"text/html": {}}}}}},
        "/console/mla/{id}/events": {"post": {
            "summary": "Send a lifecycle event (event, optional note, grounds and attachment files; "
                       "multipart with csrf_token first, or a plain form without files)", "tags": ["console"],
            "security": session, "parameters": path_id,
            "requestBody": {"required": True, "content": {"multipart/form-data": {},
                                                          "application/x-www-form-urlencoded": {}}},
            "responses": {"303": {"description": "back to the request, with ?sent=<event>&state=<state> or ?error="}}}},
        "/console/mla/messages/{id}/attachments/{index}": {"get": {
            "summary": "Download one attachment of an MLA message (checked against its SHA-256)",
            "tags": ["console"], "security": session,
            "parameters": path_id + [{"name": "index", "in": "path", "required": True,
                                      "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the file"},
                          "404": {"description": "no such attachment", "content": {"text/html": {}}}}}},
        "/console/mla/files/{carrier}/{n}": {"get": {
            "summary": "Download a large evidence file received on an MLA thread, once complete and verified "
                       "(the files feature's GET /api/files/{carrier}/{n}, for a console session)",
            "tags": ["console"], "security": session,
            "parameters": [{"name": "carrier", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the file (X-Content-SHA256 carries its digest)"},
                          "404": {"description": "no such file", "content": {"text/html": {}}},
                          "409": {"description": "not complete or failed: the reason", "content": {"text/html": {}}}}}},
    })


def allowed_events(direction: str, state: str) -> list[str]:
    """The events a focal point of this party may send now, from the lifecycle rules."""
    role = mla.Role.REQUESTING if direction == "out" else mla.Role.REQUESTED
    return [r.event for r in mla.RULES if r.message_type is not None and r.actor is role and state in r.sources]


def is_overdue(deadline: str | None, state: str, today: date) -> bool:
    return deadline is not None and state in mla.OPEN and date.fromisoformat(deadline) < today


@console.view("focal")
async def request_list(request: web.Request) -> web.Response:
    rows = await asyncio.to_thread(request.app[AUTHORITY].list)
    today = utcnow().date()
    template = "node/mla_rows.html" if request.query.get("partial") == "1" else "node/mla_list.html"
    return console.render(request, template, heading="MLA requests", rows=rows,
                          overdue={r["id"] for r in rows if is_overdue(r["deadline"], r["state"], today)})


@console.view("focal")
async def compose_form(request: web.Request) -> web.Response:
    return _compose_page(request, {}, None)


def _compose_page(request: web.Request, values: dict[str, Any], error: str | None) -> web.Response:
    authority = request.app[AUTHORITY]
    others = [n for n in authority.ctx.federation.directory.node_ids() if n != authority.ctx.country]
    book = authority.ctx.service_of("profiles")
    profiles = {n: book.get(n) for n in others} if book is not None else {}
    return console.render(request, "node/mla_compose.html", status=400 if error else 200,
                          heading="New MLA request", countries=others, choices=CHOICES, values=values, error=error,
                          templates=mla.MEASURE_TEMPLATES, profiles=profiles, request_languages=REQUEST_LANGUAGES)


# The languages offered for a request, most used first (any ISO 639-1 code is valid through the API).
REQUEST_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es", "pt", "de", "it", "id", "tr", "fa", "ur", "hi", "sw", "ms",
                     "th", "vi", "ja", "ko", "nl", "pl", "uk", "el", "he")


@console.view("focal")
async def compose(request: web.Request) -> web.Response:
    values: dict[str, Any] = {}
    try:
        values, uploads = await _form(request)
        created = await asyncio.to_thread(request.app[AUTHORITY].create, request_fields(values), uploads)
    except TooLarge:
        return _compose_page(request, values, f"too_large: attachments over {mla.MAX_ATTACHMENT_BYTES} bytes "
                                              "in all, or a field over 1 MiB")
    except (ProtocolError, CryptoError) as exc:
        return _compose_page(request, values, f"{exc.reason}: {exc.detail}")
    return web.Response(status=303, headers={"Location": f"/console/mla/{created['id']}"})


async def _form(request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
    """The form's fields (lists for the multiple selects) and its attachment files."""
    fields, uploads = await _multipart(request, [*LIST_FIELDS, *TEXT_FIELDS, *DETAIL_FIELDS])
    values: dict[str, Any] = {name: fields[name] for name in LIST_FIELDS}
    values.update({name: fields[name][-1] for name in (*TEXT_FIELDS, *DETAIL_FIELDS) if fields[name]})
    return values, uploads


async def _multipart(request: web.Request, names: Sequence[str]) -> tuple[dict[str, list[str]], list[Upload]]:
    """A multipart form's text fields by name (each a list, in order; a field not in `names` is
    refused) and its attachment files, read within the attachments' byte budget."""
    fields: dict[str, list[str]] = {name: [] for name in names}
    uploads: list[Upload] = []
    budget = mla.MAX_ATTACHMENT_BYTES
    reader = await console.multipart(request)
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ProtocolError("bad_request", "nested multipart is not accepted")
        if part.name == "attachment":
            content = await read_part(part, budget)
            if part.filename:  # an empty file input sends a part without a name
                budget -= len(content)
                uploads.append(Upload(part.filename, part.headers.get("Content-Type", "application/octet-stream"),
                                      content))
        elif part.name in fields:
            fields[part.name].append((await read_part(part, MAX_FIELDS_BYTES)).decode("utf-8", "replace"))
        else:
            raise ProtocolError("bad_request", f"unexpected field {str(part.name)[:40]!r}")
    return fields, uploads


def request_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The fields CentralAuthority.create takes, from the form's values (empty optional fields left out)."""
    fields: dict[str, Any] = {"requested": values.get("to", ""), "reference": values.get("reference", "").strip(),
                              "kind": values.get("kind", ""), "urgency": values.get("urgency", ""),
                              "summary": values.get("summary", "")}
    fields.update({key: values.get(name, []) for name, key in LIST_FIELDS.items()})
    for name in ("deadline", "urgency_reason", "treaty", "language", "treaty_override"):
        if values.get(name, "").strip():
            fields[name] = values[name].strip()
    details: dict[str, dict[str, str]] = {}
    for measure in fields["measures"]:  # only the chosen measures' steps: a hidden step's leftovers stay out
        for name in mla.measure_fields(measure) if measure in mla.MEASURE_TEMPLATES else ():
            if values.get(f"detail.{measure}.{name}", "").strip():
                details.setdefault(measure, {})[name] = values[f"detail.{measure}.{name}"].strip()
    if details:
        fields["measure_details"] = details
    return fields


ANSWER_TYPES = ("mla.status", "mla.response", "note")


def correspondence(authority: CentralAuthority, view: dict[str, Any], who: str) -> list[dict[str, Any]]:
    """Every message on the request's thread after the request itself, in both directions, with its
    note (also one typed with an action), grounds and attachments, oldest first. Sealed bodies are
    opened through the read path, so each showing is in the access journal; one that cannot be
    opened is listed with the reason."""
    ctx = authority.ctx
    stored = [m for m in ctx.store.list(thread=view["thread"], limit=1000)
              if m.type in ANSWER_TYPES and m.message_id != view["id"]]
    items = []
    for m in sorted(stored, key=lambda m: (m.stored_at, m.message_id)):
        item: dict[str, Any] = {"message_id": m.message_id, "type": m.type, "sender": m.sender,
                                "mine": m.direction == "out", "at": m.stored_at}
        try:
            body = ctx.sender.open(m.message_id, who).body_without_attachment_contents()
        except LookupError as exc:
            item["unreadable"] = str(exc)
        except (ProtocolError, CryptoError) as exc:
            item["unreadable"] = f"{exc.reason}: {exc.detail}"
        else:
            item.update(event=body.get("event"), note=body.get("note") or body.get("text"),
                        language=body.get("language"),
                        grounds=body.get("grounds", []), attachments=body.get("attachments", []))
        items.append(item)
    return items


@console.view("focal")
async def request_page(request: web.Request) -> web.Response:
    try:
        # The same call as the API's view_request: a first look at an incoming request is `retrieved`.
        authority, partial = request.app[AUTHORITY], request.query.get("partial") == "1"
        view = await (asyncio.to_thread(authority.status, request.match_info["id"]) if partial else
                      asyncio.to_thread(authority.open, request.match_info["id"], CONSOLE_READER))
    except LookupError:
        return console.error_page(request, 404, "No such request",
                                  words("This node holds no MLA request %(id)s.", id=request.match_info["id"][:80]))
    except (ProtocolError, CryptoError) as exc:
        return console.refusal_page(request, 400, "The request cannot be opened", f"{exc.reason}: {exc.detail}")
    today = utcnow().date()
    answers = await asyncio.to_thread(correspondence, authority, view, CONSOLE_READER)
    files = await asyncio.to_thread(evidence_files, authority, view["thread"])
    if not partial:  # what the page shows in full counts as read in the inbox (a live refresh does not)
        shown = [view["id"]] if view["direction"] == "in" else []
        shown += [a["message_id"] for a in answers if not a["mine"]]
        at = format_time(utcnow())
        for message_id in shown:
            await asyncio.to_thread(reads.mark_read, authority.engine, message_id, at)
    template = "node/mla_live.html" if partial else "node/mla_request.html"
    no_profile = view["direction"] == "out" and not partial and await asyncio.to_thread(_no_profile, authority,
                                                                                        view["requested"])
    return console.render(request, template, heading=words("MLA request %(reference)s", reference=view["reference"]),
                          view=view,
                          answers=answers, us=authority.ctx.country,
                          events=allowed_events(view["direction"], view["state"]), grounds=mla.REFUSAL_GROUNDS,
                          note_languages=REQUEST_LANGUAGES, files=files,
                          overdue=is_overdue(view["deadline"], view["state"], today),
                          sent=request.query.get("sent"), state=request.query.get("state"),
                          error=request.query.get("error"),
                          no_profile=no_profile)


def _no_profile(authority: CentralAuthority, country: str) -> bool:
    """The requested State has published no profile (this node has a profiles feature and none of it)."""
    book = authority.ctx.service_of("profiles")
    return book is not None and book.get(country) is None


@console.view("focal")
async def act(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    try:
        event, note, grounds, uploads, language = await _act_form(request)
        if event is None:
            raise ProtocolError("bad_request", "choose an event")
        done = await asyncio.to_thread(request.app[AUTHORITY].act, request_id, event,
                                       note=note.strip() or None if note else None, grounds=grounds, uploads=uploads,
                                       language=language or None)
        outcome = {"sent": event, "state": done["state"]}  # codes: the page says them in the reader's language
    except LookupError:
        return console.error_page(request, 404, "No such request",
                                  words("This node holds no MLA request %(id)s.", id=request.match_info["id"][:80]))
    except TooLarge:
        outcome = {"error": f"too_large: attachments over {mla.MAX_ATTACHMENT_BYTES} bytes in all"}
    except (ProtocolError, CryptoError) as exc:
        outcome = {"error": f"{exc.reason}: {exc.detail}"}
    back = f"/console/mla/{quote(request_id, safe='')}?{urlencode(outcome)}"  # the id comes from the address
    return web.Response(status=303, headers={"Location": back})


async def _act_form(request: web.Request) -> tuple[str | None, str | None, list[str], list[Upload], str | None]:
    """The action form: event, note, grounds, (multipart only) attachment files, e.g. the order
    that executes a request, and the note's language (the form offers the console's language first)."""
    if request.content_type != "multipart/form-data":
        form = await request.post()
        event, note, language = form.get("event"), form.get("note"), form.get("language")
        return (event if isinstance(event, str) else None, note if isinstance(note, str) else None,
                [g for g in form.getall("grounds", []) if isinstance(g, str)], [],
                language if isinstance(language, str) else None)
    fields, uploads = await _multipart(request, ("event", "note", "grounds", "language"))
    return (fields["event"][0] if fields["event"] else None, fields["note"][0] if fields["note"] else None,
            fields["grounds"], uploads, fields["language"][0] if fields["language"] else None)


def evidence_files(authority: CentralAuthority, thread: str) -> list[dict]:
    """The large files sent and received on the request's thread, with their progress (the files
    feature's list, docs/evidence-files.md); none when the node runs without that feature."""
    transfers = authority.ctx.service_of("files")
    return transfers.list(thread) if transfers is not None else []


@console.view("focal")
async def evidence_file(request: web.Request) -> web.StreamResponse:
    """The same checked read as the files feature's API download: only a complete, verified file."""
    transfers = request.app[AUTHORITY].ctx.service_of("files")
    carrier, n = request.match_info["carrier"][:40], int(request.match_info["n"])
    try:
        if transfers is None:
            raise LookupError(carrier)
        ref, path = await asyncio.to_thread(transfers.download, carrier, n)
    except LookupError:
        return console.error_page(request, 404, "No such file",
                                  words("Message %(id)s has no received file %(n)s.", id=carrier, n=n))
    except ProtocolError as exc:
        return console.refusal_page(request, 409, "The file cannot be downloaded", f"{exc.reason}: {exc.detail}")
    transfers.log.info("file downloaded", message_id=carrier, n=n, who=CONSOLE_READER)
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream",
                                           "X-Content-SHA256": ref["sha256"],
                                           "Content-Disposition": attachment_disposition(ref["name"])})


@console.view("focal")
async def attachment(request: web.Request) -> web.Response:
    """The same checked read as the API's download_attachment."""
    try:
        meta, content = await asyncio.to_thread(request.app[AUTHORITY].attachment, request.match_info["id"],
                                                int(request.match_info["index"]), CONSOLE_READER)
    except LookupError:
        return console.error_page(request, 404, "No such attachment",
                                  words("Message %(id)s has no attachment %(index)s.", id=request.match_info["id"][:80],
                                        index=request.match_info["index"]))
    except (ProtocolError, CryptoError) as exc:
        return console.refusal_page(request, 400, "The attachment cannot be read", f"{exc.reason}: {exc.detail}")
    return web.Response(body=content, content_type="application/octet-stream",
                        headers={"X-Content-SHA256": meta["sha256"],
                                 "Content-Disposition": attachment_disposition(meta["name"])})
