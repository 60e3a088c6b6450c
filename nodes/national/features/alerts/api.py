"""HTTP routes for document checks (border systems), received hits, and alert feeds."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from nodes.national.features.alerts import feeds
from nodes.national.features.alerts.replica import CheckResult, check_many, hit_report, received_hits, replica_counts
from nodes.plumbing.config import utcnow
from nodes.plumbing.http import json_error, page, read_json, requires
from nodes.plumbing.openapi import INTEGER, STRING, array, document, obj, op, path_param, query
from protocol.alerts import CHECK_KINDS, DOCUMENT_TYPES, MAX_NUMBER_CHARS, normalise_document_number
from protocol.errors import ProtocolError
from protocol.timefmt import format_time

MAX_CHECKS_PER_CALL = 1000
_COUNTRY = re.compile(r"[A-Z]{3}")


NODE = web.AppKey("somex_alerts_node", Any)


def add_routes(app: web.Application, ctx: Any) -> None:
    """Register the routes on a node's app (`node`: the FeatureContext serving it)."""
    app[NODE] = ctx
    app.router.add_get("/api/documents/check", check_one)
    app.router.add_post("/api/documents/check", check_batch)
    app.router.add_get("/api/documents/hits", list_hits)
    app.router.add_get("/api/documents/replica", replica_summary)
    app.router.add_post("/api/feeds", push_feed)
    app.router.add_get("/api/feeds", list_feeds)
    app.router.add_get("/api/feeds/{id}", get_feed)
    document(app, _PATHS)


_DOCUMENT = obj(("country", "type", "number"), country={"type": "string", "pattern": "^[A-Z]{3}$"},
                type={"enum": list(DOCUMENT_TYPES)}, number={"type": "string", "maxLength": MAX_NUMBER_CHARS})
_HOW = {"check": {"enum": list(CHECK_KINDS)}, "point": {"type": "string", "maxLength": 120}}
_PAGE = [query("limit", INTEGER), query("offset", INTEGER)]
_FEED = {"application/x-ndjson": {"schema": STRING}, "text/csv": {"schema": STRING}}
_PATHS = {
    "/api/documents/check": {
        "get": op("Check one document against the alert replica (a hit is reported to its issuer)", roles=("focal",),
                  tag="documents", params=[query("country", required=True), query("type", required=True),
                                           query("number", required=True), query("check"), query("point")],
                  ok=(200, obj(("country", "type", "number"), country=STRING, type=STRING, number=STRING,
                               alert={}, hit_report={}))),
        "post": op(f"Check up to {MAX_CHECKS_PER_CALL} documents at once", roles=("focal",), tag="documents",
                   body=obj(("documents",), documents=array(_DOCUMENT), **_HOW), errors=(415,),
                   ok=(200, obj(("results", "hits"), results=array(obj()), hits=INTEGER)))},
    "/api/documents/hits": {"get": op("Hits other countries reported on this country's alerts",
                                      roles=("focal", "auditor"), tag="documents", params=_PAGE,
                                      ok=(200, obj(("hits",), hits=array(obj()))))},
    "/api/documents/replica": {"get": op("Active alerts in the replica, by issuing country",
                                         roles=("focal", "auditor"), tag="documents",
                                         ok=(200, obj(("active_alerts", "total"), active_alerts={"type": "object"},
                                                      total=INTEGER)))},
    "/api/feeds": {
        "post": op("Push an alert feed (NDJSON or CSV, streamed); the answer is the job's report",
                   roles=("feed", "focal"), tag="feeds", body_content=_FEED, errors=(415,), ok=(200, obj())),
        "get": op("Recent feed jobs", roles=("feed", "focal"), tag="feeds", ok=(200, obj(("jobs",), jobs=array(obj()))))},
    "/api/feeds/{id}": {"get": op("One feed job's report and its rejected lines", roles=("feed", "focal"), tag="feeds",
                                  params=[path_param("id"), query("error_limit", INTEGER),
                                          query("error_offset", INTEGER)], errors=(404,), ok=(200, obj()))},
}


