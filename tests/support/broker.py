"""Broker set-ups of the tests and benchmarks only: never part of a deployment."""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodes.plumbing.rabbit import ADMIN_USER, PrivateBroker, free_port


def admin_vhost(broker: PrivateBroker, vhost: str) -> None:
    """A vhost where the administrator may do anything over AMQP (raw aio-pika baselines only)."""
    broker.api("PUT", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}", {})
    broker.set_permissions(vhost, ADMIN_USER, ".*", ".*", ".*")


@contextmanager
def bench_broker(vhost: str) -> Iterator[str]:
    """A private broker on loopback for one benchmark, with `vhost` the admin may use: its URL.
    Stopped and its files deleted when the block ends."""
    with tempfile.TemporaryDirectory(prefix="somex-bench-") as tmp:
        broker = PrivateBroker(Path(tmp) / "broker", amqp_port=free_port(), mgmt_port=free_port(),
                               dist_port=free_port(), nodename=f"somex-bench-{os.getpid()}@localhost")
        broker.ensure_installed()
        broker.start()
        try:
            admin_vhost(broker, vhost)
            yield broker.admin_url(vhost)
        finally:
            broker.stop()
