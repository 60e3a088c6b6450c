"""The focal point's routes for large evidence files: their progress, and the download of a
complete, verified file streamed from disk."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nodes.national.features.files.transfers import FileTransfers
from nodes.national.reads import reader
from nodes.plumbing.http import attachment_disposition, json_error, requires
from nodes.plumbing.openapi import INTEGER, array, document, obj, op, path_param, query
from protocol.errors import ProtocolError
from protocol.files import MAX_FILES

TRANSFERS = web.AppKey("somex_files", FileTransfers)


def add_routes(app: web.Application, transfers: FileTransfers) -> None:
    app[TRANSFERS] = transfers
    app.router.add_get("/api/files", list_files)
    app.router.add_get("/api/files/{carrier}/{n}", download_file)
    document(app, _PATHS)


_PATHS = {
    "/api/files": {"get": op("Large evidence files sent and received, with their progress", roles=("focal",),
                             tag="files", params=[query("thread")], ok=(200, obj(("files",), files=array(obj()))))},
    "/api/files/{carrier}/{n}": {"get": op(
        "Download a received file once complete and verified (X-Content-SHA256 carries its digest)",
        roles=("focal",), tag="files", params=[path_param("carrier"), path_param("n", INTEGER)], errors=(404, 409),
        ok_content={"application/octet-stream": {"schema": {"type": "string",
                                                            "contentMediaType": "application/octet-stream"}}})},
}


@requires("focal")
async def list_files(request: web.Request) -> web.Response:
    items = await asyncio.to_thread(request.app[TRANSFERS].list, request.query.get("thread"))
    return web.json_response({"files": items})


@requires("focal")
async def download_file(request: web.Request) -> web.StreamResponse:
    transfers = request.app[TRANSFERS]
    try:
        n = int(request.match_info["n"])
        if not 0 <= n < MAX_FILES:
            raise ValueError
    except ValueError:
        return json_error(400, "bad_request", f"the file index is an integer 0..{MAX_FILES - 1}")
    try:
        ref, path = await asyncio.to_thread(transfers.download, request.match_info["carrier"][:40], n)
    except LookupError as exc:
        return json_error(404, "not_found", str(exc))
    except ProtocolError as exc:
        return json_error(409, exc.reason, exc.detail)
    transfers.log.info("file downloaded", message_id=request.match_info["carrier"], n=n, who=reader(request))
    return web.FileResponse(path, headers={"Content-Type": "application/octet-stream", "X-Content-SHA256": ref["sha256"],
                                           "Content-Disposition": attachment_disposition(ref["name"])})
