"""HTTP pieces shared by the node and hub APIs: bearer-token roles, rate limits, typed JSON errors."""

from __future__ import annotations

import json

import math
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from crypto.tokens import role_for, token_digest
from nodes.plumbing.openapi import ERROR, amend
from protocol.ratelimit import RateLimit, TokenBuckets

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLE = web.AppKey("somex_tokens", dict)  # role -> SHA-256 digest of its token (crypto/tokens.py)
RATE = web.AppKey("somex_rate", TokenBuckets)  # callers with a valid credential, and anonymous ones per address
ON_RATE_LIMITED = web.AppKey("somex_on_rate_limited", object)  # called for each 429 (metrics)
FAILURES = web.AppKey("somex_rate_failures", TokenBuckets)  # per address, requests with only invalid credentials
CREDENTIAL_CHECKS = web.AppKey("somex_credential_checks", list)
_ROLE_OF = web.RequestKey("somex_role_of", tuple)  # (the digests asked against, the role they gave)
MAX_SQL_INTEGER = 2**63 - 1  # BIGINT: larger numbers in a query cannot name a row


def json_error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer "):] if header.startswith("Bearer ") else None


def role_of(request: web.Request, tokens: Mapping[str, str]) -> str | None:
    """The role of the request's bearer token, checked against the stored digests in constant time.
    Worked out once per request and set of digests: the rate limit, the route's guard and the access
    log all ask (a request's headers do not change while it is served)."""
    known = request.get(_ROLE_OF)
    if known is not None and known[0] is tokens:
        return known[1]
    presented = _bearer(request)
    role = None if presented is None else role_for(presented, tokens)
    request[_ROLE_OF] = (tokens, role)
    return role


NO_TOKEN = "no token: send 'Authorization: Bearer <token>' with a role token"
WRONG_TOKEN = ("this token is not one of this server's role tokens (another node's, replaced or mistyped): send "
               "the role token of this node or hub (operator-tokens.json of its host)")


def unauthenticated_detail(request: web.Request) -> str:
    """A missing token and a wrong one are different mistakes with different remedies."""
    return NO_TOKEN if _bearer(request) is None else WRONG_TOKEN


def requires(*roles: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            role = role_of(request, request.app[ROLE])
            if role is None:
                return json_error(401, "unauthenticated", unauthenticated_detail(request))
            if role not in roles:
                return json_error(403, "forbidden", f"the {role} role may not do this; needs {', '.join(roles)}")
            return await handler(request)

        return guarded

    return wrap


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # raised answers (404, 413, ...) get them too
        _add_security_headers(exc.headers, request.secure)
        raise
    _add_security_headers(response.headers, request.secure)
    return response


@web.middleware
async def json_api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown /api routes and methods answer in the API's JSON error shape, not aiohttp's text."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        if not request.path.startswith("/api/") or exc.content_type == "application/json":
            raise
        if isinstance(exc, web.HTTPNotFound):
            return json_error(404, "not_found", "no such API route; see /api/openapi.json")
        response = json_error(405, "method_not_allowed",
                              f"{request.method[:10]} is not allowed here; allowed: {', '.join(sorted(exc.allowed_methods))}")
        response.headers["Allow"] = exc.headers["Allow"]
        return response


def _add_security_headers(headers: MutableMapping[str, str], secure: bool = False) -> None:
    if secure:  # served over HTTPS: browsers must not fall back to plain HTTP for a year
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")


def attachment_disposition(name: str) -> str:
    """`Content-Disposition` for a download whose file name someone else chose (a sending State):
    the name as written in RFC 8187 `filename*`, an ASCII fallback in `filename`. Control and
    line-separator characters and lone surrogates become `_` (aiohttp refuses DEL in a header and
    cannot encode a surrogate: the download would end unanswered); quotes, backslashes and semicolons
    never reach the quoted fallback (nor confuse a naive parser)."""
    shown = "".join("_" if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in name)
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\;' else "_" for c in shown)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(shown, safe='')}"


def page(request: web.Request, *, default: int = 100, maximum: int = 1000, prefix: str = "") -> tuple[int, int]:
    """`limit` (capped at `maximum`) and `offset` from the query (names may carry a prefix), or
    a JSON 400 if they are not integers."""
    limit_name, offset_name = f"{prefix}limit", f"{prefix}offset"
    try:
        limit = min(int(request.query.get(limit_name, str(default))), maximum)
        offset = max(int(request.query.get(offset_name, "0")), 0)
        if limit < 1 or offset > MAX_SQL_INTEGER:
            raise ValueError
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request",
                             "detail": f"{limit_name} (from 1) and {offset_name} (from 0) are integers"}),
            content_type="application/json") from None
    return limit, offset


