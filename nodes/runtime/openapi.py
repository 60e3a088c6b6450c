"""The OpenAPI 3.1 description of an app's HTTP routes, contributed by the modules that add them.

A module that registers routes also describes them: `document(app, {path: {method: operation}})`
next to its `add_get`/`add_post` calls. The app serves the assembled document at
`/api/openapi.json`; a test checks it against the router, both ways.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

PATHS = web.AppKey("somex_openapi_paths", dict)


def document(app: web.Application, paths: dict[str, dict[str, Any]]) -> None:
    """Add the description of `paths` (OpenAPI path items) to `app`'s document."""
    known: dict[str, dict[str, Any]] = app.setdefault(PATHS, {})
    for path, item in paths.items():
        already = known.setdefault(path, {})
        clash = already.keys() & item.keys()
        if clash:
            raise ValueError(f"{path}: {sorted(clash)} described twice")
        already.update(item)
