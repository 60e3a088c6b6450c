"""The web console's common ground: login with a role token, session cookies, CSRF, templates,
server-sent events. The node's focal-point console and the hub's auditor console build on it.

- **Login** exchanges a role token (the same bearer token the API takes) for a session. Only the
  console's own roles may log in; anything else is refused with the reason.
- **Sessions** live in the process (a node is one process): 256-bit random ids in an HttpOnly,
  SameSite=Strict cookie scoped to `/console`, a new id at every login, 30 minutes idle and 12
  hours at most.
- **CSRF:** every unsafe request under `/console` carries the session's token, as the form field
  `csrf_token` or the header `X-CSRF-Token`, and a foreign `Origin` is refused (`null` too: it
  names no site). Login itself is guarded by the Origin check and SameSite.
- **Rate limit:** a live session is a caller of its own, and a login spends from its token's
  bucket if the token is right and from the address's bucket of failures if not (http.py).
- **After login** the browser goes to `next` only if it is a plain path of the console.
- **Pages** are jinja2 templates (autoescaped) with a strict Content-Security-Policy: scripts and
  styles only from `/console/static`, nothing inline.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from crypto.tokens import role_for, token_digest
from nodes.plumbing import i18n
from nodes.plumbing.http import ROLE, Credential, add_credential_check
from nodes.plumbing.openapi import SESSION_COOKIE, amend, document

PREFIX = "/console"
COOKIE = "somex_session"  # the stem: each console's cookie is COOKIE + "_" + its node id (cookie_name)
IDLE = 30 * 60
LIFETIME = 12 * 3600
HEARTBEAT = 15.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
REFERRER_POLICY = "same-origin"
_HERE = Path(__file__).parent

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Session:
    role: str
    csrf: str
    created: float
    seen: float

    def expired(self, now: float) -> bool:
        return now - self.seen > IDLE or now - self.created > LIFETIME


@dataclass
class Console:
    """What one console serves: its title, the roles that may log in, its menu and templates."""

    title: str
    roles: tuple[str, ...]
    nav: Sequence[tuple[str, str]]  # (label, href)
    templates: Path
    node_id: str  # names the session cookie, so consoles on one host keep their own sessions
    home: str = PREFIX + "/"
    sessions: dict[str, Session] = field(default_factory=dict)
    more_templates: Sequence[Path] = ()  # searched after `templates` (a national node's features bring theirs)
    env: jinja2.Environment = field(init=False)

    @property
    def cookie(self) -> str:
        return cookie_name(self.node_id)

    def __post_init__(self) -> None:
        self._loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(self.templates),
                                            *(jinja2.FileSystemLoader(p) for p in self.more_templates),
                                            jinja2.FileSystemLoader(_HERE / "templates")])
        self._envs = {lang: i18n.environment(self._loader, lang) for lang in i18n.LANGUAGES}
        self.env = self._envs[i18n.DEFAULT]

    def env_for(self, lang: str) -> jinja2.Environment:
        """The templates in `lang` (one of i18n.LANGUAGES)."""
        return self._envs[lang]

    def open_session(self, role: str) -> tuple[str, Session]:
        now = time.monotonic()
        self.sessions = {k: s for k, s in self.sessions.items() if not s.expired(now)}
        sid = secrets.token_urlsafe(32)
        session = Session(role, secrets.token_urlsafe(32), now, now)
        self.sessions[sid] = session
        return sid, session

    def session_of(self, request: web.Request) -> Session | None:
        sid = request.cookies.get(self.cookie)
        session = self.sessions.get(sid) if sid else None
        now = time.monotonic()
        if session is None or session.expired(now):
            if sid:
                self.sessions.pop(sid, None)
            return None
        session.seen = now
        return session

    def holds(self, sid: str, now: float) -> bool:
        """Whether `sid` names a live session (without counting as activity in it)."""
        session = self.sessions.get(sid)
        return session is not None and not session.expired(now)


def cookie_name(node_id: str) -> str:
    """The session cookie of `node_id`'s console. Browsers share cookies between all ports of a host
    (RFC 6265 §8.5), so one name for every console would let a login at one console log out the
    others on the same host; the node id tells them apart."""
    return f"{COOKIE}_{re.sub(r'[^A-Za-z0-9]', '-', node_id)}"


CONSOLE = web.AppKey("somex_console", Console)
SESSION = web.RequestKey("somex_console_session", Session)
MULTIPART = web.RequestKey("somex_console_multipart", object)
LOGIN_FORM = web.RequestKey("somex_console_login_form", tuple)


def mount(app: web.Application, console: Console) -> None:
    """Add the console's login, logout, static files and CSRF guard to `app` (call before routes)."""
    app[CONSOLE] = console
    app[SESSION_COOKIE] = console.cookie
    app.middlewares.append(_csrf_guard)
    add_credential_check(app, _console_credential)
    amend(app, _guard_responses)
    r = app.router
    r.add_get(PREFIX, to_home)
    r.add_get(PREFIX + "/login", login_form)
    r.add_post(PREFIX + "/login", login)
    r.add_post(PREFIX + "/logout", logout)
    r.add_get(PREFIX + "/static/{name}", static_file)
    r.add_get(PREFIX + "/language", choose_language)
    html = {"200": {"description": "an HTML page", "content": {"text/html": {}}}}
    document(app, {
        PREFIX: {"get": {"summary": "Redirect to the console's home page", "tags": ["console"],
                         "responses": {"303": {"description": "to the home page"}}}},
        PREFIX + "/login": {
            "get": {"summary": "The console's login page", "tags": ["console"], "responses": html},
            "post": {"summary": "Log in with a role token; sets the session cookie", "tags": ["console"],
                     "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                         "schema": {"type": "object", "required": ["token"],
                                    "properties": {"token": {"type": "string"}, "next": {"type": "string"}}}}}},
                     "responses": {"303": {"description": "logged in: to the requested page"},
                                   "401": {"description": "unknown token", "content": {"text/html": {}}},
                                   "403": {"description": "a role this console does not serve",
                                           "content": {"text/html": {}}}}}},
        PREFIX + "/logout": {"post": {"summary": "End the session", "tags": ["console"],
                                      "security": [{"session": []}],
                                      "responses": {"303": {"description": "to the login page"}}}},
        PREFIX + "/language": {"get": {
            "summary": "Choose the console's language (a cookie); back to the page it was chosen on",
            "tags": ["console"],
            "parameters": [{"name": "lang", "in": "query", "required": True,
                            "schema": {"type": "string", "enum": list(i18n.LANGUAGES)}},
                           {"name": "back", "in": "query", "schema": {"type": "string"}}],
            "responses": {"303": {"description": "to `back` (a page of this console) or the home page"},
                          "400": {"description": "not one of the six languages", "content": {"text/html": {}}}}}},
        PREFIX + "/static/{name}": {"get": {
            "summary": "The console's stylesheet and scripts", "tags": ["console"],
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}}}},
    })


