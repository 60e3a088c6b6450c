"""Issue 22, item 5: unreadable storage at start-up ends in one line (the file, the error, the
recovery) and exit code 2, never a traceback: damaged databases, deployment record, federation files."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from nodes.hub.audit import AuditStore
from nodes.national.store import NodeStore, outbox
from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from nodes.plumbing.rabbit import free_port

pytestmark = [pytest.mark.timeout(120)]
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir with a federation, a deployment (no broker needed: start-up stops before it) and
    real hub and node databases with a few hundred pages of data."""
    state = tmp_path_factory.mktemp("unreadable") / "state"
    init_federation(state / "federation", "unreadable", ["MEX"], NOW)
    deployment = Deployment(state, free_port(), hub_http_port=free_port(), node_http_ports={"MEX": free_port()})
    deployment.save()
    store = NodeStore(make_engine(deployment.node_config("MEX").db_url))
    with store.engine.begin() as conn:
        conn.execute(insert(outbox), [{"message_id": f"m-{i}", "raw": bytes(2000), "queued_at": "t"} for i in range(500)])
    store.engine.dispose()
    hub_engine = make_engine(deployment.hub_config().db_url)
    AuditStore(hub_engine, "unreadable", load_federation(state / "federation", NOW).credentials("HUB").signing_key)
    hub_engine.dispose()
    return state


def _overwrite(path: Path, offset: int, size: int = 3000) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * size)


def _interior_page(path: Path) -> int:
    """The byte offset of the outbox table's root page: damage there is found on the first read."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
    return (root - 1) * page_size + 8


def _node_db(state: Path) -> Path:
    return state / "nodes" / "MEX" / "node.db"


def _not_a_database(state: Path) -> Path:
    _overwrite(_node_db(state), 0, 100)
    return _node_db(state)


def _malformed_node_db(state: Path) -> Path:
    _overwrite(_node_db(state), _interior_page(_node_db(state)))
    return _node_db(state)


def _node_db_is_a_directory(state: Path) -> Path:
    path = _node_db(state)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()
    return path


def _malformed_hub_db(state: Path) -> Path:
    path = state / "hub" / "audit.db"
    _overwrite(path, 100, 3900)  # the schema on page 1
    return path


def _garbled_deployment(state: Path) -> Path:
    (state / "deployment.json").write_text('{"amqp_port": 5672,')
    return state / "deployment.json"


def _garbled_signing_key(state: Path) -> Path:
    path = state / "federation" / "nodes" / "MEX" / "signing.key"
    path.write_text("not a key")
    return state / "federation"


def _garbled_broker_record(state: Path) -> Path:
    (state / "broker").mkdir(mode=0o700)
    (state / "broker" / "broker.json").write_text('{"amqp_port": ')
    return state / "broker" / "broker.json"


CASES: dict[str, tuple[Callable[[Path], Path], list[str], str, str]] = {
    # name: (damage, command, words of the error, words of the recovery)
    "not_a_database": (_not_a_database, ["node", "run", "--country", "MEX"], "file is not a database", "backup"),
    "malformed": (_malformed_node_db, ["node", "run", "--country", "MEX"], "malformed", "backup"),
    "directory": (_node_db_is_a_directory, ["node", "run", "--country", "MEX"], "not a regular file", "owned by"),
    "hub_malformed": (_malformed_hub_db, ["hub", "run"], "malformed", "backup"),
    "deployment": (_garbled_deployment, ["node", "run", "--country", "MEX"], "Expecting", "somex broker up"),
    "broker_record": (_garbled_broker_record, ["broker", "up"], "JSONDecodeError", "backup"),
    "federation": (_garbled_signing_key, ["node", "run", "--country", "MEX"], "PEM", "backup"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unreadable_storage_at_start_up_is_one_line_naming_file_error_and_recovery_and_exit_2(
        pristine: Path, tmp_path: Path, case: str) -> None:
    damage, command, error, recovery = CASES[case]
    state = tmp_path / "state"
    shutil.copytree(pristine, state)  # a copy: the damage is this test's alone
    named = damage(state)
    result = subprocess.run([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(state), *command],
                            capture_output=True, text=True, timeout=60, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    assert str(named) in lines[0] and error in lines[0] and recovery in lines[0], lines[0]
    assert "Traceback" not in result.stderr