def _node(request: web.Request) -> Any:
    return request.app[NODE]


def _today() -> str:
    return utcnow().date().isoformat()


class BadCheck(Exception):
    """A check's input is wrong; `detail` names the field and what it must be."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _document(country: Any, type: Any, number: Any) -> tuple[str, str, str]:
    if not isinstance(country, str) or _COUNTRY.fullmatch(country) is None:
        raise BadCheck("country: the issuing country, ISO 3166-1 alpha-3 upper case")
    if type not in DOCUMENT_TYPES:
        raise BadCheck(f"type: one of {', '.join(DOCUMENT_TYPES)}")
    if not isinstance(number, str) or not 1 <= len(number) <= MAX_NUMBER_CHARS or not normalise_document_number(number):
        raise BadCheck(f"number: the document number, 1..{MAX_NUMBER_CHARS} characters")
    return country, type, number


def _how(check: Any, point: Any) -> tuple[str, str]:
    if check not in CHECK_KINDS:
        raise BadCheck(f"check: one of {', '.join(CHECK_KINDS)}")
    if not isinstance(point, str) or len(point) > 120:
        raise BadCheck("point: where the check happened, at most 120 characters")
    return check, point


async def _report_hits(ctx: Any, results: list[CheckResult], check: str, point: str) -> dict[str, str]:
    """Queue one `alert.hit` per flagged document to its issuing country; message ids by document
    (none for a hit that cannot be reported, e.g. on a document of a country no longer a member)."""
    flagged = [r for r in results if r.alert is not None]
    if not flagged:
        return {}
    at = format_time(utcnow())
    reports: dict[str, Any] = {}
    for r in flagged:
        try:
            reports[f"{r.country}/{r.type}/{r.number}"] = ctx.build(
                "alert.hit", [r.country], body=hit_report(r, checked_at=at, check=check, point=point))
        except ProtocolError as exc:  # e.g. the issuer left the federation: the hit still stands
            ctx.log.warning("hit not reportable", issuing_country=r.country, reason=exc.reason, detail=exc.detail)
    if reports:
        await ctx.submit(list(reports.values()))
    for env in reports.values():
        ctx.log.info("document check hit; reported to the issuing country", message_id=env.id,
                      issuing_country=env.recipients[0], check=check)
    return {document: env.id for document, env in reports.items()}


async def check_document(ctx: Any, country: Any, type: Any, number: Any, check: Any = "border",
                         point: Any = "") -> dict[str, Any]:
    """One document checked against the local replica; a hit is reported to its issuing country
    (the answer carries the `alert.hit` message id). Raises BadCheck on wrong input. The API's
    single check and the console's check form both go through here."""
    document = _document(country, type, number)
    check, point = _how(check, point)
    if ctx.db.dialect.name == "sqlite":  # a local primary-key probe: cheaper than a thread hop
        result = ctx.service.reader.check(*document, _today())
    else:  # a round trip to the database server: never on the event loop
        [result] = await asyncio.to_thread(check_many, ctx.db, [document], _today())
    answer = result.as_json()
    if result.alert is not None:
        answer["hit_report"] = next(iter((await _report_hits(ctx, [result], check, point)).values()), None)
    return answer


@requires("focal")
async def check_one(request: web.Request) -> web.Response:
    """GET ?country=&type=&number=[&check=border&point=...]: answered from the local replica."""
    q = request.query
    try:
        answer = await check_document(_node(request), q.get("country"), q.get("type"), q.get("number"),
                                      q.get("check", "border"), q.get("point", ""))
    except BadCheck as bad:
        return json_error(400, "bad_request", bad.detail)
    return web.json_response(answer)