def _guard_responses(path: str, method: str, operation: dict[str, Any]) -> None:
    """Document what `view` and the CSRF guard answer for every console page behind a session."""
    if not path.startswith(PREFIX) or {"session": []} not in operation.get("security", []):
        return
    html = {"text/html": {}}
    responses = operation.setdefault("responses", {})
    if method == "get":
        responses.setdefault("303", {"description": "not logged in: to the login page"})
        responses.setdefault("401", {"description": "not logged in (an event stream)", "content": html})
        responses.setdefault("403", {"description": "a role this console does not serve", "content": html})
    else:
        responses.setdefault("401", {"description": "not logged in", "content": html})
        responses.setdefault("403", {"description": "no valid CSRF token, a foreign Origin, or a role this "
                                                    "console does not serve", "content": html})


def view(*roles: str) -> Callable[[Handler], Handler]:
    """A console page for a logged-in session of one of `roles`: others go to the login page
    (GET) or get 401/403 (anything else)."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = request.app[CONSOLE].session_of(request)
            if session is None:
                if request.method == "GET" and "text/event-stream" not in request.headers.get("Accept", ""):
                    return _redirect(f"{PREFIX}/login?next={quote(request.path_qs, safe='')}")
                return error_page(request, 401, "Not logged in", "Log in again: the session is missing or expired.")
            if session.role not in roles:
                return error_page(request, 403, "Not allowed",
                                  i18n.words("The %(role)s role cannot open this page.", role=session.role))
            request[SESSION] = session
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    console = request.app[CONSOLE]
    session: Session | None = request.get(SESSION)
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("Accept-Language"))
    html = console.env_for(lang).get_template(template).render(
        title=console.title, nav=console.nav, path=request.path, role=session.role if session else None,
        csrf=session.csrf if session else "", here=request.path_qs, **context)
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Cookie, Accept-Language"
    response.headers["Content-Security-Policy"] = CSP
    # Not the API's `no-referrer`: under it a browser sends `Origin: null` with the page's own
    # forms, which the CSRF guard must refuse. `same-origin` still sends nothing to other sites.
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return response


def error_page(request: web.Request, status: int, heading: str | i18n.Words, detail: str | i18n.Words) -> web.Response:
    """An error page: a catalogued heading and detail (a literal, or i18n.words(...) with the values
    known only now), said in the reader's language."""
    return render(request, "console/error.html", status=status, heading=heading, detail=detail, refused=None)


