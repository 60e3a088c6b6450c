"""HTTP pieces shared by the node and hub APIs: bearer-token roles and typed JSON errors."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLE = web.AppKey("somex_tokens", dict)


def json_error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


def role_of(request: web.Request, tokens: Mapping[str, str]) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    presented = header[len("Bearer "):].encode()
    found = None
    for role, token in tokens.items():
        # Compare against every token, in constant time, so timing reveals nothing.
        if hmac.compare_digest(presented, token.encode()):
            found = role
    return found


def requires(*roles: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            role = role_of(request, request.app[ROLE])
            if role is None:
                return json_error(401, "unauthenticated", "send 'Authorization: Bearer <token>' with a role token")
            if role not in roles:
                return json_error(403, "forbidden", f"the {role} role may not do this; needs {', '.join(roles)}")
            return await handler(request)

        return guarded

    return wrap


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def read_json(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text='{"error":"bad_content_type","detail":"send application/json"}',
                                           content_type="application/json")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error":"malformed_json","detail":"the request body is not JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error":"malformed_json","detail":"expected a JSON object"}',
                                 content_type="application/json")
    return body
