"""A federation under test: fresh PKI, its own vhost on the session's private RabbitMQ, and the
hub and national nodes running in the test's event loop (real broker, real SQLite files)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
from sqlalchemy import func, select

import broker_config
from broker_config import InboxBounds
from nodes.hub.relay import Hub
from nodes.national.node import NationalNode
from nodes.national.store import messages as message_table
from nodes.plumbing.amqp import amqp_url, open_connection
from nodes.plumbing.config import BrokerAddress, HubConfig, NodeConfig, utcnow
from nodes.plumbing.deployment import broker_spec
from nodes.plumbing.federation import Federation, load_federation
from nodes.app.ceremony import init_federation

COUNTRIES = ["MEX", "IDN", "ITA"]


async def eventually(probe: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll `probe` (sync or async) until it returns something truthy, or fail saying what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class RunningFederation:
    path: Path
    vhost: str
    amqp_port: int
    federation: Federation
    more_ports: tuple[int, ...] = ()  # the other nodes of a broker cluster
    tls: bool = False  # an AMQPS broker: hub and nodes log in with their TLS certificates
    hub: Hub | None = None
    nodes: dict[str, NationalNode] = field(default_factory=dict)
    node_db: Callable[[str], str] | None = None  # country → database URL; default: an SQLite file in path

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.amqp_port, self.vhost, self.more_ports, tls=self.tls)

    def hub_config(self, **overrides: Any) -> HubConfig:
        return HubConfig(self.path / "federation", f"sqlite:///{self.path / 'audit.db'}", self.address, **overrides)

    def node_config(self, country: str, **overrides: Any) -> NodeConfig:
        return NodeConfig(country, self.path / "federation", self.node_db_url(country), self.address, **overrides)

    def node_db_url(self, country: str) -> str:
        if self.node_db is None:
            return f"sqlite:///{self.path / f'{country}.db'}"
        return self.node_db(country)

    async def start_hub(self, **overrides: Any) -> Hub:
        self.hub = Hub(self.hub_config(**overrides), self.federation)
        await self.hub.start()
        return self.hub

    async def start_node(self, country: str, **overrides: Any) -> NationalNode:
        node = NationalNode(self.node_config(country, **overrides), self.federation)
        await node.start()
        self.nodes[country] = node
        return node

    async def start_all(self) -> None:
        await self.start_hub()
        for country in self.federation.directory.node_ids():
            await self.start_node(country)
        await self.hub.wait_connected()
        for node in self.nodes.values():
            await asyncio.wait_for(node.session.connected.wait(), 30)

    async def stop_all(self) -> None:
        for node in self.nodes.values():
            await node.stop()
        self.nodes.clear()
        if self.hub is not None:
            await self.hub.stop()
            self.hub = None

    def url_for(self, node_id: str) -> str:
        creds = self.federation.credentials(node_id)
        return amqp_url("127.0.0.1", self.amqp_port, self.vhost, creds.broker_user, creds.broker_password)

    async def publish_raw(self, as_country: str, body: bytes, routing_key: str | None = None) -> None:
        """Publish bytes to hub.in with a country's broker credentials, as a (faulty) node would."""
        creds = self.federation.credentials(as_country)
        connection = await open_connection(self.url_for(as_country), timeout=10)
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.get_exchange(broker_config.HUB_IN_EXCHANGE, ensure=False)
            await exchange.publish(aio_pika.Message(body, user_id=creds.broker_user, message_id="raw"),
                                   routing_key=routing_key or as_country, mandatory=True)

    def delete(self, broker: Any) -> None:
        users = [self.federation.directory.node(n).broker_user for n in self.federation.directory.node_ids(False)]
        broker.delete_vhost(self.vhost, users)

    def inbox(self, country: str, **query: Any) -> list:
        return self.nodes[country].store.list(direction="in", **query)

    def audit(self, **query: Any) -> list[dict]:
        assert self.hub is not None
        return self.hub.store.trail(**query)


async def stream_alerts(sender: NationalNode, recipient: str, total: int, prefix: str) -> list[str]:
    """Queue `total` alerts from `sender` to `recipient` in the sender's outbox; their ids in order."""
    sent: list[str] = []
    for _ in range(0, total, 250):
        chunk = [sender.build("alert.document", [recipient], body={
            "document_number": f"{prefix}{len(sent) + i:08d}", "document_type": "passport",
            "issuing_country": sender.country, "status": "lost", "action": "create", "reported": "2026-11-20",
        }) for i in range(min(250, total - len(sent)))]
        await sender.submit(chunk)
        sent += [e.id for e in chunk]
    return sent


def stored_count(node: NationalNode, type: str) -> int:
    """How many messages of `type` the node has stored (each id once: the primary key)."""
    with node.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(message_table)
                            .where(message_table.c.type == type)).scalar_one()


def vhost_for(test_name: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9]+", "-", test_name)[-60:].strip("-")


def make_federation(broker: Any, tmp_path: Path, test_name: str, countries: list[str] = COUNTRIES,
                    inbox_bounds: InboxBounds | None = None, issued: datetime | None = None,
                    allowed_types: dict[str, set[str]] | None = None) -> RunningFederation:
    """`issued`: when the root made the federation (default now; earlier lets a slow clock start);
    `allowed_types`: members' types other than the catalog's (a directory signed before a class existed)."""
    vhost = vhost_for(test_name)
    init_federation(tmp_path / "federation", "somex-test", countries, issued or utcnow(),
                    broker_user_prefix=f"{vhost}.", allowed_types=allowed_types)
    federation = load_federation(tmp_path / "federation", utcnow())
    broker.apply(broker_spec(federation, vhost, inbox_bounds))
    server = NODE_DATABASES.server  # SOMEX_TEST_NODE_DB=postgresql (tests/integration/conftest.py)
    node_db = None if server is None else _databases_on(server, vhost)
    return RunningFederation(tmp_path, vhost, broker.amqp_port, federation,
                             tuple(getattr(broker, "more_amqp_ports", ())), node_db=node_db)


def _databases_on(server: Any, vhost: str) -> Callable[[str], str]:
    """One database per node and test on `server`, kept across the node's restarts."""
    made: dict[str, str] = {}

    def url(country: str) -> str:
        if country not in made:
            made[country] = server.create_database(f"{vhost}-{country}".lower().replace("-", "_")[-63:])
        return made[country]

    return url


class NODE_DATABASES:  # noqa: N801 - a switch set once per session
    """Where the nodes of `make_federation` keep their databases: None = SQLite files (default);
    a PrivatePostgres when the suite runs with SOMEX_TEST_NODE_DB=postgresql."""

    server: Any = None
