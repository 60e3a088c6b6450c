"""The focal point's case pages: what the node holds, one case under its handling-code banner with
its actions (share, grant onward transfer, add information, withdraw) and sharing history, joint
investigation threads (live), and the person/vessel search.

Every action calls the same function of nodes/national/cases.py as the JSON API
(nodes/national/cases_api.py). Reading a case or a search hit goes through cases.read_case or
cases.search_*, so the access log records `console:focal`; the history, the JIT pages and the
case list hold no personal data and are not logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from crypto.errors import CryptoError
from nodes.national.features.cases import store as store
from nodes.national.feature import FeatureContext
from nodes.national.reads import CONSOLE_READER
from nodes.plumbing import console
from nodes.plumbing.i18n import words
from nodes.plumbing.http import MAX_SQL_INTEGER
from nodes.plumbing.openapi import document
from protocol import cases as rules
from protocol.errors import ProtocolError

NODE = web.AppKey("somex_console_cases_node", FeatureContext)
WHO = CONSOLE_READER
RETENTION_DAYS = 90  # the share form's default
SEARCH_FIELDS = ("name", "dob", "document", "vessel", "imo")

_HTML = {"200": {"description": "an HTML page (with ?partial=1 only its live part)", "content": {"text/html": {}}}}
_SESSION = [{"session": []}]
_CASE_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_THREAD = [{"name": "thread", "in": "path", "required": True, "schema": {"type": "string"}}]
_PARTIAL = [{"name": "partial", "in": "query", "schema": {"type": "string", "enum": ["1"]}}]
_FORM = {"required": True, "content": {"application/x-www-form-urlencoded": {}}}
_NOT_FOUND = {"404": {"description": "no such case or thread", "content": {"text/html": {}}}}


def _post(summary: str, params: list, refused: str) -> dict[str, Any]:
    return {"post": {"summary": summary, "tags": ["console"], "security": _SESSION, "parameters": params,
                     "requestBody": _FORM,
                     "responses": {"303": {"description": "done: back to the page, with ?ok="},
                                   "400": {"description": refused, "content": {"text/html": {}}},
                                   "403": {"description": "forbidden by the handling code (explained), or no "
                                                          "CSRF token", "content": {"text/html": {}}},
                                   "409": {"description": refused, "content": {"text/html": {}}}, **_NOT_FOUND}}}


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[NODE] = ctx
    r = app.router
    r.add_get("/console/cases", case_list)
    r.add_get("/console/cases/search", search)
    r.add_get("/console/cases/new", new_case_form)
    r.add_post("/console/cases/new", new_case)
    r.add_get("/console/cases/{id:\\d+}", case_page)
    r.add_post("/console/cases/{id:\\d+}/share", share)
    r.add_post("/console/cases/{id:\\d+}/permission", grant_permission)
    r.add_post("/console/cases/{id:\\d+}/information", add_information)
    r.add_get("/console/cases/{id:\\d+}/withdraw", withdraw_form)
    r.add_post("/console/cases/{id:\\d+}/withdraw", withdraw)
    r.add_get("/console/cases/jits", jit_list)
    r.add_post("/console/cases/jits", open_jit)
    r.add_get("/console/cases/jits/{thread}", jit_page)
    r.add_post("/console/cases/jits/{thread}/messages", jit_message)
    get = {"tags": ["console"], "security": _SESSION}
    refused = "refused: the page again with the reason explained"
    document(app, {
        "/console/cases": {
            "get": {**get, "summary": "Cases the node holds, with their handling codes (no personal data; live)",
                    "parameters": _PARTIAL, "responses": _HTML}},
        "/console/cases/search": {"get": {
            **get, "summary": "Search persons (name, dob, document) or vessels (vessel, imo); every hit is logged",
            "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in SEARCH_FIELDS],
            "responses": _HTML}},
        "/console/cases/new": {
            "get": {**get, "summary": "Record a case (its persons, events and more are added afterwards)",
                    "responses": _HTML},
            **_post("Record a case (reference, title, summary, offence, source, information)", [], refused)},
        "/console/cases/{id}": {"get": {
            **get, "summary": "One case under its handling-code banner, its actions and sharing history; the "
                              "reading is in the access log (?partial=1: the history only, not logged)",
            "parameters": _CASE_ID + _PARTIAL, "responses": {**_HTML, **_NOT_FOUND}}},
        "/console/cases/{id}/share": _post("Share a case with countries or a joint investigation (to, jit, code, "
                                           "retention_days, condition; condition_confirmed for an H3 onward "
                                           "share)", _CASE_ID, refused),
        "/console/cases/{id}/permission": _post("Let a recipient pass our case on (recipient, to, condition)",
                                                _CASE_ID, refused),
        "/console/cases/{id}/information": _post("Add information to our case (summary, modus operandi, a "
                                                 "person)", _CASE_ID, refused),
        "/console/cases/{id}/withdraw": {
            "get": {**get, "summary": "Confirm withdrawing a case from every country it was given to",
                    "parameters": _CASE_ID, "responses": {**_HTML, **_NOT_FOUND}},
            **_post("Withdraw a case (reason)", _CASE_ID, refused)},
        "/console/cases/jits": {
            "get": {**get, "summary": "Joint investigations this node is a member of, and opening one (live)",
                    "parameters": _PARTIAL, "responses": _HTML},
            **_post("Open a joint investigation (members, title, reference)", [], refused)},
        "/console/cases/jits/{thread}": {"get": {
            **get, "summary": "A joint investigation as a conversation, with the cases shared in it (live)",
            "parameters": _THREAD + _PARTIAL, "responses": {**_HTML, **_NOT_FOUND}}},
        "/console/cases/jits/{thread}/messages": {"post": {
            "summary": "Write to a joint investigation (text)", "tags": ["console"], "security": _SESSION,
            "parameters": _THREAD, "requestBody": _FORM,
            "responses": {"303": {"description": "back to the thread, with ?ok= or ?error= (the refusal explained)"},
                          "403": {"description": "no CSRF token", "content": {"text/html": {}}}, **_NOT_FOUND}}},
    })


# -- pure decisions (unit tested) ------------------------------------------------------------------

class FormError(ProtocolError):
    """A form the console refuses before calling the node, with a reason code like the API's."""