def refusal_page(request: web.Request, status: int, heading: str | i18n.Words, refused: str) -> web.Response:
    """An error page for a refusal handed over as `code: English detail` (the API's words): the
    code's label in the reader's language, then the code and the detail as they came."""
    return render(request, "console/error.html", status=status, heading=heading, detail="", refused=refused)


async def event_stream(request: web.Request, events: AsyncIterator[dict[str, Any]] | None = None) -> web.StreamResponse:
    """Serve `events` as server-sent events (`data: <json>`), with a comment every 15 s so
    proxies keep the stream open; ends when the client goes away."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b": connected\n\n")
    iterator = events.__aiter__() if events is not None else None
    pending: asyncio.Task | None = None
    try:
        while True:
            if iterator is None:
                await asyncio.sleep(HEARTBEAT)
                await response.write(b": heartbeat\n\n")
                continue
            pending = pending or asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT)
            if not done:
                await response.write(b": heartbeat\n\n")
                continue
            event, pending = pending.result(), None
            await response.write(f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode())
    except (ConnectionResetError, StopAsyncIteration, asyncio.CancelledError):
        pass
    finally:
        if pending is not None:
            pending.cancel()
    return response


# -- routes -------------------------------------------------------------------------------------


async def to_home(request: web.Request) -> web.Response:
    return _redirect(request.app[CONSOLE].home)


async def login_form(request: web.Request) -> web.Response:
    return render(request, "console/login.html", next=_safe_next(request.query.get("next")), failure=None,
                  roles=request.app[CONSOLE].roles, node_id=request.app[CONSOLE].node_id)


async def login(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    token, target = await _login_form(request)
    target = _safe_next(target)
    role = role_for(token, request.app[ROLE]) if token else None
    if role is None:
        return render(request, "console/login.html", status=401, next=target, failure="unknown_token",
                      roles=console.roles, node_id=console.node_id, presented=None)
    if role not in console.roles:
        return render(request, "console/login.html", status=403, next=target, failure="wrong_role",
                      roles=console.roles, node_id=console.node_id, presented=role)
    sid, _ = console.open_session(role)
    response = _redirect(target or console.home)
    response.set_cookie(console.cookie, sid, path=PREFIX, httponly=True, samesite="Strict", secure=request.secure,
                        max_age=LIFETIME)
    return response


async def choose_language(request: web.Request) -> web.Response:
    """Remember the chosen language for a year (a preference, not a secret: readable by the page,
    but SameSite=Lax like any preference), then back to the page it was chosen on."""
    lang = request.query.get("lang")
    if lang not in i18n.LANGUAGES:
        return error_page(request, 400, "Unknown language",
                          i18n.words("Choose one of %(languages)s.", languages=", ".join(i18n.LANGUAGES)))
    response = _redirect(_page_to_return_to(request.query.get("back")) or request.app[CONSOLE].home)
    response.set_cookie(i18n.COOKIE, lang, path=PREFIX, samesite="Lax", secure=request.secure,
                        max_age=365 * 24 * 3600)
    return response


def _page_to_return_to(back: object) -> str | None:
    """Where the language selector returns to: a page `_safe_next` accepts, or the login page with
    such a page as its own `next` (a language is often chosen before logging in)."""
    if isinstance(back, str) and (back == PREFIX + "/login" or back.startswith(PREFIX + "/login?")):
        inner = _safe_next(parse_qs(urlsplit(back).query).get("next", [None])[0])
        return PREFIX + "/login" + (f"?next={quote(inner, safe='')}" if inner else "")
    return _safe_next(back)


async def _login_form(request: web.Request) -> tuple[str | None, object]:
    """The login form's token (None if missing or empty) and `next`, read once per request (the rate
    limit reads them first); a body no browser sends has neither."""
    if LOGIN_FORM not in request:
        try:
            form = await request.post()
        except (ValueError, AssertionError, HttpProcessingError):
            request[LOGIN_FORM] = (None, None)
        else:
            token = form.get("token")
            request[LOGIN_FORM] = (token if isinstance(token, str) and token else None, form.get("next"))
    return request[LOGIN_FORM]


async def _console_credential(request: web.Request) -> Credential | None:
    """For the rate limit: a live session is its own caller; a login is its token's caller if the
    token is right and a failure otherwise (so failed logins never throttle right ones)."""
    if not request.path.startswith(PREFIX + "/"):
        return None
    sid = request.cookies.get(request.app[CONSOLE].cookie)
    if sid and request.app[CONSOLE].holds(sid, time.monotonic()):
        return Credential(f"session:{token_digest(sid)}")
    if request.method != "POST" or request.path != PREFIX + "/login":
        return None
    token, _ = await _login_form(request)
    known = token is not None and role_for(token, request.app[ROLE]) is not None
    return Credential(f"token:{token_digest(token)}" if known else None)


async def logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    sid = request.cookies.get(console.cookie)
    if sid:
        console.sessions.pop(sid, None)
    response = _redirect(PREFIX + "/login")
    response.del_cookie(console.cookie, path=PREFIX)
    return response


_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    for folder in (request.app[CONSOLE].templates.parent / "static", _HERE / "static"):
        path = folder / name
        if "/" not in name and path.suffix in _STATIC_TYPES and path.is_file():
            response = web.Response(body=path.read_bytes(), content_type=_STATIC_TYPES[path.suffix])
            response.headers["Cache-Control"] = "no-cache"
            return response
    raise web.HTTPNotFound(text="no such file")


async def multipart(request: web.Request) -> Any:
    """The request's multipart reader, past the `csrf_token` part the CSRF guard already read."""
    return request.get(MULTIPART) or await request.multipart()


