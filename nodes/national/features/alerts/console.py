"""The focal point's alert pages: check a document, push a feed file and follow it to its error
report, and the hits other countries reported on this country's alerts.

They act through the JSON API's own functions (alerts_api.check_document, feeds.read_into,
feeds.job, alerts.received_hits), so the console and the API cannot disagree. A feed file is
spooled to a temporary file first (so its lines can be counted for the progress bar), then read in
the background while the job page follows it (docs/console.md).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select

from nodes.national.features.alerts import feeds
from nodes.national.features.alerts.replica import received_hits
from nodes.national.features.alerts.api import BadCheck, check_document
from nodes.national.feature import FeatureContext
from nodes.plumbing import console
from nodes.plumbing.i18n import words
from nodes.plumbing.console_format import size
from nodes.plumbing.http import MAX_SQL_INTEGER
from nodes.plumbing.openapi import document
from protocol.alerts import CHECK_KINDS, DOCUMENT_TYPES, MAX_NUMBER_CHARS
from protocol.errors import ProtocolError

NODE = web.AppKey("somex_console_alerts_node", FeatureContext)
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # larger feeds go through `somex feed push` (streamed, no spool)
EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv"}
HITS_PAGE = 100
ERRORS_PAGE = 1000
PROGRESS_EVERY = 0.25  # seconds between progress events while a feed is read
_CHUNK = 256 * 1024

metadata = MetaData()
uploads = Table(  # which feed jobs came from the console, with what the progress bar needs
    "console_feed_uploads", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
)


def add_routes(app: web.Application, ctx: FeatureContext) -> None:
    app[NODE] = ctx
    runner = FeedRunner(ctx)
    app[RUNNER] = runner

    async def stop_feeds(_: web.Application) -> AsyncIterator[None]:
        yield
        await runner.close()

    app.cleanup_ctx.append(stop_feeds)
    r = app.router
    r.add_get("/console/alerts", check_form)
    r.add_post("/console/alerts/check", check)
    r.add_get("/console/alerts/feeds", feed_list)
    r.add_post("/console/alerts/feeds", push)
    r.add_get("/console/alerts/feeds/{id}", feed_page)
    r.add_get("/console/alerts/hits", hit_list)
    session = [{"session": []}]
    html = {"200": {"description": "an HTML page (with ?partial=1 only its live part)", "content": {"text/html": {}}}}
    refused = {"description": "refused: the form again, with the reason", "content": {"text/html": {}}}
    partial = {"name": "partial", "in": "query", "schema": {"type": "string", "enum": ["1"]}}
    document(app, {
        "/console/alerts": {"get": {"summary": "Check a document against the alert replica (the form)",
                                    "tags": ["console"], "security": session, "responses": html}},
        "/console/alerts/check": {"post": {
            "summary": "Check a document (country, type, number, check, point) as GET /api/documents/check "
                       "does: a hit is shown with the alert and reported to the issuing country",
            "tags": ["console"], "security": session,
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {}}},
            "responses": {"200": {"description": "the form with the result", "content": {"text/html": {}}},
                          "400": refused}}},
        "/console/alerts/feeds": {
            "get": {"summary": "Push a feed file; earlier feeds with their status (live)", "tags": ["console"],
                    "security": session, "parameters": [partial], "responses": html},
            "post": {"summary": "Push a feed file (multipart: csrf_token first, then `feed`, a .ndjson, .jsonl or "
                                f".csv file of at most {MAX_UPLOAD_BYTES} bytes); read in the background",
                     "tags": ["console"], "security": session,
                     "requestBody": {"required": True, "content": {"multipart/form-data": {}}},
                     "responses": {"303": {"description": "accepted: to the feed's page"}, "400": refused,
                                   "413": {"description": "the file is too large", "content": {"text/html": {}}}}}},
        "/console/alerts/feeds/{id}": {"get": {
            "summary": "One feed job: progress (live) and, once read, its rejected lines", "tags": ["console"],
            "security": session,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, partial,
                           {"name": "errors_from", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "responses": {**html, "400": {"description": "a bad errors_from", "content": {"text/html": {}}},
                          "404": {"description": "no such feed job", "content": {"text/html": {}}}}}},
        "/console/alerts/hits": {"get": {
            "summary": f"Hits other countries reported on this country's alerts, newest first ({HITS_PAGE} a page, "
                       "live)", "tags": ["console"], "security": session,
            "parameters": [partial, {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "responses": {**html, "400": {"description": "a bad offset", "content": {"text/html": {}}}}}},
    })


# -- pure decisions -------------------------------------------------------------------------------

class FormError(Exception):
    """A console form cannot be taken: a reason code, what to do about it, and the HTTP status."""

    def __init__(self, reason: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.status = reason, detail, status


def feed_format(filename: str) -> str:
    """The feed format a file's name announces."""
    dot = filename.rfind(".")
    fmt = EXTENSIONS.get(filename[dot:].lower()) if dot > 0 else None
    if fmt is None:
        raise FormError("bad_file_type", f"{filename[:80]!r} is not a feed: send a .ndjson or .jsonl file (one alert "
                                         "object a line) or a .csv file (a header of alert field names)")
    return fmt


