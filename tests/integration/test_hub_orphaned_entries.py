"""Entries another hub process appended and never checkpointed (an active hub killed within its
checkpoint interval, its standby taking over a queue with nothing left in it): the surviving hub
finds them in the stored log and signs a checkpoint over them; while the other process signs its
own entries in time, or the growth is only witness cosignatures, it signs nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nodes.hub import checkpoint_publisher
from nodes.hub.audit import ACCEPTED, AuditEntry, AuditStore
from nodes.hub.relay import Hub
from nodes.plumbing.config import utcnow
from nodes.plumbing.db import make_engine
from protocol.timefmt import format_time
from tests.support.hub import hub_without_broker


def _entries(start: int, count: int, type: str = "note") -> list[AuditEntry]:
    return [AuditEntry(verdict=ACCEPTED, digest=f"{i:064x}", received_at="2026-12-03T10:00:00.000000Z",
                       message_id=f"01a20000-0000-7000-8000-{i:012x}", type=type, sender="MEX",
                       recipients=("IDN",) if type == "note" else ("HUB",), thread=None, marks_seen=True)
            for i in range(start, start + count)]


def _other_hub(hub: Hub) -> AuditStore:
    """The log as another hub process of the same deployment sees it: its own sequencer, same key."""
    return AuditStore(make_engine(str(hub.store.engine.url)), hub.origin, hub.signing_key, hub.origin)


async def _checkpoints_while(hub: Hub, seconds: float, step=None) -> None:  # noqa: ANN001
    task = asyncio.create_task(checkpoint_publisher.run_checkpoints(hub))
    try:
        for _ in range(int(seconds / 0.1)):
            await asyncio.sleep(0.1)
            if step is not None:
                step()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setattr(checkpoint_publisher, "ORPHANED_AFTER", 1.0)
    hub = hub_without_broker(tmp_path, "orphans", checkpoint_interval=0.3)
    yield hub
    hub.store.engine.dispose()


async def test_entries_a_dead_hub_left_unsigned_get_a_checkpoint_from_the_survivor(hub: Hub) -> None:
    dead = _other_hub(hub)
    dead.append(_entries(0, 5))
    dead.sign_checkpoint(format_time(utcnow()))
    dead.append(_entries(5, 7))  # then killed before its next checkpoint
    assert hub.store.size == 0 and hub.messages_since_checkpoint == 0  # the survivor has appended nothing

    await _checkpoints_while(hub, 3.0)

    latest = hub.store.latest_checkpoint()
    assert latest is not None and latest[0] == 12
    assert latest[1].body == dead.signed_checkpoint(12).body  # the stored tree's root, signed by the hub's key
    dead.engine.dispose()


async def test_a_live_hub_signing_its_own_entries_in_time_is_never_second_guessed(hub: Hub) -> None:
    active = _other_hub(hub)
    signed_by_active = set()
    count = [0]

    def active_hub_step() -> None:  # signs every 0.3 s (well within 1 s), appends every 0.1 s after signing:
        count[0] += 1               # the survivor never looks at a log without unsigned entries
        if count[0] % 3 == 0:
            note = active.sign_checkpoint(format_time(utcnow()))
            if note is not None:
                signed_by_active.add(active.size)
        active.append(_entries(100 + count[0], 1))

    await _checkpoints_while(hub, 3.0, active_hub_step)
    active.sign_checkpoint(format_time(utcnow()))
    signed_by_active.add(active.size)
    assert set(hub.store.checkpoint_sizes()) == signed_by_active
    active.engine.dispose()


async def test_growth_made_of_cosignatures_alone_waits_for_the_idle_interval(hub: Hub) -> None:
    other = _other_hub(hub)
    other.append(_entries(0, 3))
    other.sign_checkpoint(format_time(utcnow()))
    other.append(_entries(3, 4, type="witness.cosign"))

    await _checkpoints_while(hub, 2.5)

    assert hub.store.checkpoint_sizes() == [3]
    assert hub.store.unsigned_messages() == (3, 0)
    other.engine.dispose()
