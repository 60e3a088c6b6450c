"""A PostgreSQL primary and synchronous standby under pg_auto_failover for system tests, started and
stopped with the commands an operator uses (`somex db up --fast-failover`, `somex db down`);
`HaCluster` (nodes/app/db_ha.py) reads their state and kills a node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodes.app.db_ha import HaCluster, missing_packages

__all__ = ["HaCluster", "ha_pair", "missing_packages"]


def _somex_db(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "nodes.app.cli", "--json", "db", *args], capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@contextmanager
def ha_pair(root: Path) -> Iterator[HaCluster]:
    """A running pair (monitor, primary, synchronous standby); stopped afterwards, whatever happens."""
    cluster = HaCluster(root)
    try:
        started = _somex_db("up", "--replicas", "1", "--fast-failover", "--dir", str(root))
        assert started["url"] == cluster.url()
        assert [n["state"] for n in _somex_db("status", "--dir", str(root))["nodes"]] == ["primary", "secondary"]
        yield cluster
    finally:
        subprocess.run([sys.executable, "-m", "nodes.app.cli", "db", "down", "--dir", str(root)],
                       capture_output=True, timeout=240, check=False)
