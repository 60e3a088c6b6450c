"""A PostgreSQL primary and synchronous standby under pg_auto_failover for system tests
(nodes/app/db_ha.py, the code behind `somex db up`), with the failover timings lowered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodes.app.db_ha import HaCluster, missing_packages

__all__ = ["HaCluster", "ha_pair", "missing_packages"]


@contextmanager
def ha_pair(root: Path) -> Iterator[HaCluster]:
    """A running pair (monitor, primary, synchronous standby); stopped afterwards, whatever happens."""
    cluster = HaCluster(root)
    try:
        cluster.up(replicas=1, fast_failover=True)
        yield cluster
    finally:
        cluster.down()
