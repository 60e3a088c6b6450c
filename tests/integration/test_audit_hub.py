"""The audit log inside a running federation: witnesses, the auditor API, and a rewritten log."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from crypto.merkle import leaf_hash, verify_inclusion
from crypto.note import NoteVerifier, verify_note
from nodes.hub.api import make_app
from nodes.hub.relay import log_origin
from nodes.national.witness import latest_witnessed, open_alarms
from protocol.checkpoint import parse_checkpoint_body, parse_note
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


def witnessed_by_all(fed: RunningFederation, covering: int):  # noqa: ANN201
    def probe():  # noqa: ANN202
        latest = fed.hub.store.latest_checkpoint()
        if latest is None or latest[0] < covering:
            return None
        names = {s.name for s in latest[1].signatures}
        return latest if {"MEX", "IDN", "ITA"} <= names else None
    return probe


async def test_witnesses_cosign_and_auditors_get_verifiable_proofs(fed: RunningFederation) -> None:
    sent = [await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"m{i}"}, thread="case-9") for i in range(5)]
    got = await eventually(lambda: fed.nodes["IDN"].store.get(sent[-1].id), what="delivery")
    size, note = await eventually(witnessed_by_all(fed, got.log_index + 1), timeout=20, what="witnessed checkpoint")

    server = TestServer(make_app(fed.hub))
    await server.start_server()
    auditor = {"Authorization": f"Bearer {fed.federation.credentials('HUB').tokens['auditor']}"}
    focal = {"Authorization": f"Bearer {fed.federation.credentials('MEX').tokens['focal']}"}
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            async with http.get("/api/audit/entries", params={"thread": "case-9", "type": "note"}, headers=auditor) as r:
                trail = (await r.json())["entries"]
            assert [e["message_id"] for e in trail] == [m.id for m in sent]
            async with http.get(f"/api/audit/entries/{got.log_index}", headers=auditor) as r:
                detail = await r.json()
            for headers in ({}, focal):  # a node's token is not the auditor's
                async with http.get("/api/audit/entries", headers=headers) as r:
                    assert r.status == 401
            async with http.post("/api/messages", headers=auditor, json={}) as r:
                assert r.status in (404, 405)  # the hub API sends nothing for anyone
    finally:
        await server.close()

    # The proof ties the entry the recipient was told about (its log receipt) to a signed checkpoint.
    checkpoint_note = parse_note(detail["checkpoint"].encode())
    origin = log_origin(fed.federation.directory.federation)
    hub_key = fed.federation.directory.node("HUB").certificates[-1].public_key()
    assert verify_note(checkpoint_note, [NoteVerifier(origin, hub_key)]) == [origin]
    checkpoint = parse_checkpoint_body(checkpoint_note.body)
    leaf = base64.b64decode(detail["leaf"])
    receipt = json.loads(fed.nodes["IDN"].store.engine.connect().exec_driver_sql(
        "SELECT log_receipt FROM messages WHERE message_id = ?", (got.message_id,)).scalar())
    assert receipt["leaf_hash"] == leaf_hash(leaf).hex()
    verify_inclusion(leaf_hash(leaf), got.log_index, checkpoint.size,
                     [base64.b64decode(h) for h in detail["proof"]], checkpoint.root_hash)


async def test_witnesses_raise_an_alarm_when_the_hub_rewrites_its_log(fed: RunningFederation) -> None:
    for i in range(6):
        await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"original {i}"})
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 6, what="deliveries")
    size, _ = await eventually(witnessed_by_all(fed, 6), timeout=20, what="witnessed checkpoint")

    # Someone with access to the hub's database cuts the log back and lets the hub carry on.
    await fed.hub.stop()
    with sqlite3.connect(fed.path / "audit.db") as db:
        db.execute("DELETE FROM audit_entries WHERE seq >= 2")
        db.execute("DELETE FROM merkle_nodes WHERE (((id & 1099511627775) + 1) << (id >> 40)) > 2")
        db.execute("DELETE FROM seen_messages WHERE seq >= 2")
        db.execute("DELETE FROM checkpoints")
    await fed.start_hub()
    for i in range(size + 3):
        await fed.nodes["ITA"].send("note", ["MEX"], body={"text": f"after the rewrite {i}"})

    for country in ("MEX", "IDN", "ITA"):
        alarms = await eventually(lambda c=country: open_alarms(fed.nodes[c]), timeout=20, what=f"alarm at {country}")
        assert alarms[0]["reason"] == "inconsistent"
    latest = fed.hub.store.latest_checkpoint()
    assert latest is not None and not ({"MEX", "IDN", "ITA"} & {s.name for s in latest[1].signatures})


async def test_an_idle_federation_stops_growing_its_log_once_the_last_checkpoint_is_cosigned(fed) -> None:  # noqa: ANN001
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "then nothing more"})
    await eventually(lambda: fed.nodes["MEX"].store.receipts_for(sent.id), timeout=20, what="IDN's receipt at MEX")
    # The checkpoint covering the receipt is cosigned by every witness, and cosignatures are entries:
    # they must not call for a checkpoint of their own (which would be cosigned again, forever).
    await eventually(lambda: {e["sender"] for e in fed.audit(type="witness.cosign")} == {"MEX", "IDN", "ITA"},
                     timeout=20, what="every witness's cosignature")
    interval = fed.hub.config.checkpoint_interval
    await asyncio.sleep(2 * interval)  # the last cosignatures land
    size, checkpoints = fed.hub.store.size, fed.hub.store.checkpoint_sizes()
    await asyncio.sleep(3 * interval)
    assert (fed.hub.store.size, fed.hub.store.checkpoint_sizes()) == (size, checkpoints)


async def test_the_handling_code_is_in_the_leaf_and_the_verified_export_shows_it(fed: RunningFederation) -> None:
    # Issue 14 item 7: a node lying about handling can only be caught by audit, so the log must
    # commit to the code and condition the sender declared.
    from crypto.audit_bundle import verify_bundle
    from crypto.witness import required_quorum
    from nodes.hub.export import export_bundle
    from nodes.app.local import describe_leaf

    handling = {"code": "H2", "condition": "no onward transfer without the provider's consent"}
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "h2"}, thread="case-h2", handling=handling)
    got = await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="delivery")
    await eventually(witnessed_by_all(fed, got.log_index + 1), timeout=20, what="witnessed checkpoint")
    raw = (fed.federation.path / "directory.signed.json").read_bytes()
    bundle = export_bundle(fed.hub.store, raw, quorum=required_quorum(fed.federation.directory), thread="case-h2")
    report = verify_bundle(json.loads(json.dumps(bundle)), fed.federation.root_cert)
    assert report.ok, [str(f) for f in report.findings]
    [leaf] = [c for c in report.proven.values() if c["message_id"] == sent.id]
    assert leaf["handling"] == handling
    assert describe_leaf(leaf).endswith("thread=case-h2 handling=H2 (no onward transfer without the provider's consent)")


async def test_nodes_prove_their_log_receipts_against_checkpoints_they_witnessed(fed: RunningFederation) -> None:
    # Also seen in issue 14: nodes never checked the hub's log receipts against witnessed checkpoints.
    import dataclasses

    from nodes.national import log_watch

    sent = [await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"r{i}"}, thread="case-r") for i in range(4)]
    got = await eventually(lambda: fed.nodes["IDN"].store.get(sent[-1].id), what="delivery")
    idn = fed.nodes["IDN"]
    await eventually(lambda: (latest_witnessed(idn) or {"size": 0})["size"] > got.log_index, timeout=20,
                     what="IDN witnessing a checkpoint that covers its receipts")
    server = TestServer(make_app(fed.hub))
    await server.start_server()
    idn.config = dataclasses.replace(idn.config, hub_api_url=str(server.make_url("")))
    try:
        async with aiohttp.ClientSession() as http:
            first = await log_watch.check_receipts(idn, http)
            assert first["included"] >= 4 and first["not_included"] == first["unavailable"] == 0
            assert await log_watch.check_receipts(idn, http) == {"included": 0, "not_included": 0, "unavailable": 0}
            # A receipt for an entry the log does not hold (what a hub that signs receipts for entries
            # it then drops or rewrites hands out), as IDN would have stored it:
            with idn.store.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM log_receipt_checks WHERE message_id = ?", (sent[1].id,))
                receipt = json.loads(conn.exec_driver_sql("SELECT log_receipt FROM messages WHERE message_id = ?",
                                                          (sent[1].id,)).scalar())
                receipt["leaf_hash"] = "00" * 32
                conn.exec_driver_sql("UPDATE messages SET log_receipt = ? WHERE message_id = ?",
                                     (json.dumps(receipt), sent[1].id))
            assert await log_watch.check_receipts(idn, http) == {"included": 0, "not_included": 1, "unavailable": 0}
    finally:
        await server.close()
    [alarm] = [a for a in open_alarms(idn) if a["reason"] == "receipt_not_in_log"]
    assert sent[1].id in alarm["detail"]


async def test_a_running_node_with_a_hub_url_and_peers_watches_the_log_on_its_own(fed: RunningFederation) -> None:
    from nodes.national.api import make_app as node_app

    servers = [TestServer(make_app(fed.hub)), TestServer(node_app(fed.nodes["MEX"]))]
    for server in servers:
        await server.start_server()
    try:
        await fed.nodes.pop("IDN").stop()
        idn = await fed.start_node("IDN", hub_api_url=str(servers[0].make_url("")), log_watch_interval=0.2,
                                   witness_peers={"MEX": str(servers[1].make_url(""))})
        await asyncio.wait_for(idn.session.connected.wait(), 30)
        sent = [await fed.nodes["MEX"].send("note", ["IDN"], body={"text": f"w{i}"}) for i in range(3)]

        def proven() -> bool:
            with idn.store.engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT message_id, verdict FROM log_receipt_checks").all()
            return {m.id for m in sent} <= {r.message_id for r in rows if r.verdict == "included"}

        await eventually(proven, timeout=30, what="IDN's log watch proving its receipts by itself")
        assert open_alarms(idn) == []
    finally:
        for server in servers:
            await server.close()
