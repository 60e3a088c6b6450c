"""End-to-end delivery assurance and the watchdogs, against a real broker: a re-sent message is
forwarded again under its audit entry; a message lost after the hub accepted it is recovered by the
sender's re-send; alarms reach health (details only with a token), not an info line."""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import broker_config
from nodes.hub.api import make_app as make_hub_app
from nodes.national.api import make_app as make_node_app
from nodes.plumbing.amqp import open_connection
from nodes.plumbing.config import utcnow
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually, make_federation
from tests.integration.test_console_access import client, log_in
from tests.integration.test_relay import note, rejections_at

pytestmark = pytest.mark.integration

QUICK = {"delivery_deadline": timedelta(seconds=1), "delivery_sweep_interval": 0.2, "hub_silence_alarm": 1.0}


def receipts_sent(fed: RunningFederation, by: str, of: str) -> int:
    return sum(1 for m in fed.nodes[by].store.list(direction="out", type="receipt", limit=1000) if m.body["of"] == of)


@pytest.fixture
async def quick_fed(broker, tmp_path, request):  # noqa: ANN001, ANN201
    """Hub, MEX and IDN with deadlines and watchdogs in seconds."""
    fed = make_federation(broker, tmp_path, request.node.name, countries=["MEX", "IDN"])
    await fed.start_hub(inbox_watch_interval=0.2, inbox_stall_alarm=1.0)
    for country in ("MEX", "IDN"):
        await fed.start_node(country, **QUICK)
    try:
        yield fed
    finally:
        await fed.stop_all()
        fed.delete(broker)


async def console_page(app, token: str, path: str) -> str:  # noqa: ANN001
    server = TestServer(app)
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with client() as session:
            (await log_in(session, base, token)).close()
            async with session.get(f"{base}{path}") as r:
                assert r.status == 200
                return await r.text()
    finally:
        await server.close()


async def health(app, token: str | None = None) -> dict:  # noqa: ANN001
    server = TestServer(app)
    await server.start_server()
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session, session.get(server.make_url("/api/health"),
                                                                    headers=headers) as r:
            assert r.status == 200
            return await r.json()
    finally:
        await server.close()


async def test_the_same_signed_message_sent_again_is_forwarded_again_under_its_entry_not_rejected(
        fed: RunningFederation) -> None:
    env = note(fed, "MEX", ["IDN"], "sent twice")
    await fed.publish_raw("MEX", wire.encode(env))
    await eventually(lambda: fed.nodes["IDN"].store.get(env.id), what="first delivery")
    await fed.publish_raw("MEX", wire.encode(env))  # not flagged redelivered: a node's own re-send
    await eventually(lambda: receipts_sent(fed, "IDN", env.id) == 2, what="IDN receipting the re-forward")
    [entry] = fed.audit(message_id=env.id)
    assert entry["verdict"] == "accepted"
    assert rejections_at(fed, "MEX") == {}
    assert [m.body["text"] for m in fed.inbox("IDN", type="note")] == ["sent twice"]


async def test_two_copies_in_one_hub_batch_get_one_entry_and_no_rejection(fed: RunningFederation) -> None:
    await fed.hub.stop()
    env = note(fed, "MEX", ["IDN"], "twice in a batch")
    await fed.publish_raw("MEX", wire.encode(env))
    await fed.publish_raw("MEX", wire.encode(env))
    await fed.start_hub()  # both copies wait in hub.in: one batch
    await eventually(lambda: fed.nodes["IDN"].store.get(env.id), what="delivery")
    await eventually(lambda: receipts_sent(fed, "IDN", env.id) == 2, what="both copies forwarded")
    assert [e["verdict"] for e in fed.audit(message_id=env.id)] == ["accepted"]
    assert rejections_at(fed, "MEX") == {}