@requires("focal")
async def check_batch(request: web.Request) -> web.Response:
    """POST {"documents": [{"country","type","number"}, ...], "check", "point"}: up to 1,000 at once."""
    data = await read_json(request)
    documents = data.get("documents")
    if not isinstance(documents, list) or not 1 <= len(documents) <= MAX_CHECKS_PER_CALL:
        return json_error(400, "bad_request", f"documents: a list of 1..{MAX_CHECKS_PER_CALL} documents")
    unknown = data.keys() - {"documents", "check", "point"}
    if unknown:
        return json_error(400, "unknown_field", f"unknown field(s): {sorted(unknown)}")
    try:
        wanted = []
        for i, d in enumerate(documents):
            if not isinstance(d, dict) or d.keys() != {"country", "type", "number"}:
                raise BadCheck(f"documents[{i}]: an object with country, type and number")
            try:
                wanted.append(_document(d["country"], d["type"], d["number"]))
            except BadCheck as bad:
                raise BadCheck(f"documents[{i}].{bad.detail}") from None
        check, point = _how(data.get("check", "border"), data.get("point", ""))
    except BadCheck as bad:
        return json_error(400, "bad_request", bad.detail)
    ctx = _node(request)
    results = await asyncio.to_thread(check_many, ctx.db, wanted, _today())
    reported = await _report_hits(ctx, results, check, point)
    answers = []
    for r in results:
        answer = r.as_json()
        if r.alert is not None:
            answer["hit_report"] = reported.get(f"{r.country}/{r.type}/{r.number}")
        answers.append(answer)
    return web.json_response({"results": answers, "hits": sum(1 for r in results if r.alert is not None)})


@requires("focal", "auditor")
async def list_hits(request: web.Request) -> web.Response:
    """Hits other countries reported on this country's alerts, newest first."""
    limit, offset = page(request)
    rows = await asyncio.to_thread(received_hits, _node(request).db, limit, offset)
    return web.json_response({"hits": rows})


@requires("focal", "auditor")
async def replica_summary(request: web.Request) -> web.Response:
    counts = await asyncio.to_thread(replica_counts, _node(request).db, _today())
    return web.json_response({"active_alerts": counts, "total": sum(counts.values())})


@requires("feed", "focal")
async def push_feed(request: web.Request) -> web.Response:
    """Stream NDJSON or CSV alerts; the answer is the job's report (also at GET /api/feeds/{id})."""
    fmt = feeds.FORMATS.get(request.content_type)
    if fmt is None:
        return json_error(415, "bad_feed_format",
                          f"send {' or '.join(sorted(feeds.FORMATS))} (one alert per line; CSV with a header)")
    ctx = _node(request)
    intake = await asyncio.to_thread(feeds.FeedIntake, ctx, fmt)
    try:
        await feeds.read_into(intake, request.content.iter_chunked(256 * 1024))
    except feeds.FeedRefused as refused:
        return json_error(400, refused.reason, refused.detail)
    except ProtocolError as exc:  # a batch the node itself refuses to sign: a bug, reported as such
        return json_error(500, exc.reason, exc.detail)
    report = await asyncio.to_thread(feeds.job, ctx.db, intake.job_id)
    ctx.log.info("feed read", job=intake.job_id, **{k: report[k] for k in ("lines", "accepted", "duplicates",
                                                                          "rejected", "batches")})
    return web.json_response(report)


@requires("feed", "focal")
async def get_feed(request: web.Request) -> web.Response:
    limit, offset = page(request, default=1000, maximum=10_000, prefix="error_")
    found = await asyncio.to_thread(feeds.job, _node(request).db, request.match_info["id"],
                                    error_limit=limit, error_offset=offset)
    if found is None:
        return json_error(404, "not_found", "no such feed job")
    return web.json_response(found)


@requires("feed", "focal")
async def list_feeds(request: web.Request) -> web.Response:
    return web.json_response({"jobs": await asyncio.to_thread(feeds.recent_jobs, _node(request).db)})


__all__ = ["BadCheck", "add_routes", "check_document"]
