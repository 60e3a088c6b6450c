"""Process configuration for the hub and the national nodes (plain values, no globals)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from protocol.ratelimit import RateLimit

# Per API token (or client address): generous enough for the demo, the tests and a bulk feed.
HTTP_RATE_LIMIT = RateLimit(per_second=100.0, burst=1000)
# Per client address, for requests that present only invalid tokens or failed logins (a right token
# never spends from it): a person mistyping or an operator's stale token stays well inside it.
HTTP_FAILURE_LIMIT = RateLimit(per_second=1.0, burst=30)
from crypto.sealing import X25519


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_message_id() -> str:
    from protocol.ids import uuid7

    return uuid7(int(utcnow().timestamp() * 1000), os.urandom(10))


@dataclass(frozen=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 5672
    vhost: str = "somex"
    more_ports: tuple[int, ...] = ()  # the other nodes of a RabbitMQ cluster on this host
    heartbeat: int | None = None  # AMQP heartbeat seconds to ask for (None: the broker's, 60 s)
    # AMQPS with the process's TLS client certificate (EXTERNAL login) instead of plain AMQP with a
    # password: the deployed form (docs/pki.md). `host` must be a name in the broker's certificate.
    tls: bool = False

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, *self.more_ports)


@dataclass(frozen=True)
class HttpsFiles:
    """The HTTP API's and console's certificate (chain first) and key: HTTPS instead of HTTP."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class HubConfig:
    federation_dir: Path
    db_url: str
    broker: BrokerAddress = field(default_factory=BrokerAddress)
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: no auditor API
    https: HttpsFiles | None = None  # serve the API and console over HTTPS (deployment)
    api_record: Path | None = None  # where the serving hub writes its API URL for clients (api_client.py)
    batch_size: int = 256  # messages per group commit
    prefetch: int = 512
    verify_workers: int = 0  # processes checking a batch's signatures while the hub decides (0: in-process; docs/performance.md "hub19d")
    max_clock_skew: timedelta = timedelta(minutes=5)
    checkpoint_interval: float = 2.0  # seconds between checkpoints while the log grows
    checkpoint_every: int = 1000  # ...or sooner, after this many new entries
    idle_checkpoint_interval: float = 600.0  # when only witness cosignatures were logged since the last
    parked_retry_interval: float = 5.0  # seconds between retries of forwards to a full inbox
    http_rate_limit: RateLimit = HTTP_RATE_LIMIT
    http_failure_limit: RateLimit = HTTP_FAILURE_LIMIT
    inbox_watch_interval: float = 5.0  # seconds between looks at each recipient's inbox (watchdog)
    inbox_stall_alarm: float = 60.0  # an inbox that grows unconsumed this long raises an alarm


class BadNodeConfig(ValueError):
    """The node config file, or what it says, is not what this node accepts: it refuses to start
    (one line, exit 2)."""


def node_config_features(document: Any) -> dict[str, dict[str, Any]]:
    """The `features` section of a parsed node config file (`{"features": {"person":
    {"review_default_years": 3}}}`), its shape checked; the features check their settings at start
    (nodes/national/feature.py, resolve_settings)."""
    if not isinstance(document, dict) or set(document) - {"features"}:
        raise BadNodeConfig('the node config file is a JSON object with one section, "features": '
                            '{"<feature>": {"<setting>": value}}')
    features = document.get("features", {})
    if not isinstance(features, dict) or not all(isinstance(v, dict) for v in features.values()):
        raise BadNodeConfig('"features": an object of objects, {"<feature>": {"<setting>": value}}')
    return features


@dataclass(frozen=True)
class NodeConfig:
    country: str
    federation_dir: Path
    db_url: str
    broker: BrokerAddress = field(default_factory=BrokerAddress)
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: pick a free port
    https: HttpsFiles | None = None  # serve the API and console over HTTPS (deployment)
    api_record: Path | None = None  # where the serving node writes its API URL for clients (api_client.py)
    prefetch: int = 256
    message_ttl: timedelta = timedelta(days=7)
    http_rate_limit: RateLimit = HTTP_RATE_LIMIT
    http_failure_limit: RateLimit = HTTP_FAILURE_LIMIT
    mla_delivery_timeout: timedelta = timedelta(hours=24)  # no delivery receipt by then: not_delivered
    mla_due_soon: timedelta = timedelta(days=3)  # a deadline this close is listed and reminded
    mla_sweep_interval: float = 60.0  # seconds between checks of delivery timeouts and deadlines
    delivery_deadline: timedelta = timedelta(minutes=10)  # no receipt by then: alarm, re-send (delivery.py)
    delivery_sweep_interval: float = 5.0  # seconds between checks of delivery deadlines
    hub_silence_alarm: float = 60.0  # seconds without any word from the hub while it owes one (watchdogs.py)
    clock_skew_alarm: timedelta = timedelta(minutes=2)  # well below the hub's max_clock_skew
    sealing_suite: str = X25519  # or MLKEM768_X25519: hybrid post-quantum, if every recipient publishes a key
    # Split-view detection (docs/audit-log.md): the hub's public log API, and peer witnesses' node APIs
    # (country -> base URL) whose latest cosigned checkpoints this node compares with its own.
    hub_api_url: str | None = None
    witness_peers: Mapping[str, str] = field(default_factory=dict)
    log_watch_interval: float = 60.0  # seconds between peer comparisons and log-receipt proof checks
    evidence_dir: Path | None = None  # where conflicting signed notes are saved (default: next to the database)
    # Message classes' own settings, feature -> setting -> value, from the node config file's
    # `"features"` section (read_node_config_file); checked against each feature's declared settings at start.
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
