"""A hub without a broker, for tests of its decision, log and forwarding records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nodes.app.ceremony import init_federation
from nodes.hub.relay import Copies, Forward, Hub
from nodes.plumbing.config import BrokerAddress, HubConfig, utcnow
from nodes.plumbing.federation import load_federation


def hub_without_broker(tmp_path: Path, name: str, **config: Any) -> Hub:
    """A hub of a fresh federation (MEX, IDN) in `tmp_path`, not started; every forward it publishes is
    confirmed at once and kept in `hub.sent`. Dispose of `hub.engine` after the test."""
    init_federation(tmp_path / "federation", name, ["MEX", "IDN"], utcnow())
    federation = load_federation(tmp_path / "federation", utcnow())
    hub = Hub(HubConfig(tmp_path / "federation", f"sqlite:///{tmp_path / 'audit.db'}", BrokerAddress(), **config),
              federation)
    hub.sent = []

    async def confirmed(forwards: list[Forward | Copies]) -> list[Forward]:
        hub.sent += forwards
        return []  # every publish confirmed

    hub._forward = confirmed  # type: ignore[method-assign]
    return hub
