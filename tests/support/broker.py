"""Broker set-ups of the tests and benchmarks only: never part of a deployment."""

from __future__ import annotations

import urllib.parse

from nodes.plumbing.rabbit import ADMIN_USER, PrivateBroker


def admin_vhost(broker: PrivateBroker, vhost: str) -> None:
    """A vhost where the administrator may do anything over AMQP (raw aio-pika baselines only)."""
    broker.api("PUT", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}", {})
    broker.set_permissions(vhost, ADMIN_USER, ".*", ".*", ".*")
