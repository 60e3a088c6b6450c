"""The focal point's MLA routes on the node API: create, list, view (with timeline), act, download.

Requests and events with attachments come as multipart/form-data: a `request` (or `event`) part
of JSON and one `attachment` part per file. Multipart parts are read as streams with this
module's own bounds, so the app-wide 1 MiB bound stays for every other route.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from crypto.errors import CryptoError
from nodes.national.features.mla.authority import CentralAuthority, Upload
from nodes.national.reads import reader
from nodes.plumbing.http import attachment_disposition, json_error, read_json, requires
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param, query
from protocol import mla
from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.errors import ProtocolError, TransitionError

AUTHORITY = web.AppKey("somex_mla", CentralAuthority)
MAX_FIELDS_BYTES = 1024 * 1024  # the JSON part; attachments have mla.MAX_ATTACHMENT_BYTES in all
_CHUNK = 256 * 1024
_FILE_PIECE = 1024 * 1024


def add_routes(app: web.Application, authority: CentralAuthority) -> None:
    app[AUTHORITY] = authority
    app.router.add_post("/api/mla/requests", create_request)
    app.router.add_get("/api/mla/requests", list_requests)
    app.router.add_get("/api/mla/requests/{id}", view_request)
    app.router.add_post("/api/mla/requests/{id}/events", act_on_request)
    app.router.add_get("/api/mla/messages/{id}/attachments/{index}", download_attachment)
    document(app, _PATHS)


_ATTACHMENT = obj(("name", "media_type", "content"), name=STRING, media_type=STRING,
                  content={"type": "string", "contentEncoding": "base64"})


def _with_files(name: str, fields: dict) -> dict:
    """JSON (attachments inline, base64) or multipart: a JSON `name` part and `attachment` files."""
    return {"application/json": {"schema": {**fields, "properties": {**fields["properties"],
                                                                      "attachments": array(_ATTACHMENT)}}},
            "multipart/form-data": {"schema": obj((name,), **{name: STRING, "attachment": array(
                {"type": "string", "contentMediaType": "application/octet-stream"})})}}


_PATHS = {
    "/api/mla/requests": {
        "post": op("Send a mutual legal assistance request (fields as in docs/mla.md)", roles=("focal",), tag="mla",
                   body_content=_with_files("request", obj()), errors=(409, 413, 415), ok=(202, obj())),
        "get": op("MLA requests, sent and received", roles=("focal", "auditor"), tag="mla",
                  params=[query("direction", {"enum": ["in", "out"]}), query("state", {"enum": list(mla.State)}),
                          query("kind"), query("due", {"enum": ["overdue", "soon"]})],
                  ok=(200, obj(("requests",), requests=array(obj()))))},
    "/api/mla/requests/{id}": {"get": op("One request with its timeline", roles=("focal",), tag="mla",
                                         params=[path_param("id")], errors=(404,), ok=(200, obj()))},
    "/api/mla/requests/{id}/events": {"post": op(
        "Act on a request (acknowledge, ask, answer, refuse, ...)", roles=("focal",), tag="mla",
        params=[path_param("id")], errors=(404, 409, 413, 415), ok=(202, obj()),
        body_content=_with_files("event", obj(("event",), event=STRING, note=STRING, grounds=array({}),
                                              language=STRING)))},
    "/api/mla/messages/{id}/attachments/{index}": {"get": op(
        "Download an attachment (X-Content-SHA256 carries its digest)", roles=("focal",), tag="mla",
        params=[path_param("id"), path_param("index", INTEGER)], errors=(404,),
        ok_content={"application/octet-stream": {"schema": {"type": "string",
                                                            "contentMediaType": "application/octet-stream"}}})},
}


class TooLarge(Exception):
    pass


async def read_part(part: BodyPartReader, budget: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if len(data) > budget:
            raise TooLarge
    return bytes(data)


async def _fields_and_uploads(request: web.Request, name: str) -> tuple[dict[str, Any], list[Upload], list[Any]]:
    """The JSON fields, the attachments and the large files of a create or act call, JSON or
    multipart. A `file` part (up to 2 GiB) is streamed to disk by the files feature, never held in
    memory; it is sent in chunks once the message that lists it is delivered."""
    if request.content_type != "multipart/form-data":
        data = await read_json(request)
        return data, _json_uploads(data.pop("attachments", [])), []
    fields: dict[str, Any] | None = None
    uploads: list[Upload] = []
    files: list[Any] = []
    budget = mla.MAX_ATTACHMENT_BYTES
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ProtocolError("bad_request", "nested multipart is not accepted")
            if part.name == name and fields is None:
                fields = _json_object(await read_part(part, MAX_FIELDS_BYTES), name)
            elif part.name == "attachment" and part.filename:
                content = await read_part(part, budget)
                budget -= len(content)
                uploads.append(Upload(part.filename, part.headers.get("Content-Type", "application/octet-stream"),
                                      content))
            elif part.name == "file" and part.filename:
                files.append(await _spool_part(request, part))
            else:
                raise ProtocolError("bad_request", f"unexpected part {str(part.name)[:40]!r}: send {name!r}, "
                                                   "'attachment' and 'file' parts")
    except (HttpProcessingError, ValueError, AssertionError) as exc:  # aiohttp's multipart parser on bad input
        raise ProtocolError("bad_request", f"malformed multipart body: {str(exc)[:120]}") from None
    if fields is None:
        _discard(request.app[AUTHORITY], files)
        raise ProtocolError("bad_request", f"a {name!r} part of JSON is required")
    return fields, uploads, files


def _discard(authority: CentralAuthority, files: list[Any]) -> None:
    """Spooled files of a call that failed: nothing will send them."""
    if files:
        authority.ctx.service_of("files").discard(files)


async def _spool_part(request: web.Request, part: BodyPartReader) -> Any:
    """A large file part written to the node's disk as it streams in (ProtocolError past 2 GiB)."""
    transfers = request.app[AUTHORITY].ctx.service_of("files")
    spool = transfers.spool(part.filename, part.headers.get("Content-Type", "application/octet-stream"))
    try:
        while chunk := await part.read_chunk(_FILE_PIECE):
            await asyncio.to_thread(spool.write, chunk)
        return await asyncio.to_thread(spool.finish)
    except BaseException:
        spool.discard()
        raise


