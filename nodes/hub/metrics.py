"""The hub's gauges for `GET /metrics` (nodes/plumbing/metrics.py): read when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import Metric

from nodes.plumbing.config import utcnow
from nodes.plumbing.federation_state import federation_alarms
from nodes.plumbing.metrics import days_until, gauge, labelled_gauge, seconds_since

if TYPE_CHECKING:
    from nodes.hub.web_view import HubView


def hub_gauges(hub: HubView) -> Iterable[Metric]:
    now = utcnow()
    store = hub.store
    size = store.size
    last_at = store.latest_checkpoint_time()
    directory = hub.federation.directory
    yield gauge("somex_log_size", "Entries in the audit log", size)
    yield gauge("somex_checkpoint_age_seconds", "Seconds since the newest signed checkpoint",
                seconds_since(last_at, now))
    yield labelled_gauge("somex_witness_lag_entries", "Log entries not yet covered by each witness's newest "
                         "cosignature", "witness", {w: size - s for w, s in store.witnessed_sizes().items()})
    yield labelled_gauge("somex_parked_forwards", "Forwards parked per recipient (full or missing inbox)",
                         "recipient", {r: float(n) for r, n in store.parked_counts().items()})
    yield gauge("somex_broker_connected", "1 while the broker link is up",
                float(hub.session is not None and hub.session.connected.is_set()))
    yield gauge("somex_alarms_open", "Open alarms (storage, broker, federation documents)",
                len(hub.alarms.active()) + len(federation_alarms(hub.federation, now)))
    yield gauge("somex_directory_expiry_days", "Days until the directory in use expires",
                days_until(directory.expires, now))
    yield labelled_gauge("somex_certificate_expiry_days", "Days until each member's newest signing certificate "
                         "expires", "node", {n: days_until(e.certificates[-1].not_valid_after_utc, now)
                                             for n, e in directory.nodes.items()})
