"""A national node's gauges for `GET /metrics` (nodes/plumbing/metrics.py): read when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import Metric

from nodes.national.witness import latest_witnessed
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation_state import federation_alarms
from nodes.plumbing.metrics import days_until, gauge, seconds_since

if TYPE_CHECKING:
    from nodes.national.parts import Gauged


def node_gauges(node: Gauged) -> Iterable[Metric]:
    now = utcnow()
    witnessed = latest_witnessed(node)
    yield gauge("somex_outbox_depth", "Signed messages waiting to be published to the hub", node.store.outbox_depth())
    yield gauge("somex_inbox_backlog", "Deliveries taken from the broker, not yet stored", node.inbox_backlog)
    yield gauge("somex_checkpoint_age_seconds", "Seconds since the newest checkpoint this node witnessed",
                seconds_since(witnessed["at"] if witnessed else None, now))
    yield gauge("somex_broker_connected", "1 while the broker link is up", float(node.broker_connected))
    yield gauge("somex_alarms_open", "Open alarms (storage, broker, witness, federation documents)",
                len(node.alarms.active()) + len(federation_alarms(node.federation, now)))
    yield gauge("somex_directory_expiry_days", "Days until the directory in use expires",
                days_until(node.federation.directory.expires, now))
    yield gauge("somex_certificate_expiry_days", "Days until this node's signing certificate expires",
                days_until(node.creds.certificate.not_valid_after_utc, now))
