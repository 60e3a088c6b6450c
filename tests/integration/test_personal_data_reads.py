"""Personal data has one read path: a node holding a case.share, an MLA request and a joint
investigation's message, all naming a distinctive person, is asked for every GET route of its OpenAPI document (the API and every
console page; the document is checked against the router in test_openapi.py), with every path
parameter a stored id could fill. No answer may contain that person without an access-log entry
written by that very request, a console page not without the handling banner, and no answer may
show the MLA request without the `retrieved` receipt having been sent."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from nodes.national.features.cases import store as case_store
from nodes.national import reads
from nodes.national.api import make_app
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_mla import fields
from tests.unit.test_cases import CASE

pytestmark = pytest.mark.integration

PERSON = "Dragan KOVAČ"
MARKERS = ("KOVAČ", "KOVA\\u010c", "KOVA&#268;")  # as written, JSON-escaped, HTML-escaped
MLA_MARKER = "ferry ticket office at Ljubljana"
SKIP = {"/console/events"}  # a server-sent event stream: never a body, and never ends
QUERY = {"name": "Kovac", "dob": "1979-04-02", "document": "G 1234 5678", "vessel": "KM Harapan Jaya",
         "imo": "9074729", "partial": "1"}


def _shows_person(text: str) -> bool:
    return any(m in text for m in MARKERS)


def _logged(fed: RunningFederation) -> int:
    with fed.nodes["MEX"].store.engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)).scalar_one()
                   for t in (case_store.access_log, reads.body_access_log))


def _retrieved_sent(fed: RunningFederation, request_id: str) -> bool:
    return any(m.body["kind"] == "retrieved" and m.body["of"] == request_id
               for m in fed.nodes["MEX"].store.list(direction="out", type="receipt"))


async def _holding_a_case_and_a_request(fed: RunningFederation) -> dict[str, list[str]]:
    idn, ita, mex = fed.nodes["IDN"], fed.nodes["ITA"], fed.nodes["MEX"]
    case = json.loads(json.dumps(CASE))
    case["persons"][0]["name"] = PERSON
    own = case_store.create_case(idn.contexts["cases"], case)
    share = case_store.share_case(idn.contexts["cases"], own, ["MEX"], {"code": "H2", "retention_days": 30})
    request_id = ita.mla.create(fields("ITA-2026-KOVAC", summary=f"{PERSON} sold places at the {MLA_MARKER}",
                                       persons=[{"name": PERSON, "role": "suspect", "nationality": "MEX"}]))["id"]
    jit, _ = case_store.open_jit(idn.contexts["cases"], ["MEX"], title="Adriatic route")
    said = case_store.send_jit_message(idn.contexts["cases"], jit, f"{PERSON} was seen in Koper")
    await eventually(lambda: mex.store.get(share.id) and any(r["id"] == request_id for r in mex.mla.list())
                     and mex.store.get(said.id), what="the case.share, the MLA request and the JIT message at MEX")
    case_id = next(c["id"] for c in case_store.list_cases(mex.contexts["cases"]) if c["reference"] == CASE["reference"])
    threads = [share.thread, mex.store.get(request_id).thread, jit]
    return {"id": [share.id, request_id, str(case_id)], "index": ["0"], "thread": threads,
            "request_id": [request_id], "jit": [jit]}


def _urls(document: dict[str, Any], values: dict[str, list[str]]) -> list[str]:
    urls = []
    for template, item in sorted(document["paths"].items()):
        if "get" not in item or template in SKIP:
            continue
        names = re.findall(r"{([^}:]+)", template)
        for combo in itertools.product(*(values.get(n, ["0"]) for n in names)):
            path = template
            for name, value in zip(names, combo):
                path = re.sub("{" + name + "[^}]*}", value, path)
            query = [p["name"] for p in item["get"].get("parameters", []) if p.get("in") == "query"]
            urls.append(path)
            if any(q in QUERY for q in query):
                urls.append(path + "?" + "&".join(f"{q}={QUERY[q]}" for q in query if q in QUERY))
    return urls


async def test_no_route_shows_sealed_personal_data_without_log_banner_and_receipt(fed: RunningFederation) -> None:
    values = await _holding_a_case_and_a_request(fed)
    request_id = values["request_id"][0]
    server = TestServer(make_app(fed.nodes["MEX"]))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    tokens = fed.federation.credentials("MEX").tokens
    shown: list[str] = []
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(f"{base}/api/openapi.json") as r:
                document = await r.json()
            async with session.post(f"{base}/console/login", data={"token": tokens["focal"]},
                                    allow_redirects=False) as r:
                assert r.status == 303
            urls = _urls(document, values)
            assert any(u.startswith("/console/messages/") for u in urls) and any(u.startswith("/api/") for u in urls)
            for url, role in itertools.product(urls, ("focal", "auditor")):
                if url.startswith("/console/") and role != "focal":
                    continue
                before = _logged(fed)
                async with session.get(base + url, headers={"Authorization": f"Bearer {tokens[role]}",
                                                            "Accept": "text/html, application/json"},
                                       allow_redirects=False) as r:
                    text = (await r.read()).decode("utf-8", "replace")
                if not _shows_person(text):
                    continue
                shown.append(url)
                assert _logged(fed) > before, f"{url} ({role}) shows {PERSON} without an access-log entry"
                if url.startswith("/console/"):
                    assert 'class="banner' in text, f"{url} shows {PERSON} without the handling banner"
                if MLA_MARKER in text:
                    assert _retrieved_sent(fed, request_id), f"{url} shows the MLA request without a receipt"
    finally:
        await server.close()
    # The walk reached the personal data through each kind of route that may show it.
    for expected in (f"/console/messages/{values['id'][0]}", f"/console/messages/{request_id}",
                     f"/api/mla/requests/{request_id}", f"/api/cases/{values['id'][2]}",
                     f"/console/cases/{values['id'][2]}", f"/console/mla/{request_id}",
                     f"/api/jits/{values['jit'][0]}", f"/console/cases/jits/{values['jit'][0]}"):
        assert expected in shown, (expected, shown)
    journal = reads.access_entries(fed.nodes["MEX"], values["id"][0])
    assert {(e["who"], e["type"]) for e in journal} == {(reads.CONSOLE_READER, "case.share")}
    assert {e["who"] for e in reads.access_entries(fed.nodes["MEX"], request_id)} == {reads.CONSOLE_READER, "focal"}
    assert "read_message" in {e["action"] for e in case_store.access_entries(fed.nodes["MEX"].contexts["cases"])}