async def read_json(request: web.Request) -> dict:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text='{"error":"bad_content_type","detail":"send application/json"}',
                                           content_type="application/json")
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        raise web.HTTPRequestEntityTooLarge(
            limit, text=f'{{"error":"request_too_large","detail":"a request body may have at most {limit} bytes"}}',
            content_type="application/json") from None
    except ValueError:
        raise web.HTTPBadRequest(text='{"error":"malformed_json","detail":"the request body is not JSON"}',
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error":"malformed_json","detail":"expected a JSON object"}',
                                 content_type="application/json")
    return body


@dataclass(frozen=True)
class Credential:
    """What a request presented to say who it is, for the rate limit: `key` names the caller's own
    bucket (a token's or a session's digest) when the credential is valid, None when it is not."""

    key: str | None


CredentialCheck = Callable[[web.Request], Awaitable[Credential | None]]  # None: nothing of its kind presented


def limit_rate(app: web.Application, limit: RateLimit, failures: RateLimit) -> None:
    """Throttle `app`'s requests per caller. Call before the app starts.

    A request with a valid credential (an API token, or what `add_credential_check` recognises,
    such as a console session) spends from that credential's own bucket, whatever else it carries.
    One that presents only invalid credentials spends from its address's bucket of failures
    (`failures`), one without any credential from its address's anonymous bucket (`limit`): a flood
    of wrong tokens throttles the flood, never the holders of right ones behind the same address.
    Over the limit: 429 `rate_limited` with Retry-After.
    """
    app[RATE] = TokenBuckets(limit)
    app[FAILURES] = TokenBuckets(failures)
    app.middlewares.append(_rate_limit)
    amend(app, _may_be_throttled)


def _may_be_throttled(path: str, method: str, operation: dict[str, Any]) -> None:
    """Every route may answer 429, the console's pages and login too (documented once, here)."""
    operation.setdefault("responses", {}).setdefault(
        "429", {"description": "rate limited", "content": {"application/json": {"schema": ERROR}}})


def add_credential_check(app: web.Application, check: CredentialCheck) -> None:
    """Have the rate limit recognise one more kind of credential (see `limit_rate`)."""
    app.setdefault(CREDENTIAL_CHECKS, []).append(check)


async def _bearer_credential(request: web.Request) -> Credential | None:
    presented = _bearer(request)
    if presented is None:
        return None
    known = role_of(request, request.app.get(ROLE, {})) is not None
    return Credential(f"token:{token_digest(presented)}" if known else None)


async def _bucket(request: web.Request) -> tuple[TokenBuckets, str, str]:
    """The bucket a request spends from, its key, and what to tell the caller when it is empty."""
    failed = False
    for check in (_bearer_credential, *request.app.get(CREDENTIAL_CHECKS, ())):
        credential = await check(request)
        if credential is not None and credential.key is not None:
            return request.app[RATE], credential.key, "too many requests"
        failed = failed or credential is not None
    if failed:
        return (request.app[FAILURES], f"failed:{request.remote}",
                "too many failed tokens or logins from this address; check the token")
    return request.app[RATE], f"addr:{request.remote}", "too many requests from this address"


@web.middleware
async def _rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    buckets, key, what = await _bucket(request)
    wait = buckets.take(key, time.monotonic())
    if wait > 0:
        if (counted := request.app.get(ON_RATE_LIMITED)) is not None:
            counted()
        response = json_error(429, "rate_limited", f"{what}; retry in {wait:.2f} s")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    return await handler(request)
