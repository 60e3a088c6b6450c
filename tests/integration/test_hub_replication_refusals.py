"""A hub whose audit log must be replicated synchronously (a multi-host URL, or
--require-sync-replica) refuses to start, one line and exit code 2, on a server that replicates
asynchronously, and on a multi-host URL that could settle on a read-only standby
(docs/database-ha.md). The private PostgreSQL here is one server: no standby at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodes.plumbing.deployment import Deployment
from nodes.plumbing.rabbit import free_port

pytestmark = [pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]


def somex(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**{k: v for k, v in os.environ.items() if k != "SOMEX_STATE_DIR"}, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nodes.app.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("replication")
    made = somex("--state-dir", "fed", "federation", "init", "--countries", "MEX,IDN", cwd=root)
    assert made.returncode == 0, made.stderr
    Deployment(root / "fed", free_port(), hub_http_port=free_port(),
               node_http_ports={"MEX": free_port(), "IDN": free_port()}).save()
    return root


def _refused(site: Path, *args: str) -> str:
    result = somex("--state-dir", "fed", "hub", "run", *args, cwd=site)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_multi_host_url_without_a_writable_target_is_refused(site: Path, postgres) -> None:  # noqa: ANN001
    postgres.create_database("refuse_target")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port},127.0.0.1:{postgres.port}/refuse_target"
    assert "target_session_attrs=read-write" in _refused(site, "--db", url)
    assert "target_session_attrs=read-write" in _refused(site, "--db", url + "?target_session_attrs=any")


def test_asynchronous_replication_is_refused_where_synchronous_is_required(site: Path, postgres) -> None:  # noqa: ANN001
    url = postgres.create_database("refuse_async")
    line = _refused(site, "--db", url, "--require-sync-replica")
    assert "replicates asynchronously (synchronous_standby_names is empty)" in line
    multi = (f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port},127.0.0.1:{postgres.port}/refuse_async"
             "?target_session_attrs=read-write")  # several hosts: synchronous replication is implied
    assert "replicates asynchronously" in _refused(site, "--db", multi)
