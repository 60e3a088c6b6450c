"""Issue 14, item 6: state dirs 0700, databases (with -wal/-shm) and records 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from nodes.plumbing.db import make_engine
from nodes.plumbing.deployment import Deployment
from nodes.app.ceremony import init_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def loose_umask():  # noqa: ANN201
    old = os.umask(0o022)
    yield
    os.umask(old)


def _loose(root: Path) -> list[str]:
    return [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in [root, *root.rglob("*")]
            if stat.S_IMODE(p.stat().st_mode) & 0o077]


def test_deployment_dirs_and_databases_are_private_under_a_loose_umask(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "state"
    deployment = Deployment(state, 5672, node_http_ports={"MEX": 1})
    deployment.save()
    for url in (deployment.hub_config().db_url, deployment.node_config("MEX").db_url):
        engine = make_engine(url)
        with engine.begin() as conn:  # WAL mode: creates -wal and -shm beside the database
            conn.execute(text("CREATE TABLE t (x TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('a case person')"))
        assert Path(f"{url.removeprefix('sqlite:///')}-wal").exists()
        assert _loose(state) == []
        engine.dispose()
    assert Deployment.load(state).node_http_ports == {"MEX": 1}


def test_an_older_deployments_loose_files_are_tightened_when_opened(tmp_path: Path, loose_umask: None) -> None:
    state = tmp_path / "state"
    (state / "nodes" / "MEX").mkdir(parents=True, mode=0o755)
    for name in ("node.db", "node.db-wal", "node.db-shm"):
        (state / "nodes" / "MEX" / name).touch(mode=0o644)
    os.chmod(state, 0o755)
    deployment = Deployment(state, 5672)
    deployment.save()
    make_engine(deployment.node_config("MEX").db_url).dispose()
    assert _loose(state) == []


def test_a_new_federation_is_private_under_a_loose_umask(tmp_path: Path, loose_umask: None) -> None:
    init_federation(tmp_path / "state" / "federation", "unit", ["MEX"], NOW)
    assert _loose(tmp_path / "state") == []
