"""Integration tests share one private RabbitMQ per session; each test gets its own vhost."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nodes.runtime.postgres import PrivatePostgres
from tests.integration.federation import make_federation
from nodes.runtime.rabbit import PrivateBroker, free_port


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    instance = PrivateBroker(tmp_path_factory.mktemp("rabbitmq"), amqp_port=free_port(), mgmt_port=free_port(),
                             dist_port=free_port(), nodename=f"somex-test-{os.getpid()}@localhost")
    instance.ensure_installed()
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    instance = PrivatePostgres(tmp_path_factory.mktemp("postgres"), free_port())
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
async def fed(broker, tmp_path, request):  # noqa: ANN001, ANN201
    """A running federation (hub, MEX, IDN, ITA) in its own vhost; torn down after the test."""
    federation = make_federation(broker, tmp_path, request.node.name)
    await federation.start_all()
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)
