"""The hub's record of forwards done (table `forwarded`) rides in the next batch's append
transaction (issue 19): one write transaction per batch, and still every forward done recorded,
whether another batch follows, none does, or the hub stops. In process, without a broker."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from sqlalchemy import event, select

from crypto.signing import sign_envelope
from nodes.hub.audit import forwarded
from nodes.hub.relay import Hub
from nodes.plumbing.amqp import settle_batch
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.federation import Federation
from protocol import envelope as wire
from tests.integration.test_pipeline_fuzz import FakeDelivery

from tests.support.hub import hub_without_broker

pytestmark = pytest.mark.integration
LOG = structlog.get_logger("test.forward_records")


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = hub_without_broker(tmp_path, "somex-forwards")
    yield hub
    hub.engine.dispose()


def _note(federation: Federation) -> FakeDelivery:
    env = sign_envelope(wire.build(message_id=new_message_id(), type="note", sender="MEX", recipients=["IDN"],
                                   created=utcnow(), ttl=timedelta(hours=1), body={"text": "hello"}),
                        federation.credentials("MEX").signing_key)
    return FakeDelivery(wire.encode(env), federation.directory.node("MEX").broker_user, env.id)


async def _process(hub: Hub, batch: list[FakeDelivery]) -> list[int]:
    await settle_batch(batch, hub._process, hub._refuse_alone, LOG, hub.alarms)
    assert all(d.acked for d in batch)
    return [e["seq"] for d in batch for e in hub.store.trail(message_id=d.message_id)]


def _recorded(hub: Hub) -> set[int]:
    with hub.engine.connect() as conn:
        return set(conn.execute(select(forwarded.c.seq)).scalars())


def test_a_batch_commits_once_and_records_the_forwards_of_the_batch_before(hub: Hub) -> None:
    hub.forward_records.delay = 60  # no write of its own in between: the next batch takes the records

    async def scenario() -> None:
        first = await _process(hub, [_note(hub.federation), _note(hub.federation)])
        commits: list[int] = []
        event.listen(hub.engine, "commit", lambda conn: commits.append(1))
        second = await _process(hub, [_note(hub.federation)])
        assert len(commits) == 1, "one write transaction for the batch: entries and the forwards done before it"
        assert set(first) <= _recorded(hub)
        assert not set(second) & _recorded(hub)  # recorded with the next batch, or when none follows
        await hub.forward_records.close()

    asyncio.run(scenario())


def test_forwards_done_are_recorded_when_no_batch_follows(hub: Hub) -> None:
    async def scenario() -> None:
        seqs = await _process(hub, [_note(hub.federation)])
        for _ in range(100):
            if set(seqs) <= _recorded(hub):
                break
            await asyncio.sleep(0.05)
        assert set(seqs) <= _recorded(hub)
        await hub.forward_records.close()

    asyncio.run(scenario())


def test_a_clean_stop_records_the_forwards_pending(hub: Hub) -> None:
    async def scenario() -> None:
        seqs = await _process(hub, [_note(hub.federation)])
        await hub.stop()
        assert set(seqs) <= _recorded(hub)

    asyncio.run(scenario())