async def test_message_lost_after_the_hub_accepted_it_is_resent_and_delivered_once(quick_fed: RunningFederation) -> None:
    fed = quick_fed
    await fed.nodes.pop("IDN").stop()
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "lost in the broker"})
    await eventually(lambda: fed.audit(message_id=sent.id), what="the hub accepting it")
    # The broker loses IDN's inbox (issue 22: a broker crash after the hub forwarded).
    connection = await open_connection(fed.url_for("IDN"), timeout=10)
    async with connection:
        channel = await connection.channel()
        inbox = await channel.get_queue(broker_config.inbox_queue("IDN"), ensure=False)
        await eventually(lambda: inbox.declare(), what="inbox declared")
        await inbox.purge()
    mex = fed.nodes["MEX"]
    await eventually(lambda: "delivery_overdue" in mex.alarms, what="the overdue alarm at MEX")
    [alarm] = [a for a in mex.alarms.active() if a["reason"] == "delivery_overdue"]
    assert alarm["message_id"] == sent.id and alarm["recipients"] == ["IDN"]
    focal = fed.federation.credentials("MEX").tokens["focal"]
    view = await health(make_node_app(mex), focal)
    assert view["overdue"] == 1 and view["status"] == "degraded"
    sent_page = await console_page(make_node_app(mex), focal, "/console/sent")
    assert re.search(rf'data-message-id="{sent.id}".*?<td class="delivery overdue">overdue</td>', sent_page, re.S)
    assert "delivery_overdue" in await console_page(make_node_app(mex), focal, "/console/")

    idn = await fed.start_node("IDN", **QUICK)
    got = await eventually(lambda: idn.store.get(sent.id), timeout=20, what="delivery after the re-send")
    assert got.body == {"text": "lost in the broker"}
    await eventually(lambda: "delivery_overdue" not in mex.alarms, what="the alarm cleared by IDN's receipt")
    assert [e["verdict"] for e in fed.audit(message_id=sent.id)] == ["accepted"]  # no second entry
    assert rejections_at(fed, "MEX") == {}
    assert [m.message_id for m in fed.inbox("IDN", type="note")] == [sent.id]
    [status] = (await eventually(lambda: [d for d in _delivery(mex, sent.id) if d["state"] == "settled"],
                                 what="settled"))
    assert status["resends"] >= 1


def _delivery(node, message_id: str) -> list[dict]:  # noqa: ANN001
    from nodes.national import delivery

    return delivery.status(node, message_id)


async def test_outgoing_rejection_is_an_alarm_whose_details_only_a_token_holder_sees(
        quick_fed: RunningFederation) -> None:
    fed = quick_fed
    mex = fed.nodes["MEX"]
    skewed = note(fed, "MEX", ["IDN"], "from the future", created=utcnow() + timedelta(hours=2),
                  ttl=timedelta(hours=3))
    await fed.publish_raw("MEX", wire.encode(skewed))
    await eventually(lambda: rejections_at(fed, "MEX"), what="the hub's rejection at MEX")
    public = await health(make_node_app(mex))
    assert public["status"] == "degraded" and public["alarm_count"] >= 1
    assert "alarms" not in public
    detailed = await health(make_node_app(mex), fed.federation.credentials("MEX").tokens["auditor"])
    [rejected] = [a for a in detailed["alarms"] if a["reason"] == "outgoing_rejected"]
    assert rejected["rejected_reason"] == "clock_skew" and rejected["message_id"] == skewed.id
    assert "clock_skew" in rejected["detail"]
    home = await console_page(make_node_app(mex), fed.federation.credentials("MEX").tokens["focal"], "/console/")
    assert 'id="alarms"' in home and "outgoing_rejected" in home and skewed.id in home


async def test_hub_watches_inboxes_and_node_watches_the_hub(quick_fed: RunningFederation) -> None:
    fed = quick_fed
    await fed.nodes.pop("IDN").stop()
    await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "waits in the inbox"})
    hub = fed.hub
    await eventually(lambda: "inbox_stalled:IDN" in hub.alarms, what="the hub's inbox alarm")
    public = await health(make_hub_app(hub))
    assert public["status"] == "degraded" and public["alarm_count"] == 1 and "alarms" not in public
    assert "parked_forwards" not in public
    detailed = await health(make_hub_app(hub), fed.federation.credentials("HUB").tokens["auditor"])
    [alarm] = detailed["alarms"]
    assert alarm["reason"] == "inbox_stalled" and alarm["node_id"] == "IDN"
    auditor = fed.federation.credentials("HUB").tokens["auditor"]
    assert "inbox_stalled" in await console_page(make_hub_app(hub), auditor, "/console/")
    await fed.start_node("IDN", **QUICK)
    await eventually(lambda: "inbox_stalled:IDN" not in hub.alarms, what="the inbox alarm cleared")

    # The hub stops consuming: MEX's next message gets no answer (no checkpoint, no rejection).
    await fed.hub.stop()
    mex = fed.nodes["MEX"]
    await mex.send("note", ["IDN"], body={"text": "nobody relays this yet"})
    await eventually(lambda: "hub_silent" in mex.alarms, what="MEX's hub watchdog")
    await fed.start_hub()
    await eventually(lambda: "hub_silent" not in mex.alarms, what="the watchdog cleared by the hub's checkpoint")
