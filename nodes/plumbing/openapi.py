"""The OpenAPI 3.1 description of an app's HTTP routes, contributed by the modules that add them.

A module that registers routes also describes them: `document(app, {path: {method: operation}})`
next to its `add_get`/`add_post` calls (`op` builds the usual operation briefly). The app serves
the assembled document at `/api/openapi.json`; a test checks it against the router, both ways.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aiohttp import web

PATHS = web.AppKey("somex_openapi_paths", dict)
TITLE = web.AppKey("somex_openapi_title", str)
AMENDS = web.AppKey("somex_openapi_amends", list)
SESSION_COOKIE = web.AppKey("somex_openapi_session_cookie", str)  # set by the console (nodes/plumbing/console.py)
VERSION = "1.0"

ERROR = {"$ref": "#/components/schemas/Error"}
OBJECT: dict[str, Any] = {"type": "object"}
_ERRORS = {"400": "bad request (error says why)", "401": "no valid bearer token",
           "403": "this role may not do this", "404": "not found", "409": "conflict",
           "413": "request too large", "415": "unsupported content type", "429": "rate limited"}


def document(app: web.Application, paths: dict[str, dict[str, Any]]) -> None:
    """Add the description of `paths` (OpenAPI path items) to `app`'s document."""
    known: dict[str, dict[str, Any]] = app.setdefault(PATHS, {})
    for path, item in paths.items():
        already = known.setdefault(path, {})
        clash = already.keys() & item.keys()
        if clash:
            raise ValueError(f"{path}: {sorted(clash)} described twice")
        already.update(item)


def amend(app: web.Application, complete: Callable[[str, str, dict[str, Any]], None]) -> None:
    """Have `complete(path, method, operation)` finish every operation of `app`'s document when it
    is assembled: for what a middleware or wrapper answers on behalf of many routes."""
    app.setdefault(AMENDS, []).append(complete)


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """A JSON object schema with these properties (others allowed)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}


def query(name: str, schema: dict[str, Any] | None = None, *, required: bool = False,
          description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": required, "schema": schema or STRING}
    return {**param, "description": description} if description else param


def path_param(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or STRING}


def op(summary: str, *, roles: tuple[str, ...] = (), tag: str = "api", params: list[dict[str, Any]] | None = None,
       body: dict[str, Any] | None = None, body_content: dict[str, Any] | None = None,
       ok: tuple[int, dict[str, Any]] = (200, OBJECT), ok_content: dict[str, Any] | None = None,
       errors: tuple[int, ...] = ()) -> dict[str, Any]:
    """An operation: `roles` that may call it (bearer token; none: public), a JSON `body` schema
    (or other `body_content`), the success status and JSON schema, and the typed errors it answers
    besides 400/401/403/429 (which every guarded operation may)."""
    status, schema = ok
    content = ok_content or {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(status): {"description": "success", "content": content}}
    codes = {429, *errors}
    if roles:
        codes |= {401, 403}
    if params or body or body_content:
        codes.add(400)
    for code in sorted(codes):
        responses[str(code)] = {"description": _ERRORS.get(str(code), "error"),
                                "content": {"application/json": {"schema": ERROR}}}
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if roles:
        operation["security"] = [{"bearer": []}]
        operation["description"] = f"Roles: {', '.join(roles)}."
    if params:
        operation["parameters"] = params
    if body is not None or body_content is not None:
        operation["requestBody"] = {"required": True,
                                    "content": body_content or {"application/json": {"schema": body}}}
    return operation


def openapi_document(app: web.Application, title: str) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of `app`."""
    paths = copy.deepcopy(dict(sorted(app.get(PATHS, {}).items())))
    for complete in app.get(AMENDS, []):
        for path, item in paths.items():
            for method, operation in item.items():
                complete(path, method, operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": VERSION},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a role token"},
                "session": {"type": "apiKey", "in": "cookie", "name": app.get(SESSION_COOKIE, "somex_session"),
                            "description": "a console session (log in at /console/login)"},
            },
            "schemas": {"Error": obj(("error", "detail"), error=STRING, detail=STRING)},
        },
    }


def serve(app: web.Application, title: str) -> None:
    """Serve `app`'s document at GET /api/openapi.json (public), itself documented."""
    app[TITLE] = title
    app.router.add_get("/api/openapi.json", _openapi)
    document(app, {"/api/openapi.json": {"get": op("This OpenAPI 3.1 document", tag="meta")}})


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app, request.app[TITLE]))
