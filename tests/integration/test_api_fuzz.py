"""Schemathesis fuzzes every documented operation of a live node and hub (inside a running
federation) from their own OpenAPI document: whatever the input, no answer is a server error, and
every status answered is one the document gives for that operation (redirects are not followed).

The servers run on the test's event loop; schemathesis' synchronous calls run in a thread.
Bounded: a few derandomised examples per operation, valid-looking and deliberately invalid.
"""

from __future__ import annotations

import asyncio

import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from nodes.plumbing.http import RATE
from nodes.plumbing.openapi import TITLE, openapi_document
from protocol.ratelimit import RateLimit, TokenBuckets
from tests.integration.federation import RunningFederation

pytestmark = pytest.mark.integration

EXAMPLES = 12


def fuzz(document: dict, base_url: str, token: str) -> list[str]:
    """Server errors and undocumented statuses found, one line each (method, path, status, the
    request that caused it)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    http = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        documented = document["paths"][operation.path][operation.method.lower()]["responses"].keys()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:  # noqa: ANN001
                response = case.call(base_url=base_url, session=http, timeout=30, allow_redirects=False,
                                     headers={**(case.headers or {}), "Authorization": f"Bearer {token}"})
                if response.status_code >= 500 or str(response.status_code) not in documented:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code} "
                                    f"(documented: {', '.join(documented)}): "
                                    f"{case.as_curl_command()}\n{response.text[:300]}")

            try:
                call()
            except Unsatisfiable:  # nothing can be made invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, f"{operation.method} {operation.path}: no valid input"
    return failures


async def run_fuzz(app: web.Application, token: str) -> list[str]:
    app[RATE] = TokenBuckets(RateLimit(per_second=10_000, burst=10_000))  # fuzzing is not a flood test
    document = openapi_document(app, app[TITLE])
    server = TestServer(app)
    await server.start_server()
    try:
        return await asyncio.to_thread(fuzz, document, str(server.make_url("")).rstrip("/"), token)
    finally:
        await server.close()


async def test_no_node_operation_answers_a_server_error(fed: RunningFederation) -> None:
    failures = await run_fuzz(make_node_app(fed.nodes["MEX"]), fed.federation.credentials("MEX").tokens["focal"])
    assert failures == []


async def test_no_hub_operation_answers_a_server_error(fed: RunningFederation) -> None:
    failures = await run_fuzz(make_hub_app(fed.hub), fed.federation.credentials("HUB").tokens["auditor"])
    assert failures == []


async def test_inputs_the_fuzzer_found_get_typed_rejections(fed: RunningFederation) -> None:
    """Each of these answered 500 before: numbers past what SQL holds, malformed multipart, bad paging."""
    node_app, hub_app = make_node_app(fed.nodes["MEX"]), make_hub_app(fed.hub)
    focal = {"Authorization": f"Bearer {fed.federation.credentials('MEX').tokens['focal']}"}
    auditor = {"Authorization": f"Bearer {fed.federation.credentials('HUB').tokens['auditor']}"}
    huge = str(2**80)
    bad_multipart = {**focal, "Content-Type": "multipart/form-data; boundary=x"}
    broken = b"--x\r\nContent-Disposition: form-data; name=\"request\"\r\nBad Header\x00: y\r\n\r\n{}\r\n--x--\r\n"
    async with TestClient(TestServer(node_app)) as node, TestClient(TestServer(hub_app)) as hub:
        for client, method, url, kwargs, status in [
            (node, "GET", f"/api/cases/{huge}", {"headers": focal}, 404),
            (node, "POST", f"/api/cases/{huge}/withdraw", {"headers": focal, "json": {}}, 404),
            (node, "GET", "/api/messages?limit=-5", {"headers": focal}, 400),
            (node, "GET", f"/api/messages?offset={huge}", {"headers": focal}, 400),
            (node, "POST", "/api/mla/requests", {"headers": bad_multipart, "data": broken}, 400),
            (hub, "GET", f"/api/audit/entries/-{huge}", {"headers": auditor}, 404),
            (hub, "GET", f"/api/audit/entries?after={huge}", {"headers": auditor}, 400),
            (hub, "GET", "/api/audit/entries?limit=0", {"headers": auditor}, 400),
        ]:
            async with client.request(method, url, **kwargs) as r:
                assert r.status == status, (method, url, await r.text())
                assert (await r.json())["error"] in ("not_found", "bad_request"), (method, url)
