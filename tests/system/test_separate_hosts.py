"""Hosts that are really separate (issue 15 item 4): the root operator, the broker and the hub, MEX,
IDN and later FRA each run in a Linux network namespace of their own, with only their own
directory, and every step a party takes is a `somex` command run inside its namespace:

- the root operator (a namespace with no link at all: offline) creates the root and admits each
  join request; the hub's host and each country make their keys with `somex node init`, and the
  join request travels to the root by file copy (the courier); the fingerprint the node printed
  must be the one `federation admit` prints; each host installs its admission bundle, checking the
  root's fingerprint;
- the hub and the countries exchange over veth links and AMQPS; then, while everything runs: a
  third country is admitted live, a key is revoked (`federation revoke` + `federation publish`)
  and a key is rotated (`node init --rotation`, `admit --rotation`);
- at the end every file of the hub's host is scanned: no country's private key is there.

Network: namespace <broker> holds a bridge at 10.77.0.1/24; MEX (.2), IDN (.3) and FRA (.4) each
reach it over a veth pair; the root's namespace has only loopback. The 10.77.0.0/24 addresses exist
only inside the namespaces this test creates, and every namespace is deleted again (with whatever
still runs in it) at teardown.

The broker's TLS key is made on its host (`broker tls-request`), the root signs the request
(`federation sign-server`) and the broker host installs the chain (`broker tls-install`). One
stand-in: messages "in flight" signed by an old or a revoked key are signed and published by a
short Python program on the sender's own host, with its own files.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crypto.keys import kid_of
from crypto.pki import cert_from_pem
from nodes.plumbing.config import utcnow
from nodes.app.ceremony import SERVER_REQUEST_FILE
from nodes.plumbing.federation import BROKER_DIR, DIRECTORY_FILE, REVOCATIONS_FILE, TLS_CRL_FILE
from nodes.plumbing.rabbit import RABBIT_BIN

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

SUBNET = "10.77.0"
BROKER_ADDRESS = f"{SUBNET}.1"
COUNTRY_ADDRESSES = {"MEX": f"{SUBNET}.2", "IDN": f"{SUBNET}.3", "FRA": f"{SUBNET}.4"}
NODE_HTTP_PORT = 18080  # the same port on every country host: they are separate hosts
GOAL_SECONDS = 5.0
ROTATION_OVERLAP = timedelta(seconds=30)  # long enough for the in-flight messages on a loaded machine
COUNTRY_KEY_NAMES = ("signing.key", "sealing.key", "hybrid_sealing.key", "tls.key", "signing.next.key",
                     "tls.next.key")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass
class Hosts:
    """Network namespaces by role ('root', 'broker', 'MEX', ...), each host's own directory, and
    the processes started in them."""

    tag: str
    tmp: Path
    namespaces: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def add(self, role: str) -> Path:
        name = f"{self.tag}-{role.lower()}"
        _ip("netns", "add", name)
        self.namespaces[role] = name
        _ip("-n", name, "link", "set", "lo", "up")  # Erlang's epmd and distribution, the HTTP APIs
        home = self.home(role)
        home.mkdir(mode=0o700, parents=True)
        return home

    def home(self, role: str) -> Path:
        return self.tmp / "hosts" / role

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    def link(self, role: str, address: str) -> None:
        """A veth pair from the broker's bridge to `role`'s namespace, `address`/24 on its end."""
        index = len([r for r in self.namespaces if r not in ("root", "broker")])
        near, far = f"{self.tag}b{index}", f"{self.tag}n{index}"
        _ip("-n", self.namespaces["broker"], "link", "add", near, "type", "veth", "peer", "name", far,
            "netns", self.namespaces[role])
        _ip("-n", self.namespaces["broker"], "link", "set", near, "master", "br0")
        _ip("-n", self.namespaces["broker"], "link", "set", near, "up")
        _ip("-n", self.namespaces[role], "addr", "add", f"{address}/24", "dev", far)
        _ip("-n", self.namespaces[role], "link", "set", far, "up")

    def _command(self, role: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[role], sys.executable, "-m", "nodes.app.cli",
                "--state-dir", str(self.home(role)), *args]

    def somex(self, role: str, *args: str, timeout: float = 180) -> str:
        """Run one somex command as `role`'s operator on its host; its stdout (it must succeed)."""
        result = subprocess.run(self._command(role, *args), capture_output=True, text=True, timeout=timeout,
                                check=False)
        assert result.returncode == 0, f"{role}: somex {' '.join(args)}\n{result.stdout}\n{result.stderr[-3000:]}"
        return result.stdout

    def somex_together(self, calls: list[tuple[str, tuple[str, ...]]], timeout: float = 180) -> list[str]:
        """Steps of different parties at the same time (each on its own host); their stdouts."""
        started = [(role, args, subprocess.Popen(self._command(role, *args), stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)) for role, args in calls]
        outputs = []
        for role, args, process in started:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"{role}: somex {' '.join(args)}\n{out}\n{err[-3000:]}"
            outputs.append(out)
        return outputs

    def try_somex(self, role: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._command(role, *args), capture_output=True, text=True, timeout=timeout,
                              check=False)

    def spawn(self, role: str, *args: str) -> None:
        self.logs.mkdir(exist_ok=True)
        with open(self.logs / f"{role}.log", "ab") as out:
            self.processes[role] = subprocess.Popen(self._command(role, *args), stdout=out, stderr=subprocess.STDOUT,
                                                    start_new_session=True)

    def stop(self, role: str) -> None:
        process = self.processes.pop(role)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    def python(self, role: str, code: str, *args: str) -> str:
        result = subprocess.run(["ip", "netns", "exec", self.namespaces[role], sys.executable, "-c", code, *args],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{role}: {result.stderr[-3000:]}"
        return result.stdout

    def tear_down(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
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

    def until(self, probe: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.1)
        tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                          for p in sorted(self.logs.glob("*.log")))
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tails}")