@dataclass(frozen=True)
class Share:
    to: list[str] | None
    handling: dict[str, Any] | None
    jit: str | None


def share_arguments(held: Mapping[str, Any], to: Sequence[str], jit: str, code: str, retention: str,
                    condition: str, confirmed: bool) -> Share:
    """The arguments of cases.share_case from the share form. Our own case takes the handling the
    focal point chooses; a received case keeps the provider's, and an H3 one is passed on only once
    the focal point confirms the provider's condition allows it (the node cannot judge its meaning)."""
    to, jit = [c for c in to if c], jit.strip()
    if not to and not jit:
        raise FormError("no_recipients", "choose the countries or a joint investigation")
    if to and jit:
        raise FormError("bad_request", "share with countries or with a joint investigation, not both")
    received = held.get("handling")
    if received is not None:
        if received["code"] == "H3" and not confirmed:
            raise FormError("condition_not_confirmed",
                            f"H3: confirm that the provider's condition allows it: {received.get('condition')}")
        return Share(to or None, None, jit or None)
    if code not in rules.HANDLING_CODES:
        raise FormError("bad_handling", f"the handling code is one of {', '.join(rules.HANDLING_CODES)}")
    try:
        days = int(retention)
    except ValueError:
        raise FormError("retention_required", "the retention is a number of days") from None
    if not 1 <= days <= 36500:
        raise FormError("retention_required", "the retention is 1 to 36500 days")
    handling: dict[str, Any] = {"code": code, "retention_days": days}
    if condition.strip():
        handling["condition"] = condition.strip()
    return Share(to or None, handling, jit or None)


def case_from_form(values: Mapping[str, Any]) -> dict[str, Any]:
    """The case of cases.create_case from the new-case form (offences: a list of articles)."""
    information = values.get("information", "")
    case: dict[str, Any] = {
        "reference": values.get("reference", "").strip(),
        "offences": [{"article": a} for a in values.get("offence", [])],
        "evaluation": {"source": values.get("source", ""),
                       "information": int(information) if information in ("1", "2", "3", "4") else information}}
    for name in ("title", "summary"):
        if values.get(name, "").strip():
            case[name] = values[name].strip()
    return case