# -- CSRF ---------------------------------------------------------------------------------------


@web.middleware
async def _csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.path.startswith(PREFIX + "/"):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request.host):
        return error_page(request, 403, "Refused", "The request came from another site (Origin header).")
    if request.path == PREFIX + "/login":
        return await handler(request)
    session = request.app[CONSOLE].session_of(request)
    presented = request.headers.get("X-CSRF-Token")
    if presented is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            presented = await _form_token(request)
        except (ValueError, AssertionError, HttpProcessingError):  # a body no browser sends: no token in it
            presented = None
    if session is None or not presented or not hmac.compare_digest(presented, session.csrf):
        return error_page(request, 403, "Refused",
                          "The form's security token is missing or stale. Reload the page and try again.")
    return await handler(request)


def _same_origin(origin: str, host: str) -> bool:
    """Whether an `Origin` header names this server. `null` (a sandboxed frame, a data: URL, a
    cross-origin redirect) names no site at all and is foreign like any other."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host


async def _form_token(request: web.Request) -> str | None:
    if request.content_type == "application/x-www-form-urlencoded":
        value = (await request.post()).get("csrf_token")
        return value if isinstance(value, str) else None
    # Multipart (file uploads): the token must be the first part, so the upload is not read twice.
    reader = await request.multipart()
    part = await reader.next()
    if part is None or getattr(part, "name", None) != "csrf_token":
        return None
    value = (await part.read(decode=True)).decode("utf-8", "replace")
    request[MULTIPART] = reader  # the handler continues with the remaining parts
    return value


# What a place to go after login may hold: a path and query of RFC 3986 characters (no fragment,
# no backslash, no space or control character, nothing outside ASCII).
_NEXT = re.compile(r"/console/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, DEL, C1, line and paragraph separators


def _safe_next(target: object) -> str | None:
    """Only a path of this console is a valid place to go after login: no other site (`//evil`,
    `/\\evil`, a URL), no way out by dot segments (also percent-encoded), and no control character,
    not even percent-encoded, so nothing can be smuggled into the Location header. Anything else:
    None (the console's home page)."""
    if not isinstance(target, str) or _NEXT.fullmatch(target) is None or target.startswith(PREFIX + "/login"):
        return None
    decoded = unquote(target)
    path = decoded.split("?", 1)[0]
    if _CONTROL.search(decoded) or "\\" in decoded or any(part in (".", "..") for part in path.split("/")):
        return None
    return target


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
