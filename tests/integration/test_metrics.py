"""`GET /metrics` on the hub and a node (issue 18 item 1), over a real socket in a real federation:
the operator's token only; messages counted by type, verdict and reason; latency and batch
histograms; every metric the shipped alerting rules and dashboard use is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"


async def scrape(app, token: str | None) -> tuple[int, str]:  # noqa: ANN001
    server = TestServer(app)
    await server.start_server()
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session, session.get(server.make_url("/metrics"), headers=headers) as r:
            return r.status, await r.text()
    finally:
        await server.close()


def samples(text: str) -> dict[str, float]:
    """`name{labels}` → value of every sample line."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


async def test_metrics_count_what_the_hub_and_the_nodes_handle(fed: RunningFederation) -> None:
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "counted"})
    await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="the note at IDN")
    await fed.publish_raw("MEX", b"{not an envelope")  # refused at the hub: counted by reason
    await eventually(lambda: fed.inbox("MEX", type="hub.rejection"), what="the rejection")

    operator = fed.federation.credentials("HUB").tokens["operator"]
    size_before = fed.hub.store.size  # the log grows while the test runs (witnesses' cosignatures)
    status, text = await scrape(make_hub_app(fed.hub), operator)
    assert status == 200
    hub = samples(text)
    assert hub['somex_messages_total{reason="",type="note",verdict="accepted"}'] >= 1
    assert any(k.startswith("somex_messages_total{") and 'verdict="rejected"' in k and 'reason="malformed' in k
               for k in hub), [k for k in hub if k.startswith("somex_messages_total")]
    assert size_before >= 4 and size_before <= hub["somex_log_size"] <= fed.hub.store.size
    assert hub["somex_broker_connected"] == 1
    assert hub["somex_batch_seconds_count"] >= 1
    assert 0 < hub["somex_directory_expiry_days"] < 3700
    assert hub['somex_certificate_expiry_days{node="MEX"}'] > 0

    status, text = await scrape(make_node_app(fed.nodes["IDN"]), fed.federation.credentials("IDN").tokens["operator"])
    assert status == 200
    idn = samples(text)
    assert idn['somex_messages_total{reason="",type="note",verdict="stored"}'] == 1
    assert idn["somex_delivery_seconds_count"] >= 1 and idn["somex_outbox_depth"] >= 0
    assert idn["somex_broker_connected"] == 1 and idn["somex_alarms_open"] == 0


async def test_metrics_need_the_operator_token(fed: RunningFederation) -> None:
    tokens = fed.federation.credentials("MEX").tokens
    assert (await scrape(make_node_app(fed.nodes["MEX"]), None))[0] == 401
    assert (await scrape(make_node_app(fed.nodes["MEX"]), tokens["focal"]))[0] == 403
    assert (await scrape(make_node_app(fed.nodes["MEX"]), "not-a-token"))[0] == 401
    assert (await scrape(make_hub_app(fed.hub), fed.federation.credentials("HUB").tokens["auditor"]))[0] == 403


async def test_every_metric_the_rules_and_the_dashboard_use_is_exported(fed: RunningFederation) -> None:
    rules = yaml.safe_load((MONITORING / "prometheus-rules.yml").read_text())
    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in expressions for m in re.findall(r"somex_[a-z_]+", e)}
    assert len(used) >= 12

    exported = set()
    for app, token in ((make_hub_app(fed.hub), fed.federation.credentials("HUB").tokens["operator"]),
                       (make_node_app(fed.nodes["MEX"]), fed.federation.credentials("MEX").tokens["operator"])):
        status, text = await scrape(app, token)
        assert status == 200
        exported |= set(re.findall(r"^# TYPE (somex_[a-z_]+) ", text, re.M))
        exported |= {f"{n}_total" for n in re.findall(r"^# TYPE (somex_[a-z_]+) counter", text, re.M)}
    assert used <= exported, used - exported
