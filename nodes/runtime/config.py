"""Process configuration for the hub and the national nodes (plain values, no globals)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protocol.ratelimit import RateLimit

# Per API token (or client address): generous enough for the demo, the tests and a bulk feed.
HTTP_RATE_LIMIT = RateLimit(per_second=100.0, burst=1000)
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
    batch_size: int = 256  # messages per group commit
    prefetch: int = 512
    max_clock_skew: timedelta = timedelta(minutes=5)
    checkpoint_interval: float = 2.0  # seconds between checkpoints while the log grows
    checkpoint_every: int = 1000  # ...or sooner, after this many new entries
    idle_checkpoint_interval: float = 600.0  # when only witness cosignatures were logged since the last
    parked_retry_interval: float = 5.0  # seconds between retries of forwards to a full inbox
    http_rate_limit: RateLimit = HTTP_RATE_LIMIT


@dataclass(frozen=True)
class NodeConfig:
    country: str
    federation_dir: Path
    db_url: str
    broker: BrokerAddress = field(default_factory=BrokerAddress)
    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: pick a free port
    https: HttpsFiles | None = None  # serve the API and console over HTTPS (deployment)
    prefetch: int = 256
    message_ttl: timedelta = timedelta(days=7)
    http_rate_limit: RateLimit = HTTP_RATE_LIMIT
    mla_delivery_timeout: timedelta = timedelta(hours=24)  # no delivery receipt by then: not_delivered
    mla_due_soon: timedelta = timedelta(days=3)  # a deadline this close is listed and reminded
    mla_sweep_interval: float = 60.0  # seconds between checks of delivery timeouts and deadlines
    sealing_suite: str = X25519  # or MLKEM768_X25519: hybrid post-quantum, if every recipient publishes a key
