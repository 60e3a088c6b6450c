"""A private RabbitMQ node on loopback: its own data dir, ports, Erlang cookie and epmd.

Debian's `/usr/sbin/rabbitmq-server` drops to the `rabbitmq` user and the system data dir; the
scripts under /usr/lib/rabbitmq/bin run as the caller with the RABBITMQ_* variables set here,
so tests, benchmarks and the demo each get a broker of their own that they start and stop.
`broker.json` in the state dir records ports, node name and pids, so that `status` and `stop`
work from another process (`PrivateBroker.from_state_dir`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import dataclasses
import json
import os
import random
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from broker_config import (
    BrokerSpec,
    BrokerTls,
    BrokerUser,
    render_advanced_config,
    render_definitions,
    render_rabbitmq_conf,
)
from nodes.plumbing.private_files import PRIVATE_UMASK, sync_path
from nodes.plumbing.private_files import write_private as _write_private

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
EPMD = Path("/usr/lib/erlang/bin/epmd")
ADMIN_USER = "somex-admin"
LOOPBACK = "127.0.0.1"


class BrokerError(RuntimeError):
    """The private broker could not be installed, started, reached or configured."""


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, not handed out before by this process.

    A port from the ephemeral range can be taken as the local end of any outgoing connection
    while its server is down (clients retrying during a broker restart do exactly that), and the
    server then cannot bind it again.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(500):
        port = random.randint(10000, max(10001, low - 1))
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise BrokerError("no free port below the ephemeral range")


_HANDED_OUT: set[int] = set()  # so two calls in one process never return the same port


class PrivateBroker:
    """One private RabbitMQ node; operator operations are synchronous (management API over urllib)."""

    def __init__(self, state_dir: Path, amqp_port: int, mgmt_port: int, dist_port: int, nodename: str,
                 epmd_port: int | None = None, *, tls: BrokerTls | None = None, amqp_host: str = LOOPBACK) -> None:
        """With `tls`, the broker listens on AMQPS only and clients log in by certificate (EXTERNAL);
        `amqp_host` is the address its AMQP(S) listener binds (the management API stays on loopback)."""
        self.state_dir = Path(state_dir).resolve()
        self.tls, self.amqp_host = tls, amqp_host
        self.amqp_port, self.mgmt_port, self.dist_port = amqp_port, mgmt_port, dist_port
        self.epmd_port = epmd_port or free_port()
        self.nodename = nodename
        self._process: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        self._admin_password: str | None = None

    def __repr__(self) -> str:
        return (f"PrivateBroker({str(self.state_dir)!r}, nodename={self.nodename!r}, amqp_port={self.amqp_port}, "
                f"mgmt_port={self.mgmt_port})")

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> PrivateBroker:
        """The broker recorded in `state_dir/broker.json` (started by this or another process)."""
        path = Path(state_dir) / "broker.json"
        try:
            record = json.loads(path.read_text())
            tls = BrokerTls(**record["tls"]) if record.get("tls") else None
            return cls(Path(state_dir), record["amqp_port"], record["mgmt_port"], record["dist_port"],
                       record["nodename"], record["epmd_port"], tls=tls, amqp_host=record.get("amqp_host", LOOPBACK))
        except FileNotFoundError:
            raise BrokerError(f"no broker recorded in {state_dir} ({path.name} is missing)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BrokerError(f"cannot read the broker record {path}: {type(exc).__name__}: {exc}; restore it from "
                              "the latest backup (docs/recovery.md): it names the broker's node and ports, "
                              "without which its data cannot be started again") from None

    # -- installation ---------------------------------------------------------------------------

    @staticmethod
    def ensure_installed() -> None:
        """Install Debian's rabbitmq-server if it is missing (as root), or say what to run."""
        if (RABBIT_BIN / "rabbitmq-server").exists():
            return
        if os.geteuid() != 0:
            raise BrokerError(f"RabbitMQ is not installed ({RABBIT_BIN / 'rabbitmq-server'} is missing): run "
                              "'sudo apt-get update && sudo apt-get install -y rabbitmq-server' (or 'make rabbitmq' as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "rabbitmq-server"]):
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise BrokerError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise BrokerError(f"rabbitmq-server was installed but {RABBIT_BIN / 'rabbitmq-server'} is missing")

    # -- files ----------------------------------------------------------------------------------

    @property
    def admin_password(self) -> str:
        """The broker administrator's password, generated once and kept 0600 in the state dir."""
        if self._admin_password is None:
            path = self.state_dir / "admin.password"
            if not path.exists():
                self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(24))
            self._admin_password = path.read_text().strip()
        return self._admin_password

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "rabbitmq.pid"

    def _env(self) -> dict[str, str]:
        d = self.state_dir
        # Nothing from the caller's RABBITMQ_*/ERL_* may point this node at shared state.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {
            **inherited,
            "HOME": str(d / "home"),  # the Erlang cookie lives in $HOME/.erlang.cookie
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_ENABLED_PLUGINS": ",".join(self._plugins()),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            # Erlang distribution and epmd on loopback only, epmd on a port of its own.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
        }

    def _write_files(self) -> None:
        d = self.state_dir
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)  # the admin password and the Erlang cookie live here
        for sub in ("home", "mnesia", "log"):
            (d / sub).mkdir(mode=0o700, exist_ok=True)
        cookie = d / "home" / ".erlang.cookie"
        if not cookie.exists():
            fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(20))
        os.chmod(cookie, 0o400)  # Erlang refuses a cookie that others can read
        _write_private(d / "rabbitmq.conf", render_rabbitmq_conf(
            self.amqp_port, self.mgmt_port, admin_user=ADMIN_USER, admin_password=self.admin_password,
            host=self.amqp_host, tls=self.tls))
        _write_private(d / "enabled_plugins", f"[{','.join(self._plugins())}].\n")
        _write_private(d / "rabbitmq-env.conf", "")
        _write_private(d / "advanced.config", render_advanced_config(self.tls))

    def _plugins(self) -> list[str]:
        # rabbitmq_auth_mechanism_ssl: the EXTERNAL login (user = the client certificate's CN).
        return ["rabbitmq_management", *(["rabbitmq_auth_mechanism_ssl"] if self.tls else [])]

    def _record(self) -> None:
        _write_private(self.state_dir / "broker.json", json.dumps({
            "amqp_port": self.amqp_port, "mgmt_port": self.mgmt_port, "dist_port": self.dist_port,
            "epmd_port": self.epmd_port, "nodename": self.nodename, "pid": self.pid(),
            "admin_user": ADMIN_USER, "admin_password_file": str(self.state_dir / "admin.password"),
            "amqp_host": self.amqp_host, "tls": dataclasses.asdict(self.tls) if self.tls else None,
        }, indent=2) + "\n")

    # -- lifecycle ------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The broker's process id if it runs: its Erlang VM (from the pid file), else the script we started."""
        with contextlib.suppress(OSError, ValueError):
            beam = int(self.pid_file.read_text().strip())
            if _is_our_beam(beam, self.state_dir):
                return beam
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        return None

    def start(self, timeout: float = 60, *, stop_with_caller: bool = False) -> None:
        """Start the node and return once it completes an AMQP handshake and its management API answers.

        With `stop_with_caller`, the kernel sends the broker SIGTERM when the calling thread's
        process dies (even by SIGKILL): for test sessions, so no broker outlives them. Call it
        from a thread that lives as long as the broker should (the main thread).
        On failure, everything started here is killed and the error carries the log tail.
        """
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise BrokerError("RabbitMQ is not installed: call PrivateBroker.ensure_installed() first")
        running = self.pid()
        if running is not None:
            raise BrokerError(f"a broker for {self.state_dir} is already running (pid {running}, AMQP port "
                              f"{self.amqp_port}); stop it first ('somex broker down' or PrivateBroker.stop())")
        taken = [f"{what} {port}" for what, port, host in (
            ("AMQP", self.amqp_port, self.amqp_host), ("management", self.mgmt_port, LOOPBACK),
            ("distribution", self.dist_port, LOOPBACK)) if port_open(port, host)]
        if taken:
            raise BrokerError(f"cannot start the broker for {self.state_dir}: port(s) already in use: {', '.join(taken)}")
        self._write_files()
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()  # stale: its process is gone
        deadline = time.monotonic() + timeout
        preexec = _child_setup(stop_with_caller)
        try:
            self._start_epmd(preexec)
            server_out = os.open(self.state_dir / "log" / "server.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(server_out, "ab") as out:
                self._process = subprocess.Popen(
                    [str(RABBIT_BIN / "rabbitmq-server")], env=self._env(), cwd=self.state_dir,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=preexec)  # noqa: PLW1509 - see die_with_parent
            self._record()
            self._wait_ready(deadline)
        except BaseException:
            self._kill()
            self._record()
            raise
        self._record()

    def _start_epmd(self, preexec: Any) -> None:
        """Our own epmd in the foreground, as our child: the one erl would start daemonizes and outlives us."""
        if port_open(self.epmd_port):
            return  # an epmd on our private port (left by a crashed run, or a restart): reuse it
        self._epmd = subprocess.Popen(
            [str(EPMD), "-port", str(self.epmd_port), "-address", LOOPBACK], env=self._env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=preexec)  # noqa: PLW1509 - see die_with_parent
        deadline = time.monotonic() + 5
        while not port_open(self.epmd_port):
            if self._epmd.poll() is not None or time.monotonic() > deadline:
                raise BrokerError(f"epmd did not start on port {self.epmd_port}")
            time.sleep(0.02)

    def _wait_ready(self, deadline: float) -> None:
        last_error = "nothing tried yet"
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise BrokerError(f"rabbitmq-server exited with status {self._process.returncode} during "
                                  f"startup:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BrokerError(f"RabbitMQ did not become ready in time (last probe: {last_error}):\n"
                                  f"{self.log_tail()}")
            try:
                if not port_open(self.amqp_port, self.amqp_host) or not port_open(self.mgmt_port):
                    raise ConnectionRefusedError("listeners not open yet")
                self.api("GET", "/api/overview")
                if self.tls is None:
                    _amqp_handshake(self.admin_url("/"))
                else:  # nobody here holds a client certificate: the server's side of the handshake
                    _tls_server_handshake(self.amqp_host, self.amqp_port, self.tls.ca_file)
                return
            except (OSError, BrokerError, TimeoutError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        """Stop the node gracefully, then by force; and its epmd. Idempotent; works from any process.

        `rabbitmqctl stop <pid file>` first (it returns once the VM is gone; the log ends with
        "Successfully stopped RabbitMQ and its dependencies"). 3.10 spends about 5 s of that
        waiting for the management agent's statistics to stop. If the CLI cannot reach the node,
        SIGTERM (RabbitMQ's own graceful shutdown) to what is left; whatever still runs after
        `timeout` seconds is killed with its process group.
        """
        deadline = time.monotonic() + timeout
        if self.pid() is not None and self.pid_file.exists():
            self._rabbitmqctl_stop(timeout)
        victims = [p for p in (self.pid(), self._process.pid if self._process else None) if p is not None]
        for pid in dict.fromkeys(victims):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._kill(victims, grace=max(1.0, deadline - time.monotonic()))
        if self.state_dir.exists():
            self._record()

    def rabbitmqctl(self, *args: str, timeout: float = 120) -> str:
        """Run `rabbitmqctl -n NODE ARGS` with this node's cookie and epmd; BrokerError if it fails."""
        command = [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, *args]
        try:
            result = subprocess.run(command, env=self._env(), cwd=self.state_dir, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BrokerError(f"rabbitmqctl {' '.join(args)} on {self.nodename}: no answer in {timeout:g}s") from None
        if result.returncode != 0:
            raise BrokerError(f"rabbitmqctl {' '.join(args)} on {self.nodename} failed ({result.returncode}): "
                              f"{(result.stderr or result.stdout)[-1500:]}")
        return result.stdout

    def join_cluster(self, seed: PrivateBroker, timeout: float = 120) -> None:
        """Make this (running, blank) node a member of `seed`'s cluster, and wait until it serves again."""
        self.rabbitmqctl("stop_app")
        self.rabbitmqctl("join_cluster", seed.nodename)
        self.rabbitmqctl("start_app")
        self._wait_ready(time.monotonic() + timeout)

    def kill(self) -> None:
        """SIGKILL the node (its whole process group), as a machine failure would; epmd stays."""
        for pid in dict.fromkeys(p for p in (self._process.pid if self._process else None, self.pid()) if p):
            _kill_group(pid)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)

    def _rabbitmqctl_stop(self, timeout: float) -> bool:
        """`rabbitmqctl -n NODE stop PIDFILE` with this node's cookie and epmd; False if it did not work."""
        command = [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, "stop", str(self.pid_file)]
        try:
            result = subprocess.run(command, env=self._env(), cwd=self.state_dir, stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0

    def _kill(self, pids: Iterable[int] = (), grace: float = 0) -> None:
        """Wait up to `grace` seconds for `pids` (and our own children) to end, then SIGKILL what remains."""
        pids = {*pids, *(p for p in (self.pid(), self._process.pid if self._process else None) if p is not None)}
        deadline = time.monotonic() + grace
        while any(_is_alive(p) for p in pids) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in pids:
            _kill_group(pid)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self._stop_epmd()

    def _reap(self) -> None:
        if self._process is not None:
            self._process.poll()

    def _stop_epmd(self) -> None:
        if port_open(self.epmd_port):
            # epmd refuses while a node is still registered: a node that is not ours keeps its epmd.
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run([str(EPMD), "-port", str(self.epmd_port), "-kill"], env=self._env(),
                               capture_output=True, timeout=10, check=False)
        if self._epmd is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._epmd.wait(timeout=2)
            if self._epmd.poll() is None:
                self._epmd.kill()
                self._epmd.wait(timeout=5)
            self._epmd = None

    def log_tail(self, lines: int = 30) -> str:
        """What went wrong, for an error message: errors and the last lines of the node's logs."""
        log_dir = self.state_dir / "log"
        chunks = []
        crash = log_dir / "erl_crash.dump"
        if crash.exists():
            with crash.open(errors="replace") as dump:
                slogan = next((line.strip() for _, line in zip(range(5), dump) if line.startswith("Slogan")), "")
            chunks.append(f"--- {crash}: {slogan}")
        for path in (log_dir / "server.out", log_dir / f"{self.nodename}.log"):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()
                errors = [line for line in text if "[error]" in line or "[critical]" in line][-10:]
                shown = errors + [line for line in text[-lines:] if line not in errors]
                if shown:
                    chunks.append(f"--- {path}\n" + "\n".join(shown))
        return "\n".join(chunks) or f"(nothing logged yet in {log_dir})"

    def status(self, vhost: str | None = None) -> dict[str, Any]:
        """Is it running; its pid and ports; queue depths.

        `queues` is {queue name: messages}: the queues of `vhost` if given, else of every vhost
        (a name then reads `vhost/name` if the broker holds queues in more than one vhost).
        `vhosts` is {vhost: {queue name: {messages, ready, unacknowledged, consumers}}}.
        Counts are the management statistics: they lag the queues by up to a second.
        """
        pid = self.pid()
        result: dict[str, Any] = {
            "running": False, "pid": pid, "nodename": self.nodename, "amqp_port": self.amqp_port,
            "management_port": self.mgmt_port, "dist_port": self.dist_port, "epmd_port": self.epmd_port,
            "state_dir": str(self.state_dir),
        }
        if pid is None:
            return result
        try:
            queues = self.api("GET", "/api/queues?columns=vhost,name,messages,messages_ready,"
                                     "messages_unacknowledged,consumers")
        except (OSError, BrokerError) as exc:
            result["detail"] = f"process {pid} is alive but the management API does not answer: {exc}"
            return result
        result["running"] = True
        if vhost is not None:
            queues = [q for q in queues if q["vhost"] == vhost]
        qualify = len({q["vhost"] for q in queues}) > 1
        result["queues"] = {(f"{q['vhost']}/{q['name']}" if qualify else q["name"]): q.get("messages") or 0
                            for q in queues}
        details: dict[str, dict[str, Any]] = {}
        for q in queues:
            details.setdefault(q["vhost"], {})[q["name"]] = {
                "messages": q.get("messages") or 0, "ready": q.get("messages_ready") or 0,
                "unacknowledged": q.get("messages_unacknowledged") or 0, "consumers": q.get("consumers") or 0}
        result["vhosts"] = details
        return result

    # -- management API (loopback HTTP, as the administrator) -----------------------------------

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 30, reason: str | None = None) -> Any:
        """One management API call; a 404 on DELETE is success (already gone)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{LOOPBACK}:{self.mgmt_port}{path}", data=data, method=method)
        if reason is not None:
            request.add_header("X-Reason", reason)
        token = base64.b64encode(f"{ADMIN_USER}:{self.admin_password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return None
            raise BrokerError(f"management API {method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return json.loads(payload) if payload else None

    def apply(self, spec: BrokerSpec) -> None:
        """Create (or update) the vhost, users, permissions, exchanges, queues and bindings of a federation.

        One POST of the full definitions: on 3.10 the per-vhost import (/api/definitions/<vhost>)
        ignores users, vhosts and permissions, while the full import creates them all (users
        with their password hashes) and returns once every queue exists.
        """
        if any(u.name == ADMIN_USER for u in spec.users()):
            raise ValueError(f"{ADMIN_USER!r} is this broker's own administrator; give the spec's users other names")
        definitions = render_definitions(spec)
        self.api("POST", "/api/definitions", definitions)
        present = {q["name"] for q in self.api("GET", f"/api/queues/{_q(spec.vhost)}?columns=name")}
        missing = {q["name"] for q in definitions["queues"]} - present
        if missing:
            raise BrokerError(f"definitions imported but queues {sorted(missing)} are missing in vhost {spec.vhost!r}")

    def remove(self, spec: BrokerSpec) -> None:
        """Delete the spec's vhost (with its queues and messages) and its users."""
        self.delete_vhost(spec.vhost, [u.name for u in spec.users()])

    def delete_vhost(self, vhost: str, users: Iterable[str] = ()) -> None:
        self.api("DELETE", f"/api/vhosts/{_q(vhost)}")
        for user in users:
            self.api("DELETE", f"/api/users/{_q(user)}")

    def withdraw_absent_members(self, vhost: str, members: Iterable[str]) -> list[str]:
        """Take every permission on `vhost` from users who are not `members` (the broker users of the
        directory in force) and close their connections: a member the root removed can no longer
        publish or read, even on a connection it already had. Returns the users withdrawn."""
        keep = {*members, ADMIN_USER}
        withdrawn = sorted({p["user"] for p in self.api("GET", f"/api/vhosts/{_q(vhost)}/permissions")} - keep)
        for user in withdrawn:
            self.api("DELETE", f"/api/permissions/{_q(vhost)}/{_q(user)}")
            self.api("DELETE", f"/api/topic-permissions/{_q(vhost)}/{_q(user)}")
        for user in withdrawn:
            self.close_user_connections(user, "removed from the federation's directory")
        return withdrawn

    def set_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        """An operator's change of one user's permissions (also how tests inject broker refusals)."""
        self.api("PUT", f"/api/permissions/{_q(vhost)}/{_q(user)}",
                 {"configure": configure, "write": write, "read": read})

    # -- AMQP addresses -------------------------------------------------------------------------

    def amqp_url(self, user: BrokerUser, vhost: str) -> str:
        if self.tls is not None:
            raise BrokerError("this broker takes AMQPS with a client certificate only: connect with "
                              "nodes.plumbing.amqp.BrokerLogin (a user's password opens nothing here)")
        return (f"amqp://{_q(user.name)}:{_q(user.password or '')}@{LOOPBACK}:{self.amqp_port}/{_q(vhost)}")

    def admin_url(self, vhost: str) -> str:
        return self.amqp_url(BrokerUser(ADMIN_USER, self.admin_password), vhost)

    def install_crl(self, crl_pem: bytes) -> None:
        """Put the TLS CA's revocation list where the broker reads it at every handshake: a revoked
        certificate's next connection is refused, without a restart. Open connections are not
        re-checked: close them (`close_connections`)."""
        if self.tls is None or self.tls.crl_dir is None:
            raise BrokerError("this broker has no TLS revocation list directory (it is not an AMQPS broker)")
        install_crl(Path(self.tls.crl_dir), crl_pem)

    def close_user_connections(self, user: str, reason: str) -> None:
        """Close every connection of `user` now, even one opened a moment ago: `rabbitmqctl
        close_all_user_connections` asks the live connection tracking, whereas the management API
        lists a connection only once its statistics arrive (seconds later), so a listing-based close
        misses a connection opened just before a revocation or removal."""
        self.rabbitmqctl("close_all_user_connections", user, reason)

    def close_connections(self, user: str, reason: str) -> int:
        """Close every AMQP connection of `user` (after its certificate was revoked or its permissions
        taken): TLS and login are checked when a connection opens, not for its lifetime."""
        closed = 0
        for connection in self.api("GET", "/api/connections?columns=name,user"):
            if connection.get("user") == user:
                self.api("DELETE", f"/api/connections/{_q(connection['name'])}", None, reason=reason)
                closed += 1
        return closed


# -- TLS material ---------------------------------------------------------------------------------

def install_broker_tls(state_dir: Path, *, ca_pem: bytes, cert_chain_pem: bytes, key_pem: bytes,
                       crl_pem: bytes) -> BrokerTls:
    """Write the broker's TLS material into `state_dir/tls/` (0600 files, 0700 directories).

    `ca_pem`: the federation root (what client chains must end in); `cert_chain_pem`: the broker's
    server certificate then the TLS CA's; `crl_pem`: the TLS CA's revocation list.
    """
    tls_dir = Path(state_dir).resolve() / "tls"
    (tls_dir / "crl").mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    _write_private(tls_dir / "ca.crt", ca_pem.decode("ascii"))
    _write_private(tls_dir / "server.crt", cert_chain_pem.decode("ascii"))
    _write_private(tls_dir / "server.key", key_pem.decode("ascii"))
    install_crl(tls_dir / "crl", crl_pem)
    return BrokerTls(str(tls_dir / "ca.crt"), str(tls_dir / "server.crt"), str(tls_dir / "server.key"),
                     str(tls_dir / "crl"))


def install_crl(crl_dir: Path, crl_pem: bytes) -> None:
    """Write a CRL as `<issuer hash>.r0`, the name Erlang's ssl_crl_hash_dir looks up (OpenSSL's
    subject-name hash of the issuer), replacing the previous one atomically and durably: after a
    crash the broker never finds the older list again, which would let a revoked member back in."""
    tmp = crl_dir / ".incoming.crl.pem"
    _write_private(tmp, crl_pem.decode("ascii"))
    try:
        try:
            result = subprocess.run(["openssl", "crl", "-hash", "-noout", "-in", str(tmp)], capture_output=True,
                                    text=True, timeout=30, check=False)
        except FileNotFoundError:
            raise BrokerError("the openssl command is missing (it names the revocation list by its issuer's hash): "
                              "run 'apt-get install openssl' (or 'make rabbitmq' as root)") from None
        issuer_hash = result.stdout.strip()
        if result.returncode != 0 or not issuer_hash:
            raise BrokerError(f"not a certificate revocation list (openssl crl: {result.stderr.strip()[-300:]})")
        sync_path(tmp)
        os.replace(tmp, crl_dir / f"{issuer_hash}.r0")
        sync_path(crl_dir)
    finally:
        tmp.unlink(missing_ok=True)


# -- helpers -------------------------------------------------------------------------------------

def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _tls_server_handshake(host: str, port: int, ca_file: str, timeout: float = 5) -> None:
    """The AMQPS listener is up and presents a certificate from `ca_file`'s CA.

    Without a client certificate the broker ends the handshake (TLS 1.2: an alert in it; TLS 1.3:
    an alert right after it); either answer proves the listener serves TLS. A server certificate
    that does not verify is an error.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.check_hostname = False  # the broker's names are checked by every client; here: the chain
    with socket.create_connection((host, port), timeout=timeout) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.recv(1)
        except ssl.SSLCertVerificationError as exc:
            raise BrokerError(f"the broker's TLS certificate does not verify against {ca_file}: {exc}") from None
        except ssl.SSLError:
            return  # the broker refused us for want of a client certificate: it is serving TLS


def _amqp_handshake(url: str, timeout: float = 5) -> None:
    """Readiness is a full AMQP login and an open channel, not an open port.

    Run on a thread of its own so that it works whether or not the caller runs an event loop.
    """
    from nodes.plumbing.amqp import open_connection  # the operator CLI's other commands do not need aio-pika

    async def probe() -> None:
        connection = await open_connection(url, timeout=timeout)
        try:
            await connection.channel()
        finally:
            await connection.close()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(asyncio.wait_for(probe(), timeout))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="somex-broker-probe", daemon=True)
    thread.start()
    thread.join(timeout + 2)
    if thread.is_alive():
        raise BrokerError("AMQP handshake did not finish")
    if errors:
        raise BrokerError(f"AMQP handshake failed: {type(errors[0]).__name__}: {errors[0]}")


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _is_alive(pid: int) -> bool:
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def _is_our_beam(pid: int, state_dir: Path) -> bool:
    """Alive, an Erlang VM, and the one whose HOME is in `state_dir`: a recycled pid is not our broker."""
    if not _is_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"beam" in argv[0] and os.fsencode(state_dir / "home") in argv


def _kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (beam and its port programs), if it is still ours."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        if pgid == pid:  # we started it as a session leader; never signal a group we do not lead
            os.killpg(pgid, signal.SIGKILL)
        elif _is_alive(pid):
            os.kill(pid, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def _child_setup(stop_with_caller: bool) -> Any:
    """A preexec_fn for the broker's processes: umask 077 (its data dir holds queued messages), and
    with `stop_with_caller` the parent-death signal of `die_with_parent`."""
    parent_death_signal = die_with_parent() if stop_with_caller else None

    def setup() -> None:
        os.umask(PRIVATE_UMASK)
        if parent_death_signal is not None:
            parent_death_signal()

    return setup


def die_with_parent() -> Any:
    """A preexec_fn: the child gets SIGTERM (RabbitMQ's graceful shutdown) when its parent dies.

    prctl is looked up here, in the parent: between fork and exec the child only calls it, so it
    takes no lock that another thread of the parent could have held at fork time.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return set_parent_death_signal
