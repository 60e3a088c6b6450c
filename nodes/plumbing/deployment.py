"""Where a local federation's pieces live: the state directory and its deployment.json.

Layout of a state dir (default `.somex/`):
  federation/      keys, certificates, signed directory (nodes.plumbing.federation)
  broker/          the private RabbitMQ's data, logs and broker.json (nodes.plumbing.rabbit)
  deployment.json  broker address and vhost, each process's HTTP port
  hub/audit.db, nodes/<ID>/node.db
Every directory is 0700 and every file 0600 (nodes.plumbing.private_files).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from broker_config import BrokerSpec, BrokerUser, InboxBounds
from nodes.plumbing.api_client import api_base
from nodes.plumbing.config import BrokerAddress, HubConfig, NodeConfig, node_config_features
from nodes.plumbing.federation import Federation
from nodes.plumbing.private_files import private_dir, write_private
from nodes.plumbing.storage_check import UnreadableStorage, read_json_file
from protocol.policy import HUB_ID


@dataclass
class Deployment:
    state_dir: Path
    amqp_port: int
    vhost: str = "somex"
    hub_http_port: int = 0
    node_http_ports: dict[str, int] = field(default_factory=dict)
    more_amqp_ports: list[int] = field(default_factory=list)  # the other nodes of a broker cluster
    heartbeat: int | None = None  # AMQP heartbeat seconds (None: the broker's default)
    tls: bool = False  # AMQPS with client certificates (every broker `broker up` starts from a new federation)
    amqp_host: str = "127.0.0.1"  # where the broker listens; a name in its TLS certificate

    @property
    def federation_dir(self) -> Path:
        return self.state_dir / "federation"

    @property
    def broker(self) -> BrokerAddress:
        return BrokerAddress(self.amqp_host, self.amqp_port, self.vhost, tuple(self.more_amqp_ports),
                             heartbeat=self.heartbeat, tls=self.tls)

    def save(self) -> None:
        data = asdict(self)
        data.pop("state_dir")
        private_dir(self.state_dir)
        write_private(self.state_dir / "deployment.json", json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> Deployment:
        path = state_dir / "deployment.json"
        if not path.exists():
            if not (state_dir / "federation").is_dir():
                raise SystemExit(f"no federation in {state_dir}: run 'somex federation init --countries MEX,IDN "
                                 f"--state-dir {state_dir}', then 'somex broker up --state-dir {state_dir}'")
            raise SystemExit(f"{path} not found: run 'somex broker up --state-dir {state_dir}' first")
        recovery = ("restore it from the latest backup (docs/recovery.md), or delete it and run 'somex broker up' "
                    "(the broker keeps its ports; the hub and the nodes get new HTTP ports)")
        record = read_json_file(path, "deployment record", recovery)
        try:
            return cls(state_dir=state_dir, **record)
        except TypeError as exc:  # not an object, or fields this version does not know
            raise UnreadableStorage("deployment record", path, f"unexpected content ({exc})", recovery) from None

    def hub_config(self) -> HubConfig:
        private_dir(self.state_dir / "hub")
        return HubConfig(self.federation_dir, f"sqlite:///{self.state_dir / 'hub' / 'audit.db'}",
                         self.broker, http_port=self.hub_http_port,
                         api_record=self.state_dir / "hub" / "api-endpoint.json")

    def node_config(self, country: str) -> NodeConfig:
        home = self.state_dir / "nodes" / country
        private_dir(home.parent)  # tightens an older deployment's nodes/ too
        private_dir(home)
        # Each node compares its witnessed checkpoints with every other node's (docs/audit-log.md).
        # The URLs the hub and peers recorded when they started serving (HTTPS if they do), else plain HTTP.
        peers = {c: _origin(api_base(self.state_dir, c, port)) for c, port in self.node_http_ports.items()
                 if c != country and port}
        return NodeConfig(country, self.federation_dir, f"sqlite:///{home / 'node.db'}", self.broker,
                          http_port=self.node_http_ports.get(country, 0),
                          hub_api_url=(_origin(api_base(self.state_dir, "HUB", self.hub_http_port))
                                       if self.hub_http_port else None),
                          witness_peers=peers, evidence_dir=home / "evidence",
                          api_record=home / "api-endpoint.json")


NODE_CONFIG_FILE = "node-config.json"  # STATE_DIR/nodes/<ID>/: the node's own settings ("features")


def read_node_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """The per-feature settings of a node config file (nodes.plumbing.config.node_config_features);
    UnreadableStorage if it cannot be read or parsed, BadNodeConfig for another shape."""
    return node_config_features(read_json_file(path, "node config file", "fix its JSON (docs/adding-a-message-class.md)"))


def _origin(api_url: str) -> str:
    """`https://host:port` of an API base URL `https://host:port/api`."""
    return api_url.removesuffix("/api")


def broker_spec(federation: Federation, vhost: str, inbox_bounds: InboxBounds | None = None, *,
                tls: bool = False) -> BrokerSpec:
    """The broker users and permissions a federation needs (one user per node and the hub).

    With `tls` the users have no password: they log in by certificate only, user = CN = node id.
    """
    def user(node_id: str) -> BrokerUser:
        entry = federation.directory.node(node_id)
        if tls:
            if entry.broker_user != node_id:
                raise ValueError(f"{node_id}'s broker user is {entry.broker_user!r}: on an AMQPS broker it must be "
                                 f"the node id, the CN of its TLS certificate")
            return BrokerUser(node_id)
        creds = federation.credentials(node_id)
        return BrokerUser(creds.broker_user, creds.broker_password)

    return BrokerSpec(vhost=vhost, hub_user=user(HUB_ID),
                      nodes={c: user(c) for c in federation.directory.node_ids()},
                      inbox_bounds=inbox_bounds or InboxBounds())
