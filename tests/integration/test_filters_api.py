"""Issue 21 (first contact): a bad filter is a 400 naming the expected format, country codes match in
any case, times compare as instants; a wrong bearer token is told apart from a missing one."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app
from nodes.plumbing.http import NO_TOKEN, WRONG_TOKEN
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


async def test_audit_filters_are_checked_and_normalised(fed: RunningFederation) -> None:
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "filters"}, thread="case-filters")
    await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="delivery")
    server = TestServer(make_app(fed.hub))
    await server.start_server()
    auditor = {"Authorization": f"Bearer {fed.federation.credentials('HUB').tokens['auditor']}"}
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            async def trail(**params: str) -> tuple[int, dict]:
                async with http.get("/api/audit/entries", params={"thread": "case-filters", **params},
                                    headers=auditor) as r:
                    return r.status, await r.json()

            _, everything = await trail()
            [entry] = [e for e in everything["entries"] if e["message_id"] == sent.id]
            for params in ({"sender": "mex"}, {"sender": "MEX"}, {"recipient": "idn"}):
                status, found = await trail(**params)
                assert status == 200 and sent.id in {e["message_id"] for e in found["entries"]}, params
            # an RFC 3339 time without fraction compares as the instant it names, not as a string
            received = entry["received_at"]
            status, found = await trail(since=received[:19] + "Z")
            assert status == 200 and sent.id in {e["message_id"] for e in found["entries"]}
            status, found = await trail(since=received[:10])
            assert status == 200 and sent.id in {e["message_id"] for e in found["entries"]}
            for params in ({"since": "yesterday"}, {"until": "2026-11-22 17:20"}, {"sender": "mexico"}):
                status, refused = await trail(**params)
                assert status == 400 and refused["error"] == "bad_filter", params
                assert ("RFC 3339" in refused["detail"]) or ("alpha-3" in refused["detail"])
            async with http.get("/api/audit/export", params={"since": "yesterday"}, headers=auditor) as r:
                assert r.status == 400 and (await r.json())["error"] == "bad_filter"
            async with http.get("/api/audit/entries") as r:
                assert r.status == 401 and (await r.json())["detail"] == NO_TOKEN
            async with http.get("/api/audit/entries", headers={"Authorization": "Bearer not-a-token"}) as r:
                assert r.status == 401 and (await r.json())["detail"] == WRONG_TOKEN
    finally:
        await server.close()