def _printed(output: str, label: str) -> str:
    """The value a somex command printed after `label` ... ': '."""
    found = re.search(rf"^{re.escape(label)}[^\n]*?: ([0-9a-f ]+)$", output, re.MULTILINE)
    assert found, f"no {label!r} in:\n{output}"
    return found.group(1).strip()


def _courier(source: Path, target: Path) -> Path:
    """A file carried from one party to another (public content: e-mail, a USB stick)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    return target


@dataclass
class Federation:
    hosts: Hosts
    root_fingerprint: str
    amqp_port: int
    vhost: str
    told: dict[str, str] = field(default_factory=dict)  # the request fingerprints each node printed

    @property
    def root(self) -> Path:
        return self.hosts.home("root")

    def fed_dir(self, role: str) -> Path:
        return self.hosts.home(role) / "federation"

    def node_home(self, role: str, country: str | None = None) -> Path:
        return self.fed_dir(role) / "nodes" / (country or role)

    def init_args(self, role: str, country: str, *, rotation: bool = False) -> tuple[str, ...]:
        return ("node", "init", "--country", country, "--out", str(self.fed_dir(role)),
                "--contact-organisation", f"{country} focal point", *(["--rotation"] if rotation else []))

    def install_args(self, role: str, country: str, bundle: Path) -> tuple[str, ...]:
        return ("node", "install-admission", str(bundle), "--country", country, "--dir", str(self.fed_dir(role)),
                "--root-fingerprint", self.root_fingerprint)

    def admit(self, role: str, country: str, printed: str, *extra: str) -> Path:
        """The join request `node init` wrote (`printed`: what it printed) carried to the root,
        `federation admit` there, the bundle carried back: its path on the host (not installed yet)."""
        told = _printed(printed, "join request fingerprint")
        request = _courier(self.node_home(role, country) / "join-request.json",
                           self.root / "requests" / f"{country}-{len(self.told)}.json")
        admitted = self.hosts.somex("root", "federation", "admit", str(request), "--root", str(self.root), *extra)
        self.told[f"{country}-{len(self.told)}"] = told
        assert _printed(admitted, "join request fingerprint") == told  # read out over the second channel
        return _courier(self.root / "admissions" / f"{country}.json", self.hosts.home(role) / f"admission-{country}.json")

    def join(self, role: str, country: str, *extra: str) -> Path:
        printed = self.hosts.somex(role, *self.init_args(role, country, rotation="--rotation" in extra))
        return self.admit(role, country, printed, *extra)

    def install(self, role: str, country: str, bundle: Path) -> None:
        self.hosts.somex(role, *self.install_args(role, country, bundle))

    def publish(self, name: str) -> str:
        """The root's newest file to the hub operator, who publishes it to the running hub."""
        handed = _courier(self.root / name, self.hosts.home("broker") / "from-root" / name)
        return self.hosts.somex("broker", "federation", "publish", str(handed),
                                "--token-file", str(self.hosts.home("broker") / "operator.token"))

    def token_args(self, role: str, country: str, token_role: str = "focal") -> tuple[str, ...]:
        return ("node", "token", "create", "--role", token_role, "--country", country, "--dir", str(self.fed_dir(role)))

    def start_country(self, country: str, token: str | None = None) -> None:
        """The hub operator tells the country the broker's address and port (nothing secret); the
        country makes its focal point's token (unless made already) and starts its node."""
        home = self.hosts.home(country)
        (home / "deployment.json").write_text(json.dumps({
            "amqp_port": self.amqp_port, "vhost": self.vhost, "amqp_host": BROKER_ADDRESS, "tls": True,
            "node_http_ports": {country: NODE_HTTP_PORT}}))
        os.chmod(home / "deployment.json", 0o600)
        token = (token or self.hosts.somex(country, *self.token_args(country, country))).strip()
        # Kept where `somex send` on this host looks for the focal point's token.
        (self.node_home(country) / "operator-tokens.json").write_text(json.dumps({"focal": token}))
        os.chmod(self.node_home(country) / "operator-tokens.json", 0o600)
        self.hosts.spawn(country, "node", "run", "--country", country)

    def send(self, sender: str, to: str, text: str, timeout: float = 120) -> str:
        def sent() -> str | None:
            result = self.hosts.try_somex(sender, "send", "--from", sender, "--to", to, "--text", text)
            return json.loads(result.stdout)["id"] if result.returncode == 0 else None

        return self.hosts.until(sent, timeout, f"{sender}'s node to take a note")

    def db(self, role: str) -> Path:
        return self.hosts.home(role) / ("hub/audit.db" if role == "broker" else f"nodes/{role}/node.db")

    def received(self, country: str, message_id: str) -> bool:
        return bool(_rows(self.db(country), "SELECT 1 FROM messages WHERE message_id = ? AND direction = 'in'",
                          message_id))

    def refusal(self, country: str, message_id: str) -> str | None:
        rows = _rows(self.db(country), "SELECT reason FROM refusals WHERE message_id = ?", message_id)
        return rows[0][0] if rows else None

    def audited(self, message_id: str) -> list[dict]:
        return [json.loads(leaf) for (leaf,) in
                _rows(self.db("broker"), "SELECT leaf FROM audit_entries WHERE message_id = ? ORDER BY seq",
                      message_id)]

    def serial(self, role: str, kind: str) -> int | None:
        rows = _rows(self.db(role), "SELECT serial FROM federation_documents WHERE kind = ?", kind)
        return rows[0][0] if rows else None


