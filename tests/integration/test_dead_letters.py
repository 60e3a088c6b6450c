"""Nothing dead-lettered is lost in silence (issue 22): a dead letter is audited with what can be
read of it, kept at the hub with its bytes, its sender is told, and `somex hub requeue-dead` (audited)
puts it back."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

import broker_config
from nodes.plumbing.amqp import amqp_url, open_connection
from nodes.hub.dead import list_dead_letters, request_requeue
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


async def _dead_letter_from_hub_in(fed: RunningFederation, count: int) -> None:
    """With the hub stopped, take `count` messages from hub.in as the hub's broker user and requeue
    each past the delivery limit, as a hub failing on them used to: the broker dead-letters them."""
    creds = fed.federation.credentials("HUB")
    connection = await open_connection(amqp_url("127.0.0.1", fed.amqp_port, fed.vhost, creds.broker_user,
                                                creds.broker_password), timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(broker_config.HUB_IN_QUEUE, ensure=False)
        nacks = 0
        done = asyncio.Event()

        async def refuse(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal nacks
            await message.nack(requeue=True)
            nacks += 1
            if nacks >= count * (broker_config.DELIVERY_LIMIT + 1):
                done.set()

        await queue.consume(refuse)
        await asyncio.wait_for(done.wait(), 30)


async def test_a_dead_letter_is_audited_kept_told_and_put_back_once(fed: RunningFederation) -> None:
    await fed.hub.stop()
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "lost in the broker"}, thread="case-7")
    await eventually(lambda: fed.nodes["MEX"].store.outbox_depth() == 0, what="MEX's note in hub.in")
    await _dead_letter_from_hub_in(fed, 1)
    await fed.start_hub()

    trail = await eventually(lambda: fed.audit(message_id=sent.id), what="the dead letter audited")
    [entry] = trail
    assert (entry["verdict"], entry["type"], entry["sender"], entry["thread"]) == ("dead_lettered", "note", "MEX",
                                                                                 "case-7")
    told = await eventually(lambda: [m for m in fed.inbox("MEX", type="hub.rejection") if m.body["of"] == sent.id],
                            what="MEX told")
    assert told[0].body["reason"] == "dead_lettered"
    [kept] = fed.hub.store.dead_letters()
    assert kept.message_id == sent.id and kept.queue == broker_config.HUB_IN_QUEUE
    assert fed.nodes["IDN"].store.get(sent.id) is None
    assert "waiting" in list_dead_letters(fed.hub_config())[0]

    assert request_requeue(fed.hub_config(), None, by="operator:test") == [kept.id]
    assert request_requeue(fed.hub_config(), None, by="operator:test") == []  # asked once
    await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="the note delivered after requeue-dead")
    verdicts = await eventually(lambda: (v := [e["verdict"] for e in fed.audit(message_id=sent.id)])
                                and len(v) == 3 and v, what="the requeue audited")
    assert verdicts == ["dead_lettered", "requeued", "accepted"]
    await eventually(lambda: fed.hub.store.dead_letters()[0].requeued_at, what="marked put back")
    assert [m.message_id for m in fed.inbox("IDN", type="note")] == [sent.id]
