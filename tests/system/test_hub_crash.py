"""A hub process killed with SIGKILL in the middle of a stream of 10,000 messages: nothing acked is
lost, nothing is applied twice, and the audit log it restarts with verifies."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from crypto.audit_bundle import verify_bundle
from crypto.merkle import leaf_hash
from nodes.hub.audit import AuditStore
from nodes.hub.export import export_bundle
from nodes.hub.relay import log_origin
from nodes.national.store import messages as message_table
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from tests.integration.federation import eventually, make_federation, stored_count, stream_alerts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]
TOTAL = 10_000


async def test_hub_killed_mid_stream_restarts_with_a_verifying_log_and_loses_nothing(broker, tmp_path) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, "hub-crash", countries=["MEX", "IDN"])
    Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost).save()
    logfile = open(tmp_path / "hub.log", "ab")  # noqa: SIM115

    def spawn_hub() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(tmp_path), "hub", "run"],
                                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)

    hub = spawn_hub()
    try:
        mex, idn = await fed.start_node("MEX"), await fed.start_node("IDN")
        sent = await stream_alerts(mex, "IDN", TOTAL, "P")

        def delivered() -> int:
            return stored_count(idn, "alert.document")

        await eventually(lambda: delivered() >= 300, timeout=60, what="the stream under way")
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        at_kill = delivered()
        assert at_kill < TOTAL, "the hub must die mid-stream for this test to mean anything"
        hub = spawn_hub()
        await eventually(lambda: delivered() == TOTAL, timeout=240, what="every message after the restart")
        await asyncio.sleep(1.5)  # a late duplicate would show up here
        assert delivered() == TOTAL
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0
    finally:
        if hub.poll() is None:
            hub.kill()
        await fed.stop_all()
        fed.delete(broker)

    creds = fed.federation.credentials("HUB")
    origin = log_origin(fed.federation.directory.federation)
    store = AuditStore(make_engine(f"sqlite:///{tmp_path / 'hub' / 'audit.db'}"), origin, creds.signing_key, origin)
    accepted = [e for e in store.trail(type="alert.document", limit=10 * TOTAL)]
    assert sorted(e["message_id"] for e in accepted) == sorted(sent)  # each in the log exactly once
    with idn.store.engine.connect() as conn:
        receipts = conn.execute(select(message_table.c.log_index, message_table.c.log_receipt)
                                .where(message_table.c.type == "alert.document")).all()
    for index, receipt in receipts:  # what each delivery was told is what the log holds
        assert json.loads(receipt)["leaf_hash"] == leaf_hash(store.entry(index)["leaf"]).hex()
    store.sign_checkpoint("2026-01-01T00:00:00.000000Z")
    bundle = export_bundle(store, (fed.federation.path / "directory.signed.json").read_bytes())
    # quorum=0: the checkpoint just signed here has no witness yet; what is checked is the log's integrity
    report = verify_bundle(json.loads(json.dumps(bundle)), fed.federation.root_cert, quorum=0)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert report.tree_size == store.size
