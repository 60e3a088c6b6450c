"""Prometheus metrics on the API port (issue 18): `GET /metrics`, operator token.

Each process (hub or node) keeps a `Telemetry`: plain counters its hot paths bump (a dict
increment, no lock: one event loop, and the inbox thread only ever adds) and histograms; the
gauges (depths, ages, expiry) are read from the process's state when Prometheus scrapes, in a
thread. One registry per process object, so many nodes in one test process do not collide.

Why a token: the figures carry no personal data, but message volumes by type are traffic analysis
a member may not want public; Prometheus sends the operator token with `authorization:
credentials_file`. docs/operations.md lists every metric; docs/monitoring/prometheus-rules.yml and
docs/monitoring/grafana-dashboard.json use only these names (a test checks it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nodes.plumbing.http import ON_RATE_LIMITED, requires
from nodes.plumbing.openapi import document, op
from protocol.timefmt import parse_time

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Gauges = Callable[[], Iterable[Metric]]
TELEMETRY = web.AppKey("somex_telemetry", object)


class Telemetry:
    def __init__(self, gauges: Gauges) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages: Counter[tuple[str, str, str]] = Counter()  # (type, verdict, reason) → count
        self.rate_limited = 0
        self.delivery_seconds = Histogram(
            "somex_delivery_seconds", "From a message's `created` to its storing at this recipient",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram(
            "somex_batch_seconds", "Time to check, store (durably) and apply one consumed batch",
            buckets=BATCH_BUCKETS, registry=self.registry)
        self.registry.register(_Collector(self, gauges))

    def count(self, type: str, verdict: str, reason: str = "") -> None:
        self.messages[(type, verdict, reason)] += 1

    def note_rate_limited(self) -> None:
        self.rate_limited += 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, telemetry: Telemetry, gauges: Gauges) -> None:
        self._telemetry, self._gauges = telemetry, gauges

    def collect(self) -> Iterable[Metric]:
        counts = CounterMetricFamily("somex_messages", "Messages handled, by type, verdict and reason",
                                     labels=("type", "verdict", "reason"))
        for (type, verdict, reason), n in sorted(self._telemetry.messages.items()):
            counts.add_metric((type, verdict, reason), n)
        yield counts
        yield CounterMetricFamily("somex_http_rate_limited", "API requests refused with 429 rate_limited",
                                  value=self._telemetry.rate_limited)
        yield from self._gauges()


def gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    """A gauge of one value; None (not known yet, e.g. no checkpoint) is exported as NaN."""
    return GaugeMetricFamily(name, documentation, value=float("nan") if value is None else value)


def labelled_gauge(name: str, documentation: str, label: str, values: dict[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=(label,))
    for key, value in sorted(values.items()):
        family.add_metric((key,), value)
    return family


def days_until(moment: datetime, now: datetime) -> float:
    return (moment - now).total_seconds() / 86400


def seconds_since(at: str | None, now: datetime) -> float | None:
    return None if at is None else (now - parse_time(at)).total_seconds()


def serve_metrics(app: web.Application, telemetry: Telemetry) -> None:
    """`GET /metrics` (Prometheus text format) for the operator token."""
    app[TELEMETRY] = telemetry
    app[ON_RATE_LIMITED] = telemetry.note_rate_limited
    app.router.add_get("/metrics", _metrics)
    document(app, {"/metrics": {"get": op(
        "Prometheus metrics: messages by type, verdict and reason; latencies; depths; checkpoint age; "
        "witness lag; expiry; alarms (docs/operations.md)", roles=("operator",), tag="operations",
        ok_content={"text/plain": {"schema": {"type": "string"}}})}})


@requires("operator")
async def _metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(request.app[TELEMETRY].exposition)  # gauges read the database
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


__all__ = ["Telemetry", "days_until", "gauge", "labelled_gauge", "seconds_since", "serve_metrics"]
