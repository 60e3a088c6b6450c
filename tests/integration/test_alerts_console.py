"""The console's feed pushes against the API's view of the same jobs, and a node stopping while a
console feed is read (over a real socket; tests/browser drives the pages in Chromium)."""

from __future__ import annotations

import json
import threading

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.national.features.alerts import feeds
from nodes.national.api import make_app
from nodes.national.features.alerts.console import RUNNER
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_console_access import client, csrf_of, log_in

pytestmark = pytest.mark.integration


def _feed(n: int) -> bytes:
    return "".join(json.dumps({"document_number": f"MC{i:07d}", "document_type": "passport", "issuing_country": "MEX",
                               "status": "lost", "action": "create", "reported": "2026-11-20"}) + "\n"
                   for i in range(n)).encode()


async def _push(s: aiohttp.ClientSession, base: str, name: str, content: bytes) -> str:
    async with s.get(f"{base}/console/alerts/feeds") as r:
        token = csrf_of(await r.text())
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("feed", content, filename=name, content_type="application/octet-stream")
    async with s.post(f"{base}/console/alerts/feeds", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"].rsplit("/", 1)[-1]


async def test_a_console_feed_is_the_apis_job_and_stopping_the_node_marks_it_interrupted(
        fed: RunningFederation, monkeypatch) -> None:  # noqa: ANN001
    node = fed.nodes["MEX"]
    app = make_app(node)
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    tokens = fed.federation.credentials("MEX").tokens
    gate, take = threading.Event(), feeds.FeedIntake.take
    try:
        async with client() as s:
            await (await log_in(s, base, tokens["focal"])).release()
            done = await _push(s, base, "first.ndjson", _feed(30) + b"{bad\n")
            api = {"Authorization": f"Bearer {tokens['feed']}"}
            report = await eventually(lambda: (j := feeds.job(node.store.engine, done)) and j["status"] == "done" and j,
                                      what="the console's feed read")
            async with s.get(f"{base}/api/feeds/{done}", headers=api) as r:
                assert await r.json() == report  # one job, whichever door it came in by
            assert (report["lines"], report["accepted"], report["rejected"]) == (31, 30, 1)
            assert report["errors"] == [{"line": 31, "field": "$", "reason": "malformed_json",
                                         "detail": report["errors"][0]["detail"]}]
            # The same file again through the API: nothing new is sent, as for any feed.
            async with s.post(f"{base}/api/feeds", data=_feed(30), headers={**api,
                                                                          "Content-Type": "application/x-ndjson"}) as r:
                assert (await r.json())["duplicates"] == 30

            # A feed held after its first block when the node stops: the job says it was interrupted.
            monkeypatch.setattr(feeds, "READ_BYTES", 1024)

            def held(intake: feeds.FeedIntake, lines: list[bytes], size: int) -> None:
                take(intake, lines, size)
                gate.wait(30)

            monkeypatch.setattr(feeds.FeedIntake, "take", held)
            stopped = await _push(s, base, "second.ndjson", _feed(2000))
            await eventually(lambda: feeds.job(node.store.engine, stopped)["lines"] > 0, what="the first block read")
            gate.set()
            await app[RUNNER].close()  # no await in between: the reading task is cancelled before it goes on
            job = feeds.job(node.store.engine, stopped)
            assert job["status"] == "failed" and job["detail"].startswith("interrupted: the node stopped reading")
            assert job["lines"] < 2000
    finally:
        gate.set()
        await server.close()
