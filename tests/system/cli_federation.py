"""A federation run the way an operator runs it: `somex` subprocesses on a state dir of their own
(federation init, broker up, hub run, node run), each process's output in a log outside the state dir."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from nodes.hub.audit import entries, forwarded
from nodes.national.store import messages as message_table
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation import load_federation
from nodes.plumbing.rabbit import PrivateBroker
from tests.integration.federation import eventually


class CliFederation:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def somex(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(self.state), *args],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def must(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.somex(*args)
        assert result.returncode == 0, f"somex {' '.join(args)} -> {result.returncode}:\n{result.stderr[-3000:]}"
        return result

    @property
    def deployment(self) -> dict[str, Any]:
        return json.loads((self.state / "deployment.json").read_text())

    @property
    def broker(self) -> PrivateBroker:
        return PrivateBroker.from_state_dir(self.state / "broker")

    def spawn(self, name: str, *args: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "nodes.app.cli", "--state-dir", str(self.state), *args],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_hub(self) -> None:
        self.spawn("HUB", "hub", "run")

    def start_node(self, country: str) -> None:
        self.spawn(country, "node", "run", "--country", country)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        with contextlib.suppress(Exception):
            self.somex("broker", "down", timeout=60)

    def http_port(self, name: str) -> int:
        deployment = self.deployment
        return deployment["hub_http_port"] if name == "HUB" else deployment["node_http_ports"][name]

    async def health(self, session: aiohttp.ClientSession, name: str) -> dict[str, Any] | None:
        try:
            async with session.get(f"http://127.0.0.1:{self.http_port(name)}/api/health") as response:
                return await response.json() if response.status == 200 else None
        except aiohttp.ClientError:
            return None

    async def wait_linked(self, session: aiohttp.ClientSession, name: str, linked: bool = True,
                          timeout: float = 120) -> None:
        async def probe() -> bool:
            health = await self.health(session, name)
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited ({self.processes[name].returncode}): "
                                     f"{(self.logs / f'{name}.log').read_text()[-3000:]}")
            return health is not None and health.get("broker_connected") is linked
        await eventually(probe, timeout=timeout, what=f"{name}'s health showing broker_connected={linked}")

    async def send_notes(self, session: aiohttp.ClientSession, sender: str, to: str, texts: list[str]) -> list[str]:
        token = load_federation(self.state / "federation", utcnow()).credentials(sender).tokens["focal"]
        ids = []
        for text in texts:
            async with session.post(f"http://127.0.0.1:{self.http_port(sender)}/api/messages",
                                    json={"type": "note", "to": [to], "body": {"text": text}},
                                    headers={"Authorization": f"Bearer {token}"}) as response:
                body = await response.json()
                assert response.status in (200, 201, 202), body
                ids.append(body["id"])
        return ids

    def forwarded_notes(self) -> int:
        """How many notes the hub has audited and forwarded (its forwards are confirmed by the broker)."""
        path = self.state / "hub" / "audit.db"
        if not path.exists():
            return 0
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True))
        try:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(
                    entries.join(forwarded, entries.c.seq == forwarded.c.seq)).where(entries.c.type == "note")
                ).scalar_one()
        except OperationalError:
            return 0
        finally:
            engine.dispose()

    def stored_notes(self, country: str) -> list[str]:
        """The ids of the notes `country` has received (read from its database, as a reader beside it)."""
        path = self.state / "nodes" / country / "node.db"
        if not path.exists():
            return []
        # read-only: the test must not create files of its own (with its own umask) in the state dir
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True))
        try:
            with engine.connect() as conn:
                return list(conn.execute(select(message_table.c.message_id).where(
                    message_table.c.type == "note", message_table.c.direction == "in")).scalars())
        except OperationalError:  # its tables are not created yet
            return []
        finally:
            engine.dispose()


def loose_modes(root: Path) -> list[str]:
    """Every file and directory under `root` that its group or others may read, write or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode & 0o777
        if mode & 0o077 and not path.is_symlink():
            found.append(f"{oct(mode)} {path.relative_to(root.parent)}")
    return found

