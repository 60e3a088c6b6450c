"""Hosts that are really separate (issue 15 item 4): the broker and the hub, MEX and IDN each run in
a Linux network namespace of their own, with only their own files, and talk over veth links and
AMQPS. Loopback stays for the rest of the suite.

Network: namespace <broker> holds a bridge at 10.77.0.1/24; MEX (10.77.0.2) and IDN (10.77.0.3)
each reach it over a veth pair. The 10.77.0.0/24 addresses exist only inside the namespaces this
test creates, and every namespace is deleted again (with whatever still runs in it) at teardown.

The root operator's ceremony (key generation, certificates) runs here in the test process as a
stand-in: `somex federation init` writes the whole tree and the test hands each host only its own
files, as the root operator would hand over the public ones. (`somex node init` / `federation
admit`, which make each country's keys on its own host, are another branch's work; once merged,
this test should run them inside each namespace instead.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nodes.runtime.config import utcnow
from nodes.runtime.federation import (
    BROKER_DIR,
    DIRECTORY_FILE,
    REVOCATIONS_FILE,
    TLS_CRL_FILE,
    TLS_KEY_FILE,
    init_federation,
    tls_ca,
    write_tls_pair,
)
from nodes.runtime.rabbit import RABBIT_BIN

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

SUBNET = "10.77.0"
BROKER_ADDRESS = f"{SUBNET}.1"
NODE_HTTP_PORT = 18080  # the same port on both country hosts: they are separate hosts
PUBLIC_FILES = ("root/root.crt", DIRECTORY_FILE, REVOCATIONS_FILE)
PRIVATE_KEY_NAMES = {"signing.key", "sealing.key", "hybrid_sealing.key", "tls.key", "root.key", "tls-ca.key"}


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass
class Hosts:
    """Network namespaces by role ('broker', 'MEX', 'IDN') and the processes started in them."""

    tag: str
    namespaces: dict[str, str] = field(default_factory=dict)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def add(self, role: str) -> str:
        name = f"{self.tag}-{role.lower()}"
        _ip("netns", "add", name)
        self.namespaces[role] = name
        _ip("-n", name, "link", "set", "lo", "up")  # Erlang's epmd and distribution, the node's HTTP API
        return name

    def link(self, role: str, address: str, index: int) -> None:
        """A veth pair from the broker's bridge to `role`'s namespace, `address`/24 on its end."""
        near, far = f"{self.tag}b{index}", f"{self.tag}n{index}"
        _ip("-n", self.namespaces["broker"], "link", "add", near, "type", "veth", "peer", "name", far,
            "netns", self.namespaces[role])
        _ip("-n", self.namespaces["broker"], "link", "set", near, "master", "br0")
        _ip("-n", self.namespaces["broker"], "link", "set", near, "up")
        _ip("-n", self.namespaces[role], "addr", "add", f"{address}/24", "dev", far)
        _ip("-n", self.namespaces[role], "link", "set", far, "up")

    def command(self, role: str, state_dir: Path, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[role], sys.executable, "-m", "nodes.runtime.cli",
                "--state-dir", str(state_dir), *args]

    def run(self, role: str, state_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(role, state_dir, *args), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def spawn(self, role: str, state_dir: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            process = subprocess.Popen(self.command(role, state_dir, *args), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append((role, process))
        return process

    def python(self, role: str, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.namespaces[role], sys.executable, "-c", code],
                              capture_output=True, text=True, timeout=60, check=False)

    def tear_down(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for name in self.namespaces.values():
            # Whatever still runs in a namespace of ours (the broker's VM, its epmd) was started by us.
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout
            for pid in (int(p) for p in pids.split()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(RuntimeError):
                _ip("netns", "delete", name)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 ('ip netns')")
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        pytest.skip("RabbitMQ is not installed (make rabbitmq)")
    result = Hosts(tag=f"sx{os.getpid() % 100000}")
    try:
        try:
            result.add("broker")
        except RuntimeError as exc:
            pytest.skip(f"'ip netns add' is not available here: {exc}")
        _ip("-n", result.namespaces["broker"], "link", "add", "br0", "type", "bridge")
        _ip("-n", result.namespaces["broker"], "addr", "add", f"{BROKER_ADDRESS}/24", "dev", "br0")
        _ip("-n", result.namespaces["broker"], "link", "set", "br0", "up")
        for index, (role, address) in enumerate((("MEX", f"{SUBNET}.2"), ("IDN", f"{SUBNET}.3"))):
            result.add(role)
            result.link(role, address, index)
        yield result
    finally:
        result.tear_down()
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        assert result.tag not in left, f"namespaces left behind: {left}"


def _copy(source: Path, target: Path) -> None:
    """Hand one file over: into the receiving host's directory, private (0700 dirs, 0600 file)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)


def _host_dirs(tmp_path: Path) -> dict[str, Path]:
    """The root operator's ceremony (a stand-in, see the module docstring) and each host's own files."""
    root = tmp_path / "root-operator" / "federation"
    init_federation(root, "somex-netns", ["MEX", "IDN"], utcnow())
    # The broker's server certificate names the address the countries connect to.
    write_tls_pair(root / BROKER_DIR, *tls_ca(root), "broker", utcnow(), server_names=[BROKER_ADDRESS])
    dirs = {role: tmp_path / "hosts" / role for role in ("broker", "MEX", "IDN")}
    for role, home in dirs.items():
        home.mkdir(mode=0o700, parents=True)
        own = ["nodes/HUB", BROKER_DIR] if role == "broker" else [f"nodes/{role}"]
        for name in [*PUBLIC_FILES, *([TLS_CRL_FILE] if role == "broker" else [])]:
            _copy(root / name, home / "federation" / name)
        for folder in own:
            for path in (root / folder).iterdir():
                _copy(path, home / "federation" / folder / path.name)
    return dirs