def addition_from_form(values: Mapping[str, str]) -> dict[str, Any]:
    """The `addition` of cases.add_information from the form: empty fields left out; one person."""
    addition: dict[str, Any] = {}
    if values.get("summary", "").strip():
        addition["summary"] = values["summary"].strip()
    if values.get("modus_operandi", "").strip():
        addition["modus_operandi"] = [values["modus_operandi"].strip()]
    name = values.get("person_name", "").strip()
    if name:
        person: dict[str, Any] = {"name": name, "role": values.get("person_role", ""),
                                  "legal_basis": values.get("person_legal_basis", "").strip()}
        if values.get("person_dob", "").strip():
            person["date_of_birth"] = values["person_dob"].strip()
        nationalities = [n.strip().upper() for n in values.get("person_nationalities", "").split(",") if n.strip()]
        if nationalities:
            person["nationalities"] = nationalities
        if values.get("person_smuggled_migrant"):
            person["smuggled_migrant"] = True
        addition["persons"] = [person]
    if not addition:
        raise FormError("nothing_to_add", "fill in a summary, a modus operandi or a person")
    return addition


def refusal(reason: str, detail: str) -> str:
    """A refusal as the page gets it: `code: English detail`; the page says the code's label and
    what it means for the focal point in the reader's language (node/case_flash.html)."""
    return f"{reason}: {detail}"


# -- pages ----------------------------------------------------------------------------------------

def _node(request: web.Request) -> FeatureContext:
    return request.app[NODE]


def _others(ctx: FeatureContext) -> list[str]:
    return [c for c in ctx.federation.directory.node_ids() if c != ctx.country]


# What a done action says, by the code of its `?ok=` (the values ride along in the query): the page
# words it in the reader's language (node/case_flash.html).
Done = tuple[str, dict[str, str]]


def _back(location: str, done: Done) -> web.Response:
    ok, params = done
    return web.Response(status=303, headers={"Location": f"{location}?{urlencode({'ok': ok, **params})}"})


def _jit_path(thread: str) -> str:
    return f"/console/cases/jits/{quote(thread, safe=':')}"


