"""Least privilege, enforced by RabbitMQ itself: a node reaches only hub.in (as itself) and its
own inbox; the hub only reads hub.in and writes node.out. Nothing unroutable or poisoned vanishes."""

from __future__ import annotations

import asyncio

import aio_pika
import aiormq
import pytest

import broker_config
from tests.integration.federation import RunningFederation, eventually, make_federation

pytestmark = pytest.mark.integration


@pytest.fixture
def topo(broker, tmp_path, request):  # noqa: ANN001, ANN201
    federation = make_federation(broker, tmp_path, request.node.name)
    yield federation
    federation.delete(broker)


async def _connect(topo: RunningFederation, who: str) -> aio_pika.abc.AbstractConnection:
    return await aio_pika.connect(topo.url_for(who))


async def _publish(topo: RunningFederation, who: str, exchange: str, routing_key: str, *,
                   user_id: str | None = None) -> None:
    creds = topo.federation.credentials(who)
    connection = await _connect(topo, who)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(aio_pika.Message(b"{}", user_id=user_id or creds.broker_user), routing_key=routing_key,
                             mandatory=True, timeout=10)


async def _consume_one(topo: RunningFederation, who: str, queue: str) -> None:
    async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.nack(requeue=True)

    connection = await _connect(topo, who)
    async with connection:
        channel = await connection.channel()
        await (await channel.get_queue(queue, ensure=False)).consume(ignore, timeout=10)


async def _receive_one(topo: RunningFederation, who: str, queue: str):  # noqa: ANN202
    """The first message of `queue` (by consuming: quorum queues with a single active consumer
    do not support basic.get); acked."""
    got: asyncio.Future = asyncio.get_running_loop().create_future()

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        if not got.done():
            got.set_result(message)

    connection = await _connect(topo, who)
    async with connection:
        channel = await connection.channel()
        await (await channel.get_queue(queue, ensure=False)).consume(take)
        return await asyncio.wait_for(got, 10)


async def test_a_node_reads_only_its_own_inbox(topo: RunningFederation) -> None:
    await _consume_one(topo, "MEX", broker_config.inbox_queue("MEX"))
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _consume_one(topo, "MEX", broker_config.inbox_queue("IDN"))
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _consume_one(topo, "MEX", broker_config.HUB_IN_QUEUE)


async def test_a_node_publishes_only_to_hub_in_under_its_own_id(topo: RunningFederation) -> None:
    await _publish(topo, "MEX", broker_config.HUB_IN_EXCHANGE, "MEX")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _publish(topo, "MEX", broker_config.HUB_IN_EXCHANGE, "IDN")  # topic permission
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _publish(topo, "MEX", broker_config.NODE_OUT_EXCHANGE, "IDN")
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await _publish(topo, "MEX", broker_config.HUB_IN_EXCHANGE, "MEX",
                       user_id=topo.federation.credentials("IDN").broker_user)
    # The one allowed message reached the hub's queue, and only the hub may read it.
    message = await _receive_one(topo, "HUB", broker_config.HUB_IN_QUEUE)
    assert message.user_id == topo.federation.credentials("MEX").broker_user


async def test_a_node_cannot_declare_anything(topo: RunningFederation) -> None:
    connection = await _connect(topo, "MEX")
    async with connection:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await (await connection.channel()).declare_queue("MEX.private", durable=True)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await (await connection.channel()).declare_exchange("MEX.shortcut", aio_pika.ExchangeType.FANOUT)


async def test_the_hub_neither_publishes_into_hub_in_nor_reads_an_inbox(topo: RunningFederation) -> None:
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _publish(topo, "HUB", broker_config.HUB_IN_EXCHANGE, "MEX")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await _consume_one(topo, "HUB", broker_config.inbox_queue("MEX"))


async def test_unroutable_and_dead_lettered_messages_are_kept(topo: RunningFederation) -> None:
    # The alternate exchange keeps what node.out cannot route (mandatory publishes still confirm).
    await _publish(topo, "HUB", broker_config.NODE_OUT_EXCHANGE, "FRA")
    # A message a node rejects without requeue is dead-lettered, not dropped.
    await _publish(topo, "HUB", broker_config.NODE_OUT_EXCHANGE, "MEX")
    connection = await _connect(topo, "MEX")
    async with connection:
        inbox = await (await connection.channel()).get_queue(broker_config.inbox_queue("MEX"), ensure=False)
        message = await eventually(lambda: inbox.get(fail=False), what="the message in MEX's inbox")
        await message.reject(requeue=False)
    unroutable = await _receive_one(topo, "HUB", broker_config.UNROUTABLE_QUEUE)
    assert unroutable.routing_key == "FRA"
    dead = await _receive_one(topo, "HUB", broker_config.DEAD_LETTER_QUEUE)
    assert dead.headers["x-death"][0]["queue"] == broker_config.inbox_queue("MEX")