def _private_keys(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.name in PRIVATE_KEY_NAMES}


def _rows(db: Path, query: str, *params: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute(query, params).fetchall()
    except sqlite3.OperationalError:  # its tables are not created yet
        return []


def _until(probe, timeout: float, what: str, logs: Path):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tails}")


def test_a_note_and_its_receipt_cross_separate_hosts_over_amqps(hosts: Hosts, tmp_path: Path) -> None:
    dirs = _host_dirs(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()

    # Each host holds its own private keys and nothing else's; nobody holds the root's or the TLS CA's.
    assert _private_keys(dirs["broker"]) == {f"federation/nodes/HUB/{k}" for k in
                                             ("signing.key", "sealing.key", "hybrid_sealing.key", TLS_KEY_FILE)} \
        | {f"federation/{BROKER_DIR}/{TLS_KEY_FILE}"}
    for country in ("MEX", "IDN"):
        assert _private_keys(dirs[country]) == {f"federation/nodes/{country}/{k}" for k in
                                                ("signing.key", "sealing.key", "hybrid_sealing.key", TLS_KEY_FILE)}

    up = hosts.run("broker", dirs["broker"], "broker", "up", "--amqp-host", BROKER_ADDRESS)
    assert up.returncode == 0, up.stderr[-3000:]
    deployment = json.loads((dirs["broker"] / "deployment.json").read_text())
    assert deployment["tls"] is True and deployment["amqp_host"] == BROKER_ADDRESS
    amqp_port = deployment["amqp_port"]
    hosts.spawn("broker", dirs["broker"], logs / "HUB.log", "hub", "run")

    # What the hub operator tells each country: the broker's address and port. Nothing secret.
    for country in ("MEX", "IDN"):
        (dirs[country] / "deployment.json").write_text(json.dumps({
            "amqp_port": amqp_port, "vhost": deployment["vhost"], "amqp_host": BROKER_ADDRESS, "tls": True,
            "node_http_ports": {country: NODE_HTTP_PORT}}))
        os.chmod(dirs[country] / "deployment.json", 0o600)
        hosts.spawn(country, dirs[country], logs / f"{country}.log", "node", "run", "--country", country)

    # Across the link: the AMQPS port answers, the broker's management API (loopback there) does not.
    reach = ("import socket,sys\n"
             "def probe(port):\n"
             "    try:\n"
             "        socket.create_connection(('{host}', port), 3).close(); return 'open'\n"
             "    except OSError as exc: return type(exc).__name__\n"
             "print(probe({amqp}), probe({mgmt}))")
    broker_record = json.loads((dirs["broker"] / "broker" / "broker.json").read_text())
    answer = hosts.python("MEX", reach.format(host=BROKER_ADDRESS, amqp=amqp_port, mgmt=broker_record["mgmt_port"]))
    assert answer.stdout.split() == ["open", "ConnectionRefusedError"], answer.stderr

    def sent() -> str | None:
        result = hosts.run("MEX", dirs["MEX"], "send", "--from", "MEX", "--to", "IDN", "--text", "across hosts",
                           timeout=60)
        return json.loads(result.stdout)["id"] if result.returncode == 0 else None

    note_id = _until(sent, 120, "MEX's node to take the note", logs)
    idn_db = dirs["IDN"] / "nodes" / "IDN" / "node.db"
    mex_db = dirs["MEX"] / "nodes" / "MEX" / "node.db"
    _until(lambda: _rows(idn_db, "SELECT sender FROM messages WHERE message_id = ? AND direction = 'in'", note_id)
           == [("MEX",)], 120, "the note at IDN", logs)
    _until(lambda: _rows(mex_db, "SELECT kind FROM receipts WHERE of = ? AND by = 'IDN'", note_id),
           60, "IDN's delivery receipt at MEX", logs)

    # Every AMQP connection the broker saw came over TLS, logged in by certificate, from its own host.
    def connections() -> list[dict]:  # the management statistics lag a little behind the connections
        listed = json.loads(hosts.python("broker", (
            "import json\nfrom nodes.runtime.rabbit import PrivateBroker\nfrom pathlib import Path\n"
            f"print(json.dumps(PrivateBroker.from_state_dir(Path({str(dirs['broker'] / 'broker')!r}))"
            ".api('GET', '/api/connections?columns=user,ssl,auth_mechanism,peer_host')))")).stdout)
        return listed if {c.get("user") for c in listed} == {"HUB", "MEX", "IDN"} else []

    connections = _until(connections, 30, "the hub's and both countries' connections at the broker", logs)
    seen = {c["user"]: c for c in connections}
    assert all(c["ssl"] and c["auth_mechanism"] == "EXTERNAL" for c in connections)
    assert seen["MEX"]["peer_host"] == f"{SUBNET}.2" and seen["IDN"]["peer_host"] == f"{SUBNET}.3"
