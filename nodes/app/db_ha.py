"""`somex db up|down|status`: the hub's PostgreSQL as a primary and a synchronous standby run by
pg_auto_failover (a monitor and one keeper per data node) on this machine, for tests and for trying
it out (docs/database-ha.md; on separate hosts: docs/deployment.md).

State lives in STATE_DIR/db-ha: `layout.json` (the loopback ports, chosen once), the monitor's and
each node's data directory, their logs and the keepers' pids. Debian's server binaries refuse to
run as root: as root everything runs as the `postgres` user.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nodes.plumbing.cli_support import CliError, emit

DATABASE = "somex"
# Failover timing lowered for tests (`--fast-failover`, docs/database-ha.md): the monitor's health
# checks and how long it waits for a lost primary to have demoted itself (milliseconds), and the
# keepers' network partition timeout (seconds), kept below that wait so that a primary cut off from
# the monitor has stopped taking writes before its standby is promoted. The defaults take ~30-60 s.
FAST_MONITOR = {"pgautofailover.health_check_period": 1000, "pgautofailover.health_check_timeout": 1000,
                "pgautofailover.health_check_max_retries": 1, "pgautofailover.health_check_retry_delay": 500,
                "pgautofailover.node_considered_unhealthy_timeout": 4000,
                "pgautofailover.primary_demote_timeout": 6000}
FAST_KEEPER = {"timeout.network_partition_timeout": 4}


def pg_bin_dir() -> Path | None:
    """The server binaries of the newest PostgreSQL that has the pg_auto_failover extension."""
    found = sorted(Path("/usr/share/postgresql").glob("*/extension/pgautofailover.control"))
    return Path(f"/usr/lib/postgresql/{found[-1].parent.parent.name}/bin") if found else None


def missing_packages() -> str | None:
    """Why the pair cannot run here, or None."""
    if pg_bin_dir() is None or shutil.which("pg_autoctl") is None:
        return ("pg_auto_failover is not installed: apt-get install postgresql-15-auto-failover "
                "pg-auto-failover-cli (make test does it)")
    return None


@dataclass
class Layout:
    monitor_port: int
    ports: list[int]

    @property
    def names(self) -> list[str]:
        return [f"node{i + 1}" for i in range(len(self.ports))]


class HaCluster:
    """The monitor and the data nodes under `root`, driven through pg_autoctl."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._as_postgres = os.geteuid() == 0
        self._bin = pg_bin_dir()

    # -- layout -------------------------------------------------------------------------------------

    @property
    def layout_file(self) -> Path:
        return self.root / "layout.json"

    def layout(self) -> Layout | None:
        if not self.layout_file.exists():
            return None
        raw = json.loads(self.layout_file.read_text())
        return Layout(raw["monitor_port"], raw["ports"])

    def _choose_layout(self, replicas: int) -> Layout:
        from nodes.plumbing.rabbit import free_port

        found = self.layout()
        if found is not None:
            if len(found.ports) != replicas + 1:
                raise CliError(f"the pair in {self.root} was made with {len(found.ports) - 1} replica(s): "
                               f"'somex db up --replicas {len(found.ports) - 1}', or remove {self.root} to start over")
            return found
        made = Layout(free_port(), [free_port() for _ in range(replicas + 1)])
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.layout_file.write_text(json.dumps({"monitor_port": made.monitor_port, "ports": made.ports}))
        return made

    def url(self, user: str = "postgres") -> str:
        """The hub's URL: every data node, writes only to the primary (libpq's target_session_attrs)."""
        layout = self.layout()
        if layout is None:
            raise CliError(f"no database pair in {self.root}: run 'somex db up --replicas 1' first")
        hosts = "&".join(f"host=127.0.0.1:{port}" for port in layout.ports)
        return f"postgresql+psycopg://{user}@/{DATABASE}?{hosts}&target_session_attrs=read-write"

    def monitor_uri(self) -> str:
        layout = self.layout()
        assert layout is not None
        return f"postgres://autoctl_node@127.0.0.1:{layout.monitor_port}/pg_auto_failover?sslmode=disable"

    # -- processes ----------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self._bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "XDG_CONFIG_HOME": str(self.root / "config"), "XDG_DATA_HOME": str(self.root / "share"),
                "XDG_RUNTIME_DIR": str(self.root / "run")}

    def _argv(self, *argv: str) -> list[str]:
        env = [f"{k}={v}" for k, v in self._env().items() if k.startswith(("XDG_", "PATH", "PG_"))]
        command = ["env", *env, shutil.which("pg_autoctl") or "pg_autoctl", *argv]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run(self._argv(*argv), capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise CliError(f"pg_autoctl {' '.join(argv[:2])} failed: "
                           f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}; see {self.root}/*.log")
        return done

    def _spawn(self, name: str, *argv: str) -> None:
        """A keeper (or the monitor) running in the background, its own session, pid recorded."""
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(self._argv(*argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=self.root)
        log.close()
        (self.root / f"{name}.pid").write_text(str(process.pid))

    def pid(self, name: str) -> int | None:
        path = self.root / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if stat.rsplit(")", 1)[1].split()[0] == "Z":  # exited, and this process started it (tests)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return None
        return pid

    def _prepare_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in ("config", "share", "run"):
            (self.root / sub).mkdir(exist_ok=True, mode=0o700)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, *self.root.iterdir()):
                if path.is_dir() or path.suffix in (".log", ".json"):
                    os.chown(path, user.pw_uid, user.pw_gid)
            for parent in self.root.parents:  # the server must be able to reach its data dir
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)

    def up(self, replicas: int = 1, fast_failover: bool = False, timeout: float = 120) -> str:
        why = missing_packages()
        if why:
            raise CliError(why)
        layout = self._choose_layout(replicas)
        self._prepare_root()
        monitor = self.root / "monitor"
        if self.pid("monitor") is None:
            if (monitor / "PG_VERSION").exists():
                self._spawn("monitor", "run", "--pgdata", str(monitor))
            else:
                self._spawn("monitor", "create", "monitor", "--pgdata", str(monitor), "--pgport",
                            str(layout.monitor_port), "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl",
                            "--pgctl", str(self._bin / "pg_ctl"), "--run")
        self._wait(lambda: self._monitor_ready(), timeout, "the monitor accepting connections", "monitor")
        if fast_failover:
            self._tune_monitor()
        for index, (name, port) in enumerate(zip(layout.names, layout.ports)):
            data = self.root / name
            if self.pid(name) is not None:
                continue
            if (data / "PG_VERSION").exists():
                self._spawn(name, "run", "--pgdata", str(data))
            else:
                self._spawn(name, "create", "postgres", "--pgdata", str(data), "--pgport", str(port),
                            "--hostname", "127.0.0.1", "--name", name, "--dbname", DATABASE, "--auth", "trust",
                            "--no-ssl", "--pgctl", str(self._bin / "pg_ctl"), "--monitor", self.monitor_uri(),
                            "--run")
                if index == 0:  # the first registers as the primary before the next copies it
                    self._wait(lambda: "single" in self._states().values() or
                               "primary" in self._states().values(), timeout, f"{name} running as primary", name)
        self._wait(lambda: self._copied(layout), timeout, "a primary with its synchronous standby")
        if fast_failover:
            for name in layout.names:
                for key, value in FAST_KEEPER.items():
                    self._run("config", "set", "--pgdata", str(self.root / name), key, str(value))
        return self.url()

    def _monitor_ready(self) -> bool:
        return self._psql_monitor("SELECT 1", check=False) == "1"

    def _psql_monitor(self, sql: str, check: bool = True) -> str:
        layout = self.layout()
        assert layout is not None
        return self._psql(layout.monitor_port, "pg_auto_failover", sql, check)

    def _psql(self, port: int, database: str, sql: str, check: bool = True) -> str:
        argv = [str(self._bin / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                "-d", database, "-At", "-c", sql]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if check and done.returncode != 0:
            raise CliError(f"the monitor refused {sql!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def _tune_monitor(self) -> None:
        for key, value in FAST_MONITOR.items():
            self._psql_monitor(f"ALTER SYSTEM SET {key} TO {value}")
        self._psql_monitor("SELECT pg_reload_conf()")

    def _states(self) -> dict[str, str]:
        """{node name: reported state} from the monitor (empty when it does not answer)."""
        out = self._psql_monitor("SELECT nodename || '=' || reportedstate || '/' || goalstate "
                                 "FROM pgautofailover.node ORDER BY nodeid", check=False)
        states = {}
        for line in out.splitlines():
            if "=" in line:
                name, state = line.split("=", 1)
                reported, goal = state.split("/", 1)
                states[name] = reported if reported == goal else f"{reported}->{goal}"
        return states

    def _copied(self, layout: Layout) -> bool:
        """Healthy yet? If not, hurry the primary's checkpoint: a standby's first copy
        (pg_basebackup) otherwise waits for a spread checkpoint, about 90 s."""
        if self.healthy(len(layout.ports)):
            return True
        primary = self.primary() or layout.names[0]
        self._psql(layout.ports[layout.names.index(primary)], DATABASE, "CHECKPOINT", check=False)
        return False

    def healthy(self, nodes: int) -> bool:
        states = list(self._states().values())
        return len(states) == nodes and states.count("primary") == 1 and states.count("secondary") == nodes - 1

    def primary(self) -> str | None:
        return next((name for name, state in self._states().items()
                     if state in ("primary", "wait_primary", "single")), None)

    def status(self) -> dict:
        layout = self.layout()
        if layout is None:
            raise CliError(f"no database pair in {self.root}: run 'somex db up --replicas 1' first")
        states = self._states() if self.pid("monitor") else {}
        return {"monitor": {"port": layout.monitor_port, "running": self.pid("monitor") is not None},
                "nodes": [{"name": name, "port": port, "running": self.pid(name) is not None,
                           "state": states.get(name, "unknown")} for name, port in zip(layout.names, layout.ports)],
                "url": self.url()}

    def kill(self, name: str) -> None:
        """SIGKILL a data node's keeper and its PostgreSQL, as losing the host would (tests)."""
        pid = self.pid(name)
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
        pidfile = self.root / name / "postmaster.pid"
        if pidfile.exists():  # the postmaster, should it have left the keeper's process group
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _kill_every_process_of(self.root / name)


    def down(self) -> list[str]:
        layout = self.layout()
        if layout is None:
            return []
        stopped = []
        for name in [*layout.names, "monitor"]:
            pid = self.pid(name)
            data = self.root / name
            if pid is None:
                _kill_every_process_of(data)  # a service orphaned by a killed keeper
                continue
            self._run("stop", "--pgdata", str(data), "--fast", check=False, timeout=60)
            deadline = time.monotonic() + 30
            while self.pid(name) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            try:  # whatever is left of its session (a keeper's service orphaned by a crash)
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _kill_every_process_of(data)
            stopped.append(name)
        return stopped

    def _wait(self, condition, timeout: float, what: str, process: str | None = None) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition():
            if process is not None and self.pid(process) is None:
                last = (self.root / f"{process}.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise CliError(f"{process} stopped while waiting for {what}: {last}; see {self.root}/{process}.log")
            if time.monotonic() > deadline:
                raise CliError(f"timed out waiting for {what}: see the logs in {self.root}")
            time.sleep(0.5)


# -- the commands -----------------------------------------------------------------------------------

def add_db_ha_parsers(db: argparse._SubParsersAction) -> None:
    up = db.add_parser("up", help="start the hub's PostgreSQL as a primary and synchronous standby(s) with "
                                  "pg_auto_failover on this machine (tests, trying it out); prints the hub's URL")
    up.add_argument("--replicas", type=int, default=1, choices=[1], help="synchronous standbys (1)")
    up.add_argument("--fast-failover", action="store_true",
                    help="lower the failover manager's health-check timings (tests; docs/database-ha.md)")
    down = db.add_parser("down", help="stop the pair and its monitor (data kept: 'somex db up' starts them again)")
    status = db.add_parser("status", help="the monitor's and the data nodes' state, and the hub's URL")
    for parser in (up, down, status):
        parser.add_argument("--dir", type=Path, help="where the pair keeps its data (default: STATE_DIR/db-ha; as "
                                                    "root, a directory the postgres user can reach)")


def run_db_ha(args: argparse.Namespace) -> int:
    cluster = HaCluster(args.dir or args.state_dir / "db-ha")
    if args.action == "up":
        url = cluster.up(args.replicas, args.fast_failover)
        emit(args, {"url": url, **cluster.status()},
             f"primary and synchronous standby running (pg_auto_failover); start the hub with: "
             f"somex hub run --db '{url}'")
    elif args.action == "down":
        stopped = cluster.down()
        emit(args, {"stopped": stopped}, f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    else:
        status = cluster.status()
        lines = [f"monitor 127.0.0.1:{status['monitor']['port']} "
                 f"{'running' if status['monitor']['running'] else 'stopped'}"]
        lines += [f"{n['name']} 127.0.0.1:{n['port']} {n['state']}" + ("" if n["running"] else " (stopped)")
                  for n in status["nodes"]]
        emit(args, status, "\n".join([*lines, f"hub URL: {status['url']}"]))
    return 0


def _kill_every_process_of(data: Path) -> None:
    """SIGKILL whatever still runs for the data directory `data`: a keeper's `start/stop postgres`
    service (PGDATA in its environment) or a postgres (`-D data`) that left the keeper's process
    group. Left alive, such a service starts the killed node's PostgreSQL again, so a "lost" primary
    comes back healthy and the monitor never promotes its standby."""
    marker_env, marker_arg = f"PGDATA={data}".encode(), os.fsencode(str(data))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker_env in environ or (b"-D" in argv and marker_arg in argv):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
