"""A standby hub (single active consumer on hub.in, the audit log in PostgreSQL) takes over when
the active hub is killed: every message is delivered once and the log stays one Merkle log."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest

import broker_config
from crypto.audit_bundle import verify_bundle
from nodes.hub.audit import AuditStore
from nodes.hub.export import export_bundle
from nodes.hub.relay import log_origin
from nodes.national.witness import open_alarms
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from tests.integration.federation import eventually, make_federation, stored_count, stream_alerts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]
TOTAL = 3000


async def test_standby_hub_takes_over_from_a_killed_hub_and_the_log_stays_one(broker, postgres, tmp_path) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, "hub-standby", countries=["MEX", "IDN"])
    Deployment(tmp_path, broker.amqp_port, vhost=fed.vhost).save()
    db_url = postgres.create_database("hub_standby")
    logfile = open(tmp_path / "hubs.log", "ab")  # noqa: SIM115
    hub_in = f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.HUB_IN_QUEUE}"

    def spawn_hub() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(tmp_path),
                                 "hub", "run", "--db", db_url],
                                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)

    def consumers() -> int:
        return broker.api("GET", hub_in).get("consumers", 0)

    active = spawn_hub()
    await eventually(lambda: consumers() == 1, timeout=60, what="the first hub consuming hub.in")
    standby = spawn_hub()  # registers second: single active consumer keeps it waiting
    await eventually(lambda: consumers() == 2, timeout=60, what="the standby hub waiting on hub.in")
    try:
        mex, idn = await fed.start_node("MEX"), await fed.start_node("IDN")
        sent = await stream_alerts(mex, "IDN", TOTAL, "S")

        def delivered() -> int:
            return stored_count(idn, "alert.document")

        await eventually(lambda: delivered() >= 300, timeout=60, what="the stream under way")
        active.send_signal(signal.SIGKILL)
        active.wait()
        assert delivered() < TOTAL, "the active hub must die mid-stream for this test to mean anything"
        await eventually(lambda: delivered() == TOTAL, timeout=240, what="every message through the standby")
        await asyncio.sleep(3)  # a late duplicate, or the standby's first checkpoint, shows up here
        assert delivered() == TOTAL
        for node in (mex, idn):  # witnesses saw one consistent log across the takeover
            assert open_alarms(node) == []
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=30) == 0
    finally:
        for process in (active, standby):
            if process.poll() is None:
                process.kill()
        await fed.stop_all()
        fed.delete(broker)

    creds = fed.federation.credentials("HUB")
    origin = log_origin(fed.federation.directory.federation)
    store = AuditStore(make_engine(db_url), origin, creds.signing_key, origin)
    accepted = store.trail(type="alert.document", limit=10 * TOTAL)
    assert sorted(e["message_id"] for e in accepted) == sorted(sent)  # each in the one log exactly once
    store.sign_checkpoint("2026-01-01T00:00:00.000000Z")
    bundle = export_bundle(store, (fed.federation.path / "directory.signed.json").read_bytes())
    # quorum=0: the checkpoint just signed here has no witness yet; what is checked is the log's integrity
    report = verify_bundle(json.loads(json.dumps(bundle)), fed.federation.root_cert, quorum=0)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert report.tree_size == store.size