async def _run(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


CaseHandler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


def _case_route(handler: CaseHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page of one case, given its number; past what a database holds it is no case (404)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        case_id = int(request.match_info["id"])
        if case_id > MAX_SQL_INTEGER:
            return console.refusal_page(request, 404, "The case cannot be shown", f"not_found: no case {case_id}")
        return await handler(request, case_id)

    wrapped.__name__ = handler.__name__
    return wrapped


@console.view("focal")
async def case_list(request: web.Request) -> web.Response:
    rows = await _run(store.list_cases, _node(request))
    template = "node/cases_rows.html" if request.query.get("partial") == "1" else "node/cases.html"
    return console.render(request, template, heading="Cases", cases=rows)


def _new_case_page(request: web.Request, values: Mapping[str, Any], status: int = 200,
                   error: str | None = None) -> web.Response:
    return console.render(request, "node/case_new.html", status=status, heading="New case", values=values,
                          offences=rules.OFFENCES, sources=rules.SOURCE_RELIABILITY, error=error)


@console.view("focal")
async def new_case_form(request: web.Request) -> web.Response:
    return _new_case_page(request, {})


@console.view("focal")
async def new_case(request: web.Request) -> web.Response:
    data = await request.post()
    values = {k: _text(data, k) for k in ("reference", "title", "summary", "source", "information")}
    values["offence"] = _texts(data, "offence")
    try:
        case_id = await _run(store.create_case, _node(request), case_from_form(values))
    except store.CaseError as exc:
        return _new_case_page(request, values, exc.status, refusal(exc.reason, exc.detail))
    except ProtocolError as exc:
        return _new_case_page(request, values, 400, refusal(exc.reason, exc.detail))
    return _back(f"/console/cases/{case_id}", ("case_recorded", {}))


async def _case_view(request: web.Request, case_id: int, status: int = 200, error: str | None = None,
                     form: str | None = None, values: Mapping[str, Any] | None = None) -> web.Response:
    ctx = _node(request)
    try:
        case = await _run(store.read_case, ctx, case_id, WHO)
        history = await _run(store.case_history, ctx, case_id)
        permitted = await _run(store.permitted_targets, ctx, case_id)
    except store.CaseError as exc:
        return console.refusal_page(request, exc.status, "The case cannot be shown", refusal(exc.reason, exc.detail))
    jits = await _run(store.list_jits, ctx)
    return console.render(request, "node/case.html", status=status,
                          heading=words("Case %(reference)s", reference=case["reference"]),
                          case=case, history=history, permitted=permitted, countries=_others(ctx), jits=jits,
                          roles=rules.ROLES, retention=RETENTION_DAYS,
                          ok=request.query.get("ok"), done=request.query, error=error, form=form, values=values or {})


@console.view("focal")
@_case_route
async def case_page(request: web.Request, case_id: int) -> web.Response:
    if request.query.get("partial") == "1":  # the live history: envelope facts only, not a reading
        try:
            history = await _run(store.case_history, _node(request), case_id)
        except store.CaseError as exc:
            return console.refusal_page(request, exc.status, "The case cannot be shown", refusal(exc.reason, exc.detail))
        return console.render(request, "node/case_history.html", history=history)
    return await _case_view(request, case_id)


async def _act(request: web.Request, case_id: int, form: str, action: Callable[[Any], Done]) -> web.Response:
    """Run a case action from a form: 303 back to the case with ?ok=, or the case page again with
    the refusal explained, the status the API would answer and the form's values kept."""
    data = await request.post()
    values = {k: data.getall(k) if k == "to" else data.get(k) for k in data if k != "csrf_token"}
    try:
        ok = await _run(action, data)
    except store.CaseError as exc:
        if exc.status == 404:
            return console.refusal_page(request, 404, "The case cannot be shown", refusal(exc.reason, exc.detail))
        return await _case_view(request, case_id, exc.status, refusal(exc.reason, exc.detail), form, values)
    except (ProtocolError, CryptoError) as exc:
        return await _case_view(request, case_id, 400, refusal(exc.reason, exc.detail), form, values)
    return _back(f"/console/cases/{case_id}", ok)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


def _texts(data: Any, name: str) -> list[str]:
    return [v for v in data.getall(name, []) if isinstance(v, str)]


@console.view("focal")
@_case_route
async def share(request: web.Request, case_id: int) -> web.Response:
    ctx = _node(request)

    def do(data: Any) -> Done:
        args = share_arguments(store.case_summary(ctx, case_id), _texts(data, "to"), _text(data, "jit"), _text(data, "code"),
                               _text(data, "retention_days"), _text(data, "condition"),
                               bool(_text(data, "condition_confirmed")))
        env = store.share_case(ctx, case_id, args.to, args.handling, args.jit)
        return "shared", {"to": ", ".join(env.recipients), "code": env.handling["code"]}

    return await _act(request, case_id, "share", do)


@console.view("focal")
@_case_route
async def grant_permission(request: web.Request, case_id: int) -> web.Response:
    ctx = _node(request)

    def do(data: Any) -> Done:
        recipient, to = _text(data, "recipient"), _texts(data, "to")
        if not to:
            raise FormError("no_recipients", "choose the countries the recipient may pass the case to")
        store.grant_permission(ctx, case_id, recipient, to, _text(data, "condition").strip() or None)
        return "permitted", {"recipient": recipient, "to": ", ".join(to)}

    return await _act(request, case_id, "permission", do)


@console.view("focal")
@_case_route
async def add_information(request: web.Request, case_id: int) -> web.Response:
    ctx = _node(request)

    def do(data: Any) -> Done:
        store.add_information(ctx, case_id, addition_from_form({k: _text(data, k) for k in data}))
        return "information_added", {}

    return await _act(request, case_id, "information", do)


@console.view("focal")
@_case_route
async def withdraw_form(request: web.Request, case_id: int) -> web.Response:
    try:
        case = await _run(store.read_case, _node(request), case_id, WHO)
    except store.CaseError as exc:
        return console.refusal_page(request, exc.status, "The case cannot be shown", refusal(exc.reason, exc.detail))
    return console.render(request, "node/case_withdraw.html",
                          heading=words("Withdraw case %(reference)s", reference=case["reference"]),
                          case=case)


@console.view("focal")
@_case_route
async def withdraw(request: web.Request, case_id: int) -> web.Response:
    ctx = _node(request)

    def do(data: Any) -> Done:
        env = store.withdraw_case(ctx, case_id, _text(data, "reason").strip() or None)
        return "withdrawn", {"to": ", ".join(env.recipients)}

    return await _act(request, case_id, "withdraw", do)


# -- joint investigations ---------------------------------------------------------------------------

async def _jit_list_view(request: web.Request, status: int = 200, error: str | None = None,
                         values: Mapping[str, Any] | None = None) -> web.Response:
    ctx = _node(request)
    rows = await _run(store.list_jits, ctx)
    template = "node/jits_rows.html" if request.query.get("partial") == "1" else "node/jits.html"
    prefill = {"reference": request.query.get("reference", "")}
    return console.render(request, template, status=status, heading="Joint investigations", jits=rows,
                          countries=_others(ctx), jit_path=_jit_path, error=error, values=values or prefill)


@console.view("focal")
async def jit_list(request: web.Request) -> web.Response:
    return await _jit_list_view(request)


@console.view("focal")
async def open_jit(request: web.Request) -> web.Response:
    data = await request.post()
    members, title, reference = _texts(data, "members"), _text(data, "title").strip(), _text(data, "reference").strip()
    values = {"members": members, "title": title, "reference": reference}
    try:
        if not members:
            raise FormError("no_recipients", "choose the other members of the joint investigation")
        thread, _ = await _run(store.open_jit, _node(request), members, title or None, reference or None)
    except store.CaseError as exc:
        return await _jit_list_view(request, exc.status, refusal(exc.reason, exc.detail), values)
    except (ProtocolError, CryptoError) as exc:
        return await _jit_list_view(request, 400, refusal(exc.reason, exc.detail), values)
    return _back(_jit_path(thread), ("jit_opened", {}))


@console.view("focal")
async def jit_page(request: web.Request) -> web.Response:
    thread = request.match_info["thread"]
    try:
        view = await _run(store.jit_view, _node(request), thread, WHO)
    except store.CaseError as exc:
        return console.refusal_page(request, exc.status, "No such joint investigation", refusal(exc.reason, exc.detail))
    template = "node/jit_live.html" if request.query.get("partial") == "1" else "node/jit.html"
    return console.render(request, template,
                          heading=words("Joint investigation %(title)s", title=view["title"] or view["thread"]),
                          view=view, me=_node(request).country, path_of=_jit_path(thread),
                          ok=request.query.get("ok"), done=request.query, error=request.query.get("error"))


@console.view("focal")
async def jit_message(request: web.Request) -> web.Response:
    thread = request.match_info["thread"]
    text = _text(await request.post(), "text").strip()
    try:
        if not text:
            raise FormError("bad_request", "write a message first")
        await _run(store.send_jit_message, _node(request), thread, text)
    except store.CaseError as exc:
        if exc.status == 404:
            return console.refusal_page(request, 404, "No such joint investigation", refusal(exc.reason, exc.detail))
        outcome = {"error": refusal(exc.reason, exc.detail)}
    except (ProtocolError, CryptoError) as exc:
        outcome = {"error": refusal(exc.reason, exc.detail)}
    else:
        outcome = {"ok": "jit_sent"}
    return web.Response(status=303, headers={"Location": f"{_jit_path(thread)}?{urlencode(outcome)}"})


# -- search -----------------------------------------------------------------------------------------

@console.view("focal")
async def search(request: web.Request) -> web.Response:
    ctx, q = _node(request), {k: request.query.get(k, "").strip() for k in SEARCH_FIELDS}
    persons: list[dict[str, Any]] | None = None
    vessels: list[dict[str, Any]] | None = None
    if q["vessel"] or q["imo"]:  # as the API: a vessel search when a vessel is asked for
        vessels = await _run(store.search_vessels, ctx, q["vessel"] or None, q["imo"] or None, WHO)
    elif q["name"] or q["dob"] or q["document"]:
        query = store.PersonQuery(q["name"] or None, q["dob"] or None, q["document"] or None)
        persons = await _run(store.search_persons, ctx, query, WHO)
    return console.render(request, "node/cases_search.html", heading="Search cases", q=q, persons=persons,
                          vessels=vessels)
