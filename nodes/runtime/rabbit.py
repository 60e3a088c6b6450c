"""A private RabbitMQ node on loopback: own data dir, ports, Erlang cookie and epmd.

Debian's `/usr/sbin/rabbitmq-server` drops to the `rabbitmq` user and the system data dir; the
scripts under /usr/lib/rabbitmq/bin run as the caller with the RABBITMQ_* variables set here,
so tests, benchmarks and the demo each get a broker of their own that they start and stop.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from broker_config import BrokerSpec, render_definitions, render_rabbitmq_conf

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
ADMIN_USER = "somex-admin"


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range.

    A port from the ephemeral range can be taken as the local end of any outgoing connection
    while its server is down (clients retrying during a broker restart do exactly that), and the
    server then cannot bind it again.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randint(10000, max(10001, low - 1))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class PrivateBroker:
    def __init__(self, state_dir: Path, amqp_port: int, mgmt_port: int, dist_port: int, nodename: str,
                 epmd_port: int | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.amqp_port, self.mgmt_port, self.dist_port = amqp_port, mgmt_port, dist_port
        self.epmd_port = epmd_port or free_port()
        self.nodename = nodename
        self._admin_password: str | None = None

    # -- files ----------------------------------------------------------------------------------

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> PrivateBroker:
        record = json.loads((Path(state_dir) / "broker.json").read_text())
        return cls(Path(state_dir), record["amqp_port"], record["mgmt_port"], record["dist_port"],
                   record["nodename"], record["epmd_port"])

    @property
    def admin_password(self) -> str:
        if self._admin_password is None:
            path = self.state_dir / "admin.password"
            if not path.exists():
                self.state_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(24))
            self._admin_password = path.read_text().strip()
        return self._admin_password

    def _env(self) -> dict[str, str]:
        d = self.state_dir
        return {
            **os.environ,
            "HOME": str(d / "home"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
        }

    def _write_files(self) -> None:
        d = self.state_dir
        for sub in ("home", "mnesia", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        cookie = d / "home" / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
        os.chmod(cookie, 0o400)
        conf = render_rabbitmq_conf(self.amqp_port, self.mgmt_port) + "\n".join([
            f"default_user = {ADMIN_USER}",
            f"default_pass = {self.admin_password}",
            "default_user_tags.administrator = true",
            "", ])
        path = d / "rabbitmq.conf"
        path.write_text(conf)
        os.chmod(path, 0o600)
        (d / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (d / "rabbitmq-env.conf").write_text("")
        (d / "advanced.config").write_text("[].\n")

    # -- lifecycle ------------------------------------------------------------------------------

    def ensure_installed(self) -> None:
        if (RABBIT_BIN / "rabbitmq-server").exists():
            return
        if os.geteuid() != 0:
            raise RuntimeError("RabbitMQ is not installed: run 'sudo apt-get install rabbitmq-server' "
                               "(or 'make test', which does it as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "rabbitmq-server"], check=True, env=env,
                       stdout=subprocess.DEVNULL)

    def _pid(self) -> int | None:
        try:
            pid = int((self.state_dir / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self, timeout: float = 90) -> None:
        if self._pid() is not None:
            raise RuntimeError(f"a broker recorded in {self.state_dir} is already running (pid {self._pid()}); "
                               "stop it first with 'somex broker down'")
        self._write_files()
        started = time.monotonic()
        log = open(self.state_dir / "log" / "server.out", "ab")  # noqa: SIM115 - handed to the child
        self._process = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self._env(), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._record()
        try:
            self._wait_ready(started + timeout)
        except BaseException:
            self._kill_group(self._process.pid)
            self._kill_epmd()
            raise
        self._record()

    def _record(self) -> None:
        (self.state_dir / "broker.json").write_text(json.dumps({
            "amqp_port": self.amqp_port, "mgmt_port": self.mgmt_port, "dist_port": self.dist_port,
            "epmd_port": self.epmd_port, "nodename": self.nodename, "pid": self._pid(),
        }, indent=2) + "\n")

    def _wait_ready(self, deadline: float) -> None:
        last_error = "not started"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                self._amqp_handshake()
                self._api("GET", "/api/overview")
                return
            except (OSError, RuntimeError, urllib.error.URLError) as exc:
                last_error = str(exc)
            time.sleep(0.25)
        raise RuntimeError(f"RabbitMQ did not become ready ({last_error}):\n{self.log_tail()}")

    def _amqp_handshake(self) -> None:
        """Readiness is a real AMQP answer: the broker's Connection.Start to our protocol header."""
        with socket.create_connection(("127.0.0.1", self.amqp_port), timeout=2) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            frame = s.recv(7)
            if len(frame) < 7 or frame[0] != 1:
                raise RuntimeError("no Connection.Start from the broker yet")

    def log_tail(self, lines: int = 30) -> str:
        chunks = []
        for path in sorted((self.state_dir / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(chunks)

    def stop(self) -> None:
        pid = self._pid()
        if pid is not None:
            ctl = [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, "stop", str(self.state_dir / "rabbitmq.pid")]
            try:
                subprocess.run(ctl, env=self._env(), timeout=60, capture_output=True)
            except subprocess.TimeoutExpired:
                pass
            self._kill_group(pid)
        self._kill_epmd()

    @staticmethod
    def _kill_group(pid: int) -> None:
        deadline = time.monotonic() + 10
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            return
        try:
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.killpg(pgid, signal.SIGKILL)  # leftovers of the group (erl_child_setup, inet_gethost)
        except ProcessLookupError:
            pass

    def _kill_epmd(self) -> None:
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if Path(epmd).exists():
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=10,
                           env=self._env())

    # -- management API -------------------------------------------------------------------------

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.mgmt_port}{path}", data=data, method=method)
        token = base64.b64encode(f"{ADMIN_USER}:{self.admin_password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return None
            raise RuntimeError(f"management API {method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return json.loads(payload) if payload else None

    def apply(self, spec: BrokerSpec) -> None:
        """Create the vhost, users, permissions, exchanges, queues and bindings of a federation."""
        self._api("POST", "/api/definitions", render_definitions(spec))

    def apply_admin_vhost(self, vhost: str) -> None:
        """A vhost where the admin may do anything (benchmark baselines only)."""
        v = urllib.parse.quote(vhost, safe="")
        self._api("PUT", f"/api/vhosts/{v}", {})
        self._api("PUT", f"/api/permissions/{v}/{ADMIN_USER}", {"configure": ".*", "write": ".*", "read": ".*"})

    def set_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        """An operator's change of one user's permissions (also how tests inject broker refusals)."""
        v, u = urllib.parse.quote(vhost, safe=""), urllib.parse.quote(user, safe="")
        self._api("PUT", f"/api/permissions/{v}/{u}", {"configure": configure, "write": write, "read": read})

    def delete_vhost(self, vhost: str, users: Iterable[str] = ()) -> None:
        self._api("DELETE", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}")
        for user in users:
            self._api("DELETE", f"/api/users/{urllib.parse.quote(user, safe='')}")

    def admin_url(self, vhost: str) -> str:
        return (f"amqp://{ADMIN_USER}:{urllib.parse.quote(self.admin_password, safe='')}@127.0.0.1:"
                f"{self.amqp_port}/{urllib.parse.quote(vhost, safe='')}")

    def status(self) -> dict[str, Any]:
        pid = self._pid()
        result: dict[str, Any] = {"running": False, "pid": pid, "amqp_port": self.amqp_port,
                                  "management_port": self.mgmt_port, "nodename": self.nodename}
        if pid is None:
            return result
        try:
            queues = self._api("GET", "/api/queues")
        except (OSError, RuntimeError, urllib.error.URLError) as exc:
            result["detail"] = f"process alive but management API not answering: {exc}"
            return result
        result["running"] = True
        result["queues"] = {f"{q['vhost']}/{q['name']}": q.get("messages", 0) for q in queues}
        return result
