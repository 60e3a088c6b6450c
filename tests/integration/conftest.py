"""Integration tests share one private RabbitMQ per session; each test gets its own vhost."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator

import pytest

from broker_config import BrokerSpec, BrokerUser
from tests.support.postgres import PrivatePostgres
from nodes.plumbing.rabbit import PrivateBroker, free_port
from tests.integration.federation import NODE_DATABASES, make_federation

SPEC_NODES = ("MEX", "IDN", "ITA")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    """The session's private RabbitMQ (loopback ports, own epmd); stopped at the end, whatever happens.

    `stop_with_caller`: if the test process is killed outright, the kernel stops the broker too.
    """
    PrivateBroker.ensure_installed()
    instance = PrivateBroker(tmp_path_factory.mktemp("rabbitmq"), amqp_port=free_port(), mgmt_port=free_port(),
                             dist_port=free_port(), nodename=f"somex-test-{os.getpid()}@localhost")
    instance.start(stop_with_caller=True)  # cleans up after itself if it fails
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def broker_spec(broker: PrivateBroker, request: pytest.FixtureRequest) -> Iterator[BrokerSpec]:
    """A federation's topology in a vhost of this test's own: a hub user and nodes MEX, IDN, ITA.

    The vhost is named after the test (traceable in the broker) and user names start with it,
    so tests never share anything; vhost and users are deleted afterwards.
    """
    vhost = _vhost_for(request.node)
    spec = BrokerSpec(
        vhost=vhost,
        hub_user=BrokerUser(f"{vhost}.hub", secrets.token_urlsafe(18)),
        nodes={node_id: BrokerUser(f"{vhost}.{node_id}", secrets.token_urlsafe(18)) for node_id in SPEC_NODES},
    )
    broker.apply(spec)
    try:
        yield spec
    finally:
        broker.remove(spec)


def _vhost_for(item: pytest.Item) -> str:
    module = item.path.stem if getattr(item, "path", None) else "test"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{module}.{item.name}").strip("-")
    return "t-" + name[-90:]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    instance = PrivatePostgres(tmp_path_factory.mktemp("postgres"), free_port())
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session", autouse=True)
def node_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """SOMEX_TEST_NODE_DB=postgresql: every node of make_federation keeps its tables on the
    session's private PostgreSQL (a database per node and test) instead of an SQLite file."""
    engine = os.environ.get("SOMEX_TEST_NODE_DB", "sqlite")
    if engine not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"SOMEX_TEST_NODE_DB={engine}: use sqlite or postgresql")
    if engine == "postgresql":
        NODE_DATABASES.server = request.getfixturevalue("postgres")
    yield
    NODE_DATABASES.server = None


@pytest.fixture
async def fed(broker, tmp_path, request):
    """A running federation (hub, MEX, IDN, ITA) in its own vhost; torn down after the test."""
    federation = make_federation(broker, tmp_path, request.node.name)
    await federation.start_all()
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)