@dataclass
class LineTally:
    """A feed's size and line count, counted as its bytes go by, the way feeds.line_blocks splits
    them: a last line without a newline still counts. `binary` once a NUL byte is seen."""

    size: int = 0
    newlines: int = 0
    ends_with_newline: bool = False
    binary: bool = False

    def add(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.ends_with_newline = chunk.endswith(b"\n")
        self.binary = self.binary or b"\x00" in chunk

    @property
    def lines(self) -> int:
        return self.newlines + (0 if self.size == 0 or self.ends_with_newline else 1)


def percent(done: int, total: int) -> int:
    """Lines read of `total` as a whole percentage: 100 only once every line is read."""
    if total <= 0 or done >= total:
        return 100
    return min(99, done * 100 // total)


def parse_offset(value: str | None, name: str) -> int:
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or int(value) > MAX_SQL_INTEGER:
        raise FormError("bad_request", f"{name} is a whole number from 0, not {value[:20]!r}")
    return int(value)


# -- document checks ------------------------------------------------------------------------------

_CHECK_FIELDS = ("country", "type", "number", "check", "point")


@console.view("focal")
async def check_form(request: web.Request) -> web.Response:
    return _check_page(request, {"check": "border"}, None, None)


@console.view("focal")
async def check(request: web.Request) -> web.Response:
    if request.content_type != "application/x-www-form-urlencoded":
        return _check_page(request, {}, None, "bad_request: send the form from this page")
    form = await request.post()
    values = {name: form.get(name, "") for name in _CHECK_FIELDS}
    values = {name: v.strip() if isinstance(v, str) and name != "number" else v for name, v in values.items()}
    try:
        answer = await check_document(request.app[NODE], values["country"], values["type"], values["number"],
                                      values["check"], values["point"])
    except BadCheck as bad:
        return _check_page(request, values, None, f"bad_request: {bad.detail}")
    return _check_page(request, values, answer, None)


def _check_page(request: web.Request, values: dict[str, Any], answer: dict[str, Any] | None,
                error: str | None) -> web.Response:
    ctx = request.app[NODE]
    others = [n for n in ctx.federation.directory.node_ids() if n != ctx.country]
    return console.render(request, "node/alerts_check.html", status=400 if error else 200, heading="Check a document",
                          section="check", countries=others, own=ctx.country, types=DOCUMENT_TYPES,
                          kinds=CHECK_KINDS, max_number=MAX_NUMBER_CHARS,
                          values={k: v if isinstance(v, str) else "" for k, v in values.items()},
                          answer=answer, error=error)


# -- feeds ----------------------------------------------------------------------------------------

class FeedRunner:
    """Feeds pushed in the console, each read from its spooled file by a task of its own; a
    progress event on the node's bus at most every PROGRESS_EVERY seconds, and one at the end."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self.tasks: set[asyncio.Task] = set()

    def start(self, intake: feeds.FeedIntake, spool: IO[bytes]) -> None:
        task = asyncio.create_task(self._read(intake, spool), name=f"{self.ctx.country}-console-feed")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read(self, intake: feeds.FeedIntake, spool: IO[bytes]) -> None:
        last = 0.0

        def progress(reading: feeds.FeedIntake) -> None:
            nonlocal last
            if time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                self._publish(reading)

        try:
            await feeds.read_into(intake, _spooled(spool), progress=progress,
                                  interrupted="the node stopped reading before the feed's end")
        except (feeds.FeedRefused, ProtocolError) as exc:  # in the job's report already
            self.ctx.log.warning("console feed refused", job=intake.job_id, reason=exc.reason)
        except Exception:  # noqa: BLE001 - the job says `interrupted`; the cause goes to the log
            self.ctx.log.exception("console feed failed", job=intake.job_id)
        finally:
            spool.close()
            self._publish(intake)

    def _publish(self, intake: feeds.FeedIntake) -> None:
        self.ctx.events.publish({"kind": "feed", "job": intake.job_id, "lines": intake.counts["lines"]})

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


RUNNER = web.AppKey("somex_console_feed_runner", FeedRunner)


async def _spooled(spool: IO[bytes]) -> AsyncIterator[bytes]:
    await asyncio.to_thread(spool.seek, 0)
    while chunk := await asyncio.to_thread(spool.read, _CHUNK):
        yield chunk


@console.view("focal")
async def feed_list(request: web.Request) -> web.Response:
    return await _feeds_page(request, None, 200)


async def _feeds_page(request: web.Request, error: str | None, status: int) -> web.Response:
    engine = request.app[NODE].db
    jobs = await asyncio.to_thread(feeds.recent_jobs, engine)
    names = await asyncio.to_thread(_uploads, engine, [j["job_id"] for j in jobs])
    template = "node/alerts_feed_rows.html" if request.query.get("partial") == "1" else "node/alerts_feeds.html"
    return console.render(request, template, status=status, heading="Alert feeds", section="feeds", jobs=jobs,
                          names={k: v["filename"] for k, v in names.items()}, error=error,
                          max_bytes=MAX_UPLOAD_BYTES)


@console.view("focal")
async def push(request: web.Request) -> web.Response:
    ctx = request.app[NODE]
    spool = tempfile.TemporaryFile(prefix="somex-feed-")
    try:
        filename, fmt, tally = await _receive(request, spool)
        intake = await asyncio.to_thread(feeds.FeedIntake, ctx, fmt)
        await asyncio.to_thread(_record_upload, ctx.db, intake.job_id, filename, tally)
    except FormError as exc:
        spool.close()
        while await request.content.readany():  # let the browser finish sending, so it shows the answer
            pass
        return await _feeds_page(request, f"{exc.reason}: {exc.detail}", exc.status)
    except BaseException:
        spool.close()
        raise
    ctx.log.info("feed pushed in the console", job=intake.job_id, bytes=tally.size, lines=tally.lines)
    request.app[RUNNER].start(intake, spool)  # the runner closes the spool
    return web.Response(status=303, headers={"Location": f"/console/alerts/feeds/{intake.job_id}"})


async def _receive(request: web.Request, spool: IO[bytes]) -> tuple[str, str, LineTally]:
    """Spool the form's `feed` file; its name, format and tally. FormError says what is wrong."""
    found: tuple[str, str, LineTally] | None = None
    try:
        reader = await console.multipart(request)
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "feed" or found is not None:
                raise FormError("bad_request", "the form sends one file, in the field `feed`")
            if not part.filename:
                raise FormError("no_file", "choose a feed file to push")
            fmt = feed_format(part.filename)
            tally = LineTally()
            while chunk := await part.read_chunk(_CHUNK):
                tally.add(chunk)
                if tally.size > MAX_UPLOAD_BYTES:
                    raise FormError("too_large", f"the console takes feed files of at most "
                                                 f"{size(MAX_UPLOAD_BYTES)}; push larger ones with `somex feed push`", 413)
                await asyncio.to_thread(spool.write, chunk)
            found = part.filename[:255], fmt, tally
    except (ValueError, AssertionError, HttpProcessingError):  # not a form a browser sends
        raise FormError("bad_request", "the form could not be read; send it from the feeds page") from None
    if found is None:
        raise FormError("no_file", "choose a feed file to push")
    if found[2].size == 0:
        raise FormError("empty_file", f"{found[0][:80]!r} is empty")
    if found[2].binary:
        raise FormError("not_text", f"{found[0][:80]!r} holds NUL bytes, so it is not a UTF-8 text file: "
                                    "export the feed as UTF-8 NDJSON or CSV")
    await asyncio.to_thread(spool.flush)
    return found


def _record_upload(engine: Engine, job_id: str, filename: str, tally: LineTally) -> None:
    with engine.begin() as conn:
        conn.execute(insert(uploads), {"job_id": job_id, "filename": filename, "bytes": tally.size,
                                       "lines": tally.lines})


def _uploads(engine: Engine, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not job_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(uploads).where(uploads.c.job_id.in_(job_ids)))
        return {r.job_id: dict(r._mapping) for r in rows}


@console.view("focal")
async def feed_page(request: web.Request) -> web.Response:
    engine = request.app[NODE].db
    job_id = request.match_info["id"]
    try:
        start = parse_offset(request.query.get("errors_from"), "errors_from")
    except FormError as exc:
        return console.refusal_page(request, 400, "Bad address", f"{exc.reason}: {exc.detail}")
    job = await asyncio.to_thread(feeds.job, engine, job_id, error_limit=ERRORS_PAGE, error_offset=start)
    if job is None:
        return console.error_page(request, 404, "No such feed", words("no feed job %(id)s", id=job_id[:40]))
    upload = (await asyncio.to_thread(_uploads, engine, [job_id])).get(job_id)
    total = upload["lines"] if upload else None
    template = "node/alerts_feed_live.html" if request.query.get("partial") == "1" else "node/alerts_feed.html"
    return console.render(request, template, heading="Alert feed", section="feeds", job=job, upload=upload,
                          total=total, percent=percent(job["lines"], total) if total is not None else None,
                          start=start, page=ERRORS_PAGE, stored_errors=min(job["rejected"], feeds.MAX_STORED_ERRORS))


# -- hits -----------------------------------------------------------------------------------------

@console.view("focal")
async def hit_list(request: web.Request) -> web.Response:
    try:
        offset = parse_offset(request.query.get("offset"), "offset")
    except FormError as exc:
        return console.refusal_page(request, 400, "Bad address", f"{exc.reason}: {exc.detail}")
    rows = await asyncio.to_thread(received_hits, request.app[NODE].db, HITS_PAGE + 1, offset)
    partial = request.query.get("partial") == "1"
    template = "node/alerts_hit_rows.html" if partial else "node/alerts_hits.html"
    return console.render(request, template, heading="Hits on our alerts", section="hits", hits=rows[:HITS_PAGE],
                          offset=offset, more=len(rows) > HITS_PAGE, page=HITS_PAGE)
