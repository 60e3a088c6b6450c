"""A private PostgreSQL server for tests and benchmarks: own data dir, loopback port, trust auth.

Production points the hub at a managed PostgreSQL through its URL; this exists so the test suite
can prove the audit log on the real thing. Debian's server binaries refuse to run as root, so as
root the server runs as the `postgres` user that the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: 'apt-get install postgresql' (make test does it)")
    return found[-1]


class PrivatePostgres:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.data = self.state_dir / "data"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else list(argv)
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            log = self.state_dir / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no server log)"
            raise RuntimeError(f"{Path(argv[0]).name} failed (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-800:]}\nserver log, last lines:\n{tail}")
        return done

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.state_dir, user.pw_uid, user.pw_gid)
            for parent in self.state_dir.parents:  # the server must be able to reach its data dir
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        if not self.data.exists():
            self._run(_bin("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.state_dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.state_dir / "server.log"),
                  "-w", "-t", "60", "start")
        deadline = time.monotonic() + 30
        while self._run(_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{(self.state_dir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.data.exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        psql = shutil.which("psql") or _bin("psql")
        self._run(psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"