def _json_object(content: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("malformed_json", f"the {name!r} part is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError("malformed_json", f"the {name!r} part is not a JSON object")
    return value


def _json_uploads(items: Any) -> list[Upload]:
    """Attachments inline in JSON: [{name, media_type, content (base64)}]."""
    if not isinstance(items, list):
        raise ProtocolError("bad_request", "attachments is a list of {name, media_type, content}")
    uploads = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str)
                                                 for k in ("name", "media_type", "content")):
            raise ProtocolError("bad_request", f"attachments[{i}] needs name, media_type and content (base64)")
        try:
            content = decode_base64(item["content"], f"attachments[{i}].content")
        except NonCanonicalEncoding as exc:
            raise ProtocolError("bad_request", f"{exc}: send standard padded base64") from None
        uploads.append(Upload(item["name"], item["media_type"], content))
    return uploads


def _error(exc: Exception) -> web.Response:
    if isinstance(exc, TooLarge):
        return json_error(413, "too_large", f"attachments over {mla.MAX_ATTACHMENT_BYTES} bytes in all, "
                                            f"or fields over {MAX_FIELDS_BYTES}")
    if isinstance(exc, LookupError):
        return json_error(404, "not_found", str(exc))
    if isinstance(exc, ProtocolError) and exc.reason == "file_too_large":
        return json_error(413, exc.reason, exc.detail)
    if isinstance(exc, TransitionError):
        return json_error(409, exc.reason, exc.detail)
    assert isinstance(exc, (ProtocolError, CryptoError))
    status = 409 if exc.reason == "duplicate_reference" else 400
    return json_error(status, exc.reason, exc.detail)


@requires("focal")
async def create_request(request: web.Request) -> web.Response:
    authority = request.app[AUTHORITY]
    try:
        fields, uploads, files = await _fields_and_uploads(request, "request")
        try:
            created = await asyncio.to_thread(authority.create, fields, uploads, files)
        except BaseException:
            _discard(authority, files)
            raise
    except (ProtocolError, CryptoError, TooLarge) as exc:
        return _error(exc)
    return web.json_response(created, status=202)


@requires("focal", "auditor")
async def list_requests(request: web.Request) -> web.Response:
    q = request.query
    if q.get("direction") not in (None, "in", "out"):
        return json_error(400, "bad_request", "direction is 'in' or 'out'")
    if q.get("due") not in (None, "overdue", "soon"):
        return json_error(400, "bad_request", "due is 'overdue' or 'soon'")
    if q.get("state") not in (None, *mla.State):
        return json_error(400, "bad_request", f"state is one of {', '.join(mla.State)}")
    rows = await asyncio.to_thread(request.app[AUTHORITY].list, direction=q.get("direction"), state=q.get("state"),
                                   kind=q.get("kind"), due=q.get("due"))
    return web.json_response({"requests": rows})


@requires("focal")
async def view_request(request: web.Request) -> web.Response:
    try:
        view = await asyncio.to_thread(request.app[AUTHORITY].open, request.match_info["id"], reader(request))
    except (LookupError, ProtocolError, CryptoError) as exc:
        return _error(exc)
    return web.json_response(view)


@requires("focal")
async def act_on_request(request: web.Request) -> web.Response:
    authority = request.app[AUTHORITY]
    try:
        fields, uploads, files = await _fields_and_uploads(request, "event")
        unknown = fields.keys() - {"event", "note", "grounds", "language"}
        if unknown:
            return json_error(400, "unknown_field", f"unknown field(s): {sorted(unknown)}")
        event, note, grounds = fields.get("event"), fields.get("note"), fields.get("grounds", [])
        language = fields.get("language")
        if not isinstance(event, str) or not isinstance(note, (str, type(None))) or not isinstance(grounds, list) \
                or not isinstance(language, (str, type(None))):
            return json_error(400, "bad_request", "'event' (string), optional 'note' (string), 'grounds' (list) "
                                                  "and 'language' (ISO 639-1 code of the note)")
        try:
            done = await asyncio.to_thread(authority.act, request.match_info["id"], event, note=note,
                                           grounds=grounds, uploads=uploads, files=files, language=language)
        except BaseException:
            _discard(authority, files)
            raise
    except (LookupError, ProtocolError, CryptoError, TooLarge) as exc:
        return _error(exc)
    return web.json_response(done, status=202)


@requires("focal")
async def download_attachment(request: web.Request) -> web.Response:
    try:
        index = int(request.match_info["index"])
        meta, content = await asyncio.to_thread(request.app[AUTHORITY].attachment, request.match_info["id"], index,
                                            reader(request))
    except ValueError:
        return json_error(400, "bad_request", "the attachment index is an integer")
    except (LookupError, ProtocolError, CryptoError) as exc:
        return _error(exc)
    # The sending State's media_type is shown in the request's view, never served: its bytes are
    # downloaded, not rendered (docs/security.md).
    return web.Response(body=content, content_type="application/octet-stream",
                        headers={"X-Content-SHA256": meta["sha256"],
                                 "Content-Disposition": attachment_disposition(meta["name"])})
