"""`broker up` never starts a different broker over a recorded one (issue 22, item 2): the refusals,
decided before anything is started (no RabbitMQ needed here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nodes.plumbing.deployment import Deployment
from nodes.app.ceremony import init_federation
from nodes.app.local import BrokerRefused, broker_up
from nodes.plumbing.rabbit import PrivateBroker

NOW = datetime.now(UTC)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    init_federation(tmp_path / "federation", "unit", ["MEX"], NOW)
    return tmp_path


def _record(state: Path, nodename: str = "somex-1@localhost", amqp_port: int = 11001) -> PrivateBroker:
    broker = PrivateBroker(state / "broker", amqp_port=amqp_port, mgmt_port=11002, dist_port=11003,
                           nodename=nodename, epmd_port=11004)
    (state / "broker").mkdir()
    broker._record()  # as a crashed broker leaves it: a record, no process
    (state / "broker" / "mnesia" / nodename).mkdir(parents=True)
    return broker


def test_another_node_names_data_beside_the_record_is_refused(state: Path) -> None:
    _record(state)
    (state / "broker" / "mnesia" / "somex-2@localhost").mkdir()
    with pytest.raises(BrokerRefused, match="somex-2@localhost.*--fresh"):
        broker_up(state)


def test_broker_data_without_a_record_is_refused(state: Path) -> None:
    (state / "broker" / "mnesia" / "somex-9@localhost").mkdir(parents=True)
    with pytest.raises(BrokerRefused, match="no record.*--fresh"):
        broker_up(state)


def test_another_amqp_port_than_the_recorded_one_is_refused(state: Path) -> None:
    _record(state)
    with pytest.raises(BrokerRefused, match="11001, not 11005; ports are fixed once"):
        broker_up(state, amqp_port=11005)


def test_a_deployment_naming_another_broker_is_refused(state: Path) -> None:
    _record(state)
    Deployment(state, 12000, node_http_ports={"MEX": 12001}).save()
    with pytest.raises(BrokerRefused, match="names AMQP port 12000 but the broker recorded"):
        broker_up(state)


def test_a_cluster_for_a_single_broker_is_refused(state: Path) -> None:
    _record(state)
    with pytest.raises(BrokerRefused, match="1-node broker, not the 3-node one"):
        broker_up(state, cluster=3)
