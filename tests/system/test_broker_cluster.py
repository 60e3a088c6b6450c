"""A three-node RabbitMQ cluster on this machine: the broker node every client is connected to is
killed in the middle of traffic, and nothing is lost, delivered twice or left out of the log."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

import broker_config
from nodes.app.cluster import PrivateCluster
from nodes.plumbing.rabbit import PrivateBroker
from tests.integration.federation import eventually, make_federation, stored_count, stream_alerts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
TOTAL = 3000


@pytest.fixture
def cluster(tmp_path):  # noqa: ANN001, ANN201
    PrivateBroker.ensure_installed()
    instance = PrivateCluster.create(tmp_path / "broker", 3)
    instance.start(stop_with_caller=True)
    try:
        yield instance
    finally:
        instance.stop()


async def test_killing_a_broker_node_mid_traffic_loses_and_duplicates_nothing(cluster, tmp_path) -> None:  # noqa: ANN001
    fed = make_federation(cluster, tmp_path, "cluster", countries=["MEX", "IDN"])
    inbox = cluster.api("GET", f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.inbox_queue('IDN')}")
    assert len(inbox["members"]) == 3  # a quorum queue replicated on every broker node
    await fed.start_hub()
    mex, idn = await fed.start_node("MEX"), await fed.start_node("IDN")
    try:
        sent = await stream_alerts(mex, "IDN", TOTAL, "C")

        def delivered() -> int:
            return stored_count(idn, "alert.document")

        await eventually(lambda: delivered() >= 300, timeout=60, what="traffic under way")
        cluster.nodes[0].kill()  # every client's first broker address: all of them must move
        assert delivered() < TOTAL, "the broker node must die mid-stream for this test to mean anything"
        await eventually(lambda: delivered() == TOTAL, timeout=300,
                         what=f"every alert after losing a broker node (delivered: {delivered()} when this began)")
        await asyncio.sleep(2)  # a late duplicate would show up here
        assert delivered() == TOTAL
        assert len(cluster.running_members()) == 2
        accepted = [e["message_id"] for e in fed.audit(type="alert.document", verdict="accepted", limit=10 * TOTAL)]
        assert sorted(accepted) == sorted(sent)  # each in the log exactly once
    finally:
        await fed.stop_all()
        fed.delete(cluster)