def _rows(db: Path, query: str, *params: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(query, params).fetchall()
    except sqlite3.OperationalError:  # its tables are not created yet, or a writer holds the lock
        return []


# Signs notes with the host's own signing key (an old one kept for the test, or a revoked one) and
# writes them to files: argv = federation dir, country, key file, recipient, out dir, count.
_SIGN = """
import sys
from datetime import timedelta
from pathlib import Path
from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
fed, country, key_file, to, out, count = sys.argv[1:7]
key = SigningKey.from_pem(Path(key_file).read_bytes())
Path(out).mkdir(parents=True, exist_ok=True)
for i in range(int(count)):
    env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender=country, recipients=[to],
                                   created=utcnow(), ttl=timedelta(hours=1), body={"text": f"in flight {i}"}), key)
    (Path(out) / f"{i:03d}-{env.id}.json").write_bytes(wire.encode(env))
    print(env.id)
"""

# Publishes envelope files over AMQPS with this host's TLS certificate, as its process would:
# argv = state dir, node id, exchange, routing key, files...
_PUBLISH = """
import asyncio, json, sys
from pathlib import Path
import aio_pika
from nodes.plumbing.amqp import broker_login, broker_urls, open_connection
from nodes.plumbing.config import utcnow
from nodes.plumbing.deployment import Deployment
from nodes.plumbing.federation import load_federation
state, node_id, exchange_name, routing_key, *files = sys.argv[1:]
async def main():
    deployment = Deployment.load(Path(state))
    federation = load_federation(deployment.federation_dir, utcnow())
    creds = federation.credentials(node_id)
    login = broker_login(deployment.broker, creds, federation.root_cert_file)
    connection = await open_connection(broker_urls(deployment.broker, login)[0], ssl_context=login.tls_context,
                                       timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(exchange_name, ensure=False)
        for name in files:
            raw = Path(name).read_bytes()
            await exchange.publish(aio_pika.Message(raw, user_id=creds.broker_user, message_id=json.loads(raw)["id"]),
                                   routing_key=routing_key, mandatory=True)
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 ('ip netns')")
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        pytest.skip("RabbitMQ is not installed (make rabbitmq)")
    hosts = Hosts(tag=f"sx{os.getpid() % 100000}", tmp=tmp_path_factory.mktemp("separate-hosts"))
    try:
        try:
            hosts.add("root")  # loopback only: the root operator's machine is offline
        except RuntimeError as exc:
            pytest.skip(f"'ip netns add' is not available here: {exc}")
        hosts.add("broker")
        _ip("-n", hosts.namespaces["broker"], "link", "add", "br0", "type", "bridge")
        _ip("-n", hosts.namespaces["broker"], "addr", "add", f"{BROKER_ADDRESS}/24", "dev", "br0")
        _ip("-n", hosts.namespaces["broker"], "link", "set", "br0", "up")
        for country in ("MEX", "IDN"):
            hosts.add(country)
            hosts.link(country, COUNTRY_ADDRESSES[country])
        yield _build(hosts)
    finally:
        hosts.tear_down()
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        assert hosts.tag not in left, f"namespaces left behind: {left}"


def _build(hosts: Hosts) -> Federation:
    root = hosts.home("root")
    created = hosts.somex("root", "federation", "create-root", "--name", "somex-netns", "--root", str(root))
    fed = Federation(hosts, _printed(created, "root certificate fingerprint"), 0, "somex")
    members = (("broker", "HUB"), ("MEX", "MEX"), ("IDN", "IDN"))  # the hub's admission first
    printed = hosts.somex_together([(role, fed.init_args(role, country)) for role, country in members])
    bundles = [fed.admit(role, country, out) for (role, country), out in zip(members, printed, strict=True)]
    hosts.somex_together([(role, fed.install_args(role, country, bundle))
                          for (role, country), bundle in zip(members, bundles, strict=True)])
    # The root operator hands every host the newest directory (public). The broker's TLS key is made
    # on the broker's host; only its certificate request travels to the root and the chain back.
    for role in ("broker", "MEX", "IDN"):
        _courier(root / DIRECTORY_FILE, fed.fed_dir(role) / DIRECTORY_FILE)
    hosts.somex("broker", "broker", "tls-request", "--names", BROKER_ADDRESS)
    request = _courier(fed.fed_dir("broker") / BROKER_DIR / SERVER_REQUEST_FILE, root / "incoming-broker.csr.pem")
    hosts.somex("root", "federation", "sign-server", str(request), "--root", str(root), "--names", BROKER_ADDRESS,
                "--out", str(root / "broker-chain.pem"))
    chain = _courier(root / "broker-chain.pem", hosts.home("broker") / "broker-chain.pem")
    hosts.somex("broker", "broker", "tls-install", str(chain))
    _courier(root / TLS_CRL_FILE, fed.fed_dir("broker") / TLS_CRL_FILE)

    # The broker operator starts the broker while each operator makes its API token on its own host.
    _, operator, *focal = hosts.somex_together([
        ("broker", ("broker", "up", "--amqp-host", BROKER_ADDRESS)), ("broker", fed.token_args("broker", "HUB", "operator")),
        ("MEX", fed.token_args("MEX", "MEX")), ("IDN", fed.token_args("IDN", "IDN"))])
    deployment = json.loads((hosts.home("broker") / "deployment.json").read_text())
    assert deployment["tls"] is True and deployment["amqp_host"] == BROKER_ADDRESS
    fed.amqp_port, fed.vhost = deployment["amqp_port"], deployment["vhost"]
    (hosts.home("broker") / "operator.token").write_text(operator.strip())
    os.chmod(hosts.home("broker") / "operator.token", 0o600)
    hosts.spawn("broker", "hub", "run")
    for country, token in zip(("MEX", "IDN"), focal, strict=True):
        fed.start_country(country, token)
    return fed


def _private_keys(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.name.endswith(".key")}


def test_each_host_made_its_own_keys_and_holds_only_them(federation: Federation) -> None:
    fed = federation
    assert _private_keys(fed.root) == {"root/root.key", "root/tls-ca.key"}
    for role, country in (("broker", "HUB"), ("MEX", "MEX"), ("IDN", "IDN")):
        own = {f"federation/nodes/{country}/{k}" for k in ("signing.key", "sealing.key", "hybrid_sealing.key",
                                                             "tls.key")}
        extra = {f"federation/{BROKER_DIR}/tls.key", "broker/tls/server.key"} if role == "broker" else set()
        assert _private_keys(fed.hosts.home(role)) == own | extra, role
    assert len(set(fed.told.values())) == len(fed.told) == 3  # each request printed, then checked at the root


def test_a_note_and_its_receipt_cross_separate_hosts_over_amqps(federation: Federation) -> None:
    fed, hosts = federation, federation.hosts
    # Across the link: the AMQPS port answers, the broker's management API (loopback there) does not.
    reach = ("import socket\n"
             "def probe(port):\n"
             "    try:\n"
             "        socket.create_connection(('{host}', port), 3).close(); return 'open'\n"
             "    except OSError as exc: return type(exc).__name__\n"
             "print(probe({amqp}), probe({mgmt}))")
    broker_record = json.loads((hosts.home("broker") / "broker" / "broker.json").read_text())
    answer = hosts.python("MEX", reach.format(host=BROKER_ADDRESS, amqp=fed.amqp_port, mgmt=broker_record["mgmt_port"]))
    assert answer.split() == ["open", "ConnectionRefusedError"]

    note_id = fed.send("MEX", "IDN", "across hosts")
    hosts.until(lambda: fed.received("IDN", note_id), 120, "the note at IDN")
    hosts.until(lambda: _rows(fed.db("MEX"), "SELECT kind FROM receipts WHERE of = ? AND by = 'IDN'", note_id),
                60, "IDN's delivery receipt at MEX")

    # Every AMQP connection the broker saw came over TLS, logged in by certificate, from its own host.
    def connections() -> list[dict]:  # the management statistics lag a little behind the connections
        listed = json.loads(hosts.python("broker", (
            "import json\nfrom nodes.plumbing.rabbit import PrivateBroker\nfrom pathlib import Path\n"
            f"print(json.dumps(PrivateBroker.from_state_dir(Path({str(hosts.home('broker') / 'broker')!r}))"
            ".api('GET', '/api/connections?columns=user,ssl,auth_mechanism,peer_host')))")))
        return listed if {"HUB", "MEX", "IDN"} <= {c.get("user") for c in listed} else []

    seen = {c["user"]: c for c in hosts.until(connections, 30, "the hub's and both countries' connections")}
    assert all(c["ssl"] and c["auth_mechanism"] == "EXTERNAL" for c in seen.values())
    assert seen["MEX"]["peer_host"] == COUNTRY_ADDRESSES["MEX"] and seen["IDN"]["peer_host"] == COUNTRY_ADDRESSES["IDN"]


def test_a_country_admitted_live_exchanges_and_its_revoked_key_is_refused_within_5s(federation: Federation) -> None:
    fed, hosts = federation, federation.hosts
    running = {role: process.pid for role, process in hosts.processes.items()}
    hosts.add("FRA")
    hosts.link("FRA", COUNTRY_ADDRESSES["FRA"])
    fed.install("FRA", "FRA", fed.join("FRA", "FRA"))
    serial = json.loads((fed.root / DIRECTORY_FILE).read_text())["directory"]["serial"]
    fed.publish(DIRECTORY_FILE)  # the hub applies it, gives FRA its broker user and inbox, tells everyone
    hosts.until(lambda: all(fed.serial(r, "directory") == serial for r in ("broker", "MEX", "IDN")), 30,
                "the hub, MEX and IDN applying the directory with FRA")
    fed.start_country("FRA")
    bonjour = fed.send("FRA", "MEX", "bonjour")
    hosts.until(lambda: fed.received("MEX", bonjour), 120, "FRA's note at MEX")
    hola = fed.send("MEX", "FRA", "hola")
    hosts.until(lambda: fed.received("FRA", hola), 60, "MEX's note at FRA")
    assert {r: p.pid for r, p in hosts.processes.items() if r in running} == running  # nobody restarted
    assert all(p.poll() is None for p in hosts.processes.values())

    # FRA's key is compromised: the root revokes it, the hub operator publishes the list.
    kid = kid_of(cert_from_pem((fed.node_home("FRA") / "signing.crt").read_bytes()).public_key())
    ids = hosts.python("FRA", _SIGN, str(fed.fed_dir("FRA")), "FRA", str(fed.node_home("FRA") / "signing.key"),
                       "IDN", str(hosts.home("FRA") / "stolen"), "1").split()  # what a thief of the key would sign
    _courier(hosts.home("FRA") / "stolen" / f"000-{ids[0]}.json", hosts.home("broker") / "injected" / "stolen.json")
    hosts.somex("root", "federation", "revoke", kid, "--root", str(fed.root))
    revoked_serial = json.loads((fed.root / REVOCATIONS_FILE).read_text())["revocations"]["serial"]
    command = time.monotonic()
    fed.publish(REVOCATIONS_FILE)  # returns once the hub applied it
    published = time.monotonic()
    hosts.until(lambda: all(fed.serial(r, "revocations") == revoked_serial for r in ("broker", "MEX", "IDN")),
                GOAL_SECONDS, "the hub, MEX and IDN applying the revocation list")
    applied = time.monotonic()
    # The hub refuses FRA's next message ...
    refused = fed.send("FRA", "MEX", "signed by a revoked key", timeout=30)
    hosts.until(lambda: [(e["verdict"], e.get("reason")) for e in fed.audited(refused)] == [("rejected", "revoked_key")],
                GOAL_SECONDS, "the hub refusing FRA's revoked key")
    # ... and so does a node, given one by a hub that did not check it.
    hosts.python("broker", _PUBLISH, str(hosts.home("broker")), "HUB", "node.out", "IDN",
                 str(hosts.home("broker") / "injected" / "stolen.json"))
    hosts.until(lambda: fed.refusal("IDN", ids[0]) == "revoked_key", GOAL_SECONDS, "IDN refusing the revoked key")
    assert not fed.received("MEX", refused)
    print(f"revocation list applied by the hub and both nodes {applied - published:.2f}s after 'somex federation "
          f"publish' returned ({applied - command:.2f}s after it was started, the CLI's start-up included)")


def test_rotation_in_flight_messages_of_the_old_key_are_delivered_then_it_is_refused(federation: Federation) -> None:
    fed, hosts = federation, federation.hosts
    old_kid = kid_of(cert_from_pem((fed.node_home("MEX") / "signing.crt").read_bytes()).public_key())
    # Signed by MEX's current key before the rotation, sent after the new directory is in force.
    flight = hosts.home("MEX") / "in-flight"
    in_flight = hosts.python("MEX", _SIGN, str(fed.fed_dir("MEX")), "MEX", str(fed.node_home("MEX") / "signing.key"),
                             "IDN", str(flight), "6").split()
    bundle = fed.join("MEX", "MEX", "--rotation", "--overlap-days", f"{ROTATION_OVERLAP.total_seconds() / 86400:.8f}")
    late, in_flight = in_flight[-1], in_flight[:-1]  # kept for after the overlap
    serial = json.loads((fed.root / DIRECTORY_FILE).read_text())["directory"]["serial"]
    fed.publish(DIRECTORY_FILE)
    hosts.until(lambda: all(fed.serial(r, "directory") == serial for r in ("broker", "MEX", "IDN")), 30,
                "the directory with MEX's second certificate applied")
    old_cert = next(c for c in _directory_certs(fed.root, "MEX") if kid_of(c.public_key()) == old_kid)
    hosts.python("MEX", _PUBLISH, str(hosts.home("MEX")), "MEX", "hub.in", "MEX",
                 *[str(p) for p in sorted(flight.iterdir()) if p.name.split("-", 1)[1][:-5] in in_flight])
    hosts.until(lambda: all(fed.received("IDN", m) for m in in_flight), 60,
                "every in-flight message of the old key at IDN")
    assert utcnow() < old_cert.not_valid_after_utc  # delivered within the overlap the directory states

    # MEX installs its new certificate and restarts its own node (nobody else restarts).
    fed.install("MEX", "MEX", bundle)
    hosts.stop("MEX")
    hosts.spawn("MEX", "node", "run", "--country", "MEX")
    new_kid = kid_of(cert_from_pem((fed.node_home("MEX") / "signing.crt").read_bytes()).public_key())
    assert new_kid != old_kid
    fresh = fed.send("MEX", "IDN", "signed by the new key")
    hosts.until(lambda: fed.received("IDN", fresh), 60, "the new key's note at IDN")
    assert [e["kid"] for e in fed.audited(fresh)] == [new_kid]
    assert {e["kid"] for m in in_flight for e in fed.audited(m)} == {old_kid}

    # After the overlap the old key is refused.
    hosts.until(lambda: utcnow() > old_cert.not_valid_after_utc + timedelta(seconds=1),
                ROTATION_OVERLAP.total_seconds() + 5, "the end of the overlap")
    hosts.python("MEX", _PUBLISH, str(hosts.home("MEX")), "MEX", "hub.in", "MEX",
                 *[str(p) for p in flight.iterdir() if late in p.name])
    hosts.until(lambda: [(e["verdict"], e.get("reason")) for e in fed.audited(late)] == [("rejected", "cert_expired")],
                30, "the hub refusing the old key after the overlap")
    assert not fed.received("IDN", late)
    assert _rows(fed.db("IDN"), "SELECT reason FROM refusals WHERE sender = 'MEX'") == []


def _directory_certs(root: Path, country: str) -> list:  # noqa: ANN202
    from nodes.plumbing.federation import load_federation

    return list(load_federation(root, utcnow()).directory.node(country).certificates)


def test_zz_no_country_private_key_is_anywhere_on_the_hub_host(federation: Federation) -> None:
    """Last (after every ceremony of this module): every file of the hub's host, read whole, holds
    none of the countries' private keys (as PEM text, as DER, or as raw key bytes)."""
    fed = federation
    needles: list[bytes] = []
    for country in ("MEX", "IDN", "FRA"):
        home = fed.node_home(country)
        keys = [home / name for name in COUNTRY_KEY_NAMES if (home / name).exists()]
        assert len(keys) == 4, keys
        needles.extend(n for k in keys for n in _key_needles(k.read_bytes()))
    hub_host = fed.hosts.home("broker")
    scanned = 0
    for path in hub_host.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle not in content, f"a country's private key in {path.relative_to(hub_host)}"
    assert scanned > 20
    assert {p.parent.name for p in hub_host.rglob("signing.key")} == {"HUB"}


def _key_needles(content: bytes) -> list[bytes]:
    """Distinctive runs of a private key file: a line of its PEM body and the key bytes at the end
    of its DER (PKCS#8 ends with the private key), or the tail of a raw key file."""
    if content.startswith(b"-----"):
        lines = [line for line in content.splitlines() if not line.startswith(b"-----")]
        der = base64.b64decode(b"".join(lines))
        return [lines[0], der[-32:]]
    return [content[-32:], base64.b64encode(content[-32:])]
