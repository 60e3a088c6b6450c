"""Transient is not poison (issue 22): a failure of the hub's or a node's own storage never counts
toward a message's delivery limit. The consumer holds its batch unacked, raises an alarm, retries
with backoff and resumes when storage is back: every message delivered once, audited once, nothing
dead-lettered."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import event

import broker_config
from nodes.hub.relay import Hub
from nodes.plumbing import amqp
from nodes.plumbing.config import HubConfig
from tests.integration.federation import RunningFederation, eventually, make_federation

pytestmark = pytest.mark.integration

NOTES = 25  # per sender


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry often, so that the old behaviour (nack, requeue) would pass the delivery limit many times over."""
    monkeypatch.setattr(amqp, "RETRY_FIRST_DELAY", 0.05)
    monkeypatch.setattr(amqp, "RETRY_MAX_DELAY", 0.2)


@pytest.fixture
def small_filesystem(tmp_path: Path):  # noqa: ANN201
    """A 4 MiB tmpfs this test mounts (root only) and unmounts afterwards."""
    mount = tmp_path / "hub-state"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (tests/integration: run as root in CI)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def _dead_letters(broker, fed: RunningFederation) -> int:  # noqa: ANN001
    queue = broker.api("GET", f"/api/queues/{fed.vhost}/{broker_config.DEAD_LETTER_QUEUE}")
    return int(queue.get("messages", 0) or 0)


async def _send_numbered(fed: RunningFederation) -> list[str]:
    ids = []
    for i in range(NOTES):
        for country in ("MEX", "ITA"):
            ids.append((await fed.nodes[country].send("note", ["IDN"], body={"text": f"{country} #{i}"})).id)
    return ids


def _all_delivered_once(fed: RunningFederation, ids: list[str]) -> bool:
    stored = [m.message_id for m in fed.inbox("IDN", type="note", limit=10_000)]
    assert len(stored) == len(set(stored))
    return set(ids) <= set(stored)


async def test_a_full_disk_under_the_hub_delays_and_never_loses_or_dead_letters(
        broker, tmp_path: Path, request: pytest.FixtureRequest, small_filesystem: Path, fast_retries: None) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, request.node.name)
    hub = Hub(HubConfig(fed.path / "federation", f"sqlite:///{small_filesystem / 'audit.db'}", fed.address),
              fed.federation)
    try:
        await hub.start()
        fed.hub = hub
        for country in fed.federation.directory.node_ids():
            await fed.start_node(country)
        await hub.wait_connected()
        warmup = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "before"})
        await eventually(lambda: fed.nodes["IDN"].store.get(warmup.id), what="traffic before the fault")

        filler = _fill(small_filesystem)
        ids = await _send_numbered(fed)
        await eventually(lambda: hub.alarms.is_open(amqp.STORAGE_ALARM), what="the hub's storage alarm")
        # Held and retried well past the delivery limit (5) that a nack per failure would have spent.
        await eventually(lambda: hub.alarms.retries >= 3 * broker_config.DELIVERY_LIMIT, timeout=60,
                         what="retries while the disk is full")
        assert hub.alarms.open()[0].reason == "storage_unavailable"
        filler.unlink()

        await eventually(lambda: _all_delivered_once(fed, ids), timeout=60, what="every note at IDN")
        await eventually(lambda: not hub.alarms.open(), what="the alarm cleared")
        assert hub.alarms.raised >= 1 and hub.alarms.cleared >= 1
        for message_id in ids:
            assert [e["verdict"] for e in hub.store.trail(message_id=message_id)] == ["accepted"]
        assert not [e for e in hub.store.trail() if e["verdict"] in ("dead_lettered", "unroutable")]
        assert _dead_letters(broker, fed) == 0
    finally:
        await fed.stop_all()
        fed.delete(broker)


async def test_a_failing_node_database_keeps_messages_in_its_inbox_until_it_works(
        fed: RunningFederation, broker, fast_retries: None) -> None:  # noqa: ANN001
    idn = fed.nodes["IDN"]
    failing = {"on": False}

    @event.listens_for(idn.store.engine, "before_cursor_execute")
    def _disk_io_error(*_args) -> None:  # noqa: ANN002
        if failing["on"]:
            raise sqlite3.OperationalError("disk I/O error")

    failing["on"] = True
    ids = await _send_numbered(fed)
    await eventually(lambda: idn.alarms.is_open(amqp.STORAGE_ALARM), what="IDN's storage alarm")
    await eventually(lambda: idn.alarms.retries >= 3 * broker_config.DELIVERY_LIMIT, timeout=60,
                     what="retries while the database fails")
    failing["on"] = False

    await eventually(lambda: _all_delivered_once(fed, ids), timeout=60, what="every note at IDN")
    await eventually(lambda: not idn.alarms.open(), what="the alarm cleared")
    assert not [e for e in fed.audit() if e["verdict"] in ("dead_lettered", "unroutable")]
    assert _dead_letters(broker, fed) == 0
    assert not idn.store.refusals()
