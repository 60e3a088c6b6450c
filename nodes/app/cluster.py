"""A private RabbitMQ cluster on this machine: N nodes (own names, data dirs and loopback ports)
that share one Erlang cookie, one epmd and one administrator, joined with `rabbitmqctl
join_cluster`. Every somex queue is a quorum queue, so the federation's mail is replicated on
every node and survives the loss of any one of them (docs/broker.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from broker_config import BrokerSpec, BrokerTls
from nodes.plumbing.private_files import write_private
from nodes.plumbing.rabbit import EPMD, LOOPBACK, BrokerError, PrivateBroker, die_with_parent, free_port, port_open

CLUSTER_FILE = "cluster.json"


class PrivateCluster:
    def __init__(self, state_dir: Path, nodes: list[PrivateBroker], epmd_port: int) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.nodes = nodes
        self.epmd_port = epmd_port
        self._epmd: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, state_dir: Path, size: int, first_amqp_port: int = 0, *,
               tls_for: Callable[[Path], BrokerTls | None] | None = None) -> PrivateCluster:
        """`tls_for(node_dir)` installs a node's TLS material in its directory: then every node listens
        on AMQPS only and takes client certificates (EXTERNAL), as a single broker does. Erlang
        distribution between the nodes stays plain, on loopback (docs/deployment.md)."""
        if size < 3 or size % 2 == 0:
            raise ValueError("a cluster that survives the loss of a node has an odd number of nodes, at least 3")
        epmd_port, tag = free_port(), secrets.token_hex(3)
        nodes = [PrivateBroker(Path(state_dir) / f"n{i}", amqp_port=(first_amqp_port if i == 1 and first_amqp_port
                                                                      else free_port()),
                               mgmt_port=free_port(), dist_port=free_port(), nodename=f"somex-{tag}-n{i}@localhost",
                               epmd_port=epmd_port, tls=tls_for(Path(state_dir) / f"n{i}") if tls_for else None)
                 for i in range(1, size + 1)]
        if len({n.tls is None for n in nodes}) > 1:
            raise ValueError("every node of a cluster serves AMQPS, or none")
        return cls(Path(state_dir), nodes, epmd_port)

    @property
    def tls(self) -> BrokerTls | None:
        """The first node's TLS material (every node has its own copy of the same), None for plain AMQP."""
        return self.nodes[0].tls

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> PrivateCluster:
        record = json.loads((Path(state_dir) / CLUSTER_FILE).read_text())
        return cls(Path(state_dir), [PrivateBroker.from_state_dir(Path(state_dir) / n) for n in record["nodes"]],
                   record["epmd_port"])

    @property
    def amqp_ports(self) -> list[int]:
        return [n.amqp_port for n in self.nodes]

    @property
    def amqp_port(self) -> int:
        return self.nodes[0].amqp_port

    @property
    def more_amqp_ports(self) -> list[int]:
        return self.amqp_ports[1:]

    def start(self, *, stop_with_caller: bool = False) -> None:
        """Start every node, join them to the first, and return once each serves AMQP and HTTP."""
        self._share_secrets()
        preexec = die_with_parent() if stop_with_caller else None
        self._epmd = subprocess.Popen([str(EPMD), "-port", str(self.epmd_port), "-address", LOOPBACK],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True, preexec_fn=preexec)  # noqa: PLW1509
        deadline = time.monotonic() + 5
        while not port_open(self.epmd_port):
            if self._epmd.poll() is not None or time.monotonic() > deadline:
                raise BrokerError(f"epmd did not start on port {self.epmd_port}")
            time.sleep(0.02)
        try:
            seed, *others = self.nodes
            seed.start(stop_with_caller=stop_with_caller)
            for node in others:
                node.start(stop_with_caller=stop_with_caller)
                node.join_cluster(seed)
            members = self.running_members()
            if len(members) != len(self.nodes):
                raise BrokerError(f"the cluster formed with {members}, not all of {[n.nodename for n in self.nodes]}")
        except BaseException:
            self.stop()
            raise
        self._record()

    def _share_secrets(self) -> None:
        """One Erlang cookie and one administrator password for every node (a joining node takes
        the cluster's users, so its own default user would be gone)."""
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        cookie, password = secrets.token_hex(20), secrets.token_urlsafe(24)
        for node in self.nodes:
            home = node.state_dir / "home"
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            for path, text, mode in ((home / ".erlang.cookie", cookie, 0o400),
                                     (node.state_dir / "admin.password", password, 0o600)):
                if not path.exists():
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                    with os.fdopen(fd, "w") as out:
                        out.write(text)

    def running_members(self) -> list[str]:
        """The node names the cluster reports as running, asked of any live node."""
        nodes = self.any_live().api("GET", "/api/nodes?columns=name,running")
        return sorted(n["name"] for n in nodes if n.get("running"))

    def any_live(self) -> PrivateBroker:
        for node in self.nodes:
            if node.pid() is not None and port_open(node.mgmt_port):
                return node
        raise BrokerError(f"no node of the cluster in {self.state_dir} is running")

    def apply(self, spec: BrokerSpec) -> None:
        self.any_live().apply(spec)

    def remove(self, spec: BrokerSpec) -> None:
        self.any_live().remove(spec)

    def delete_vhost(self, vhost: str, users: Any = ()) -> None:
        self.any_live().delete_vhost(vhost, users)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return self.any_live().api(method, path, body)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(BrokerError, OSError):
                node.stop()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run([str(EPMD), "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=10,
                           check=False)
        if self._epmd is not None:
            if self._epmd.poll() is None:
                self._epmd.kill()
            self._epmd.wait(timeout=5)
            self._epmd = None
        if self.state_dir.exists():
            self._record()

    def status(self) -> dict[str, Any]:
        nodes = {n.nodename: n.status() for n in self.nodes}
        try:
            members = self.running_members()
        except BrokerError as exc:
            members, detail = [], str(exc)
        else:
            detail = None
        return {"cluster": True, "running": bool(members), "running_members": members, "nodes": nodes,
                **({"detail": detail} if detail else {})}

    def _record(self) -> None:
        write_private(self.state_dir / CLUSTER_FILE, json.dumps({
            "nodes": [n.state_dir.name for n in self.nodes], "epmd_port": self.epmd_port,
            "amqp_ports": self.amqp_ports}, indent=2) + "\n")


def is_cluster(state_dir: Path) -> bool:
    return (Path(state_dir) / CLUSTER_FILE).exists()
