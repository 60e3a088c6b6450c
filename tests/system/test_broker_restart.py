"""Issue 22, item 2: a SIGKILLed broker comes back as itself with `somex broker up` (same node name,
data and ports), the hub and nodes reconnect by themselves, and the quorum queues keep their mail."""

from __future__ import annotations

import json
import os
import signal

import aiohttp
import pytest

from nodes.plumbing.rabbit import _is_alive
from tests.integration.federation import eventually
from tests.system.cli_federation import CliFederation

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
QUEUED = 500


def _inbox_depth(fed: CliFederation, country: str) -> int:
    return fed.broker.status(vhost=fed.deployment["vhost"]).get("queues", {}).get(f"node.{country}.inbox", -1)


async def test_sigkilled_broker_comes_back_as_itself_and_delivers_every_queued_message_once(tmp_path) -> None:  # noqa: ANN001
    fed = CliFederation(tmp_path)
    try:
        fed.must("federation", "init", "--countries", "MEX,IDN")
        fed.must("broker", "up")
        deployment_before = (fed.state / "deployment.json").read_bytes()
        record_before = json.loads((fed.state / "broker" / "broker.json").read_text())
        fed.start_hub()
        fed.start_node("MEX")
        async with aiohttp.ClientSession() as session:
            for name in ("HUB", "MEX"):
                await fed.wait_linked(session, name)
            # IDN is away: everything the hub forwards to it waits in its quorum queue.
            ids = await fed.send_notes(session, "MEX", "IDN", [f"note {i}" for i in range(QUEUED)])
            await eventually(lambda: fed.forwarded_notes() == QUEUED, timeout=120,
                             what=f"{QUEUED} notes audited and forwarded (confirmed) to node.IDN.inbox")
            await eventually(lambda: _inbox_depth(fed, "IDN") >= QUEUED, timeout=30,
                             what=f"{QUEUED} notes (and checkpoints) waiting in node.IDN.inbox")

            beam = fed.broker.pid()
            assert beam is not None
            os.kill(beam, signal.SIGKILL)
            await eventually(lambda: not _is_alive(beam), timeout=30, what="the broker's VM gone")
            for name in ("HUB", "MEX"):  # the link shows down on /api/health while the broker is away
                await fed.wait_linked(session, name, linked=False, timeout=60)

            fed.must("broker", "up")
            assert (fed.state / "deployment.json").read_bytes() == deployment_before, "ports are fixed once"
            record_after = json.loads((fed.state / "broker" / "broker.json").read_text())
            for key in ("nodename", "amqp_port", "mgmt_port", "dist_port", "epmd_port"):
                assert record_after[key] == record_before[key], key
            assert record_after["pid"] != beam

            hub_pid, mex_pid = fed.processes["HUB"].pid, fed.processes["MEX"].pid
            for name in ("HUB", "MEX"):  # by themselves: never restarted
                await fed.wait_linked(session, name, timeout=60)
            assert (fed.processes["HUB"].pid, fed.processes["MEX"].pid) == (hub_pid, mex_pid)
            assert fed.processes["HUB"].poll() is None and fed.processes["MEX"].poll() is None

            fed.start_node("IDN")
            await eventually(lambda: len(fed.stored_notes("IDN")) >= QUEUED, timeout=180,
                             what=f"all {QUEUED} queued notes stored at IDN")
            await eventually(lambda: _inbox_depth(fed, "IDN") == 0, timeout=60,
                             what="IDN's inbox drained (every note acknowledged)")
            stored = fed.stored_notes("IDN")
            assert len(stored) == QUEUED and set(stored) == set(ids)
            assert fed.forwarded_notes() == QUEUED  # nothing audited or forwarded twice
        for name in ("HUB", "MEX"):  # the outage was told at WARNING, with what to do
            warnings = [json.loads(line) for line in (fed.logs / f"{name}.log").read_text().splitlines()
                        if line.startswith("{") and '"warning"' in line]
            assert any("somex broker up" in w.get("action", "") for w in warnings), name
    finally:
        fed.close()


def test_broker_up_refuses_another_brokers_data_unless_fresh(tmp_path) -> None:  # noqa: ANN001
    fed = CliFederation(tmp_path)
    try:
        fed.must("federation", "init", "--countries", "MEX")
        stranger = fed.state / "broker" / "mnesia" / "rabbit-elsewhere@localhost"
        stranger.mkdir(parents=True)
        (stranger / "quorum").mkdir()

        refused = fed.somex("broker", "up")
        assert refused.returncode == 2
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "--fresh" in lines[0] and "no record" in lines[0], refused.stderr
        assert stranger.is_dir() and not (fed.state / "deployment.json").exists()

        fed.must("broker", "up", "--fresh")
        assert not stranger.exists()
        first = fed.deployment
        fed.must("broker", "down")
        assert fed.somex("broker", "up", "--amqp-port", str(first["amqp_port"] + 1)).returncode == 2
        fed.must("broker", "up")
        assert fed.deployment == first
    finally:
        fed.close()
