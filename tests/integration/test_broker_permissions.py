"""Least privilege, enforced by RabbitMQ itself: a node reaches only hub.in (as itself) and its
own inbox; the hub only reads hub.in and writes node.out. Nothing unroutable or poisoned vanishes.

Every refusal is the broker's (ACCESS_REFUSED / PRECONDITION_FAILED closes the channel), so each
negative check runs on a connection of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed

import broker_config
from broker_config import BrokerSpec, BrokerUser
from nodes.plumbing.amqp import open_connection
from nodes.plumbing.rabbit import PrivateBroker

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


class Federation:
    """The test's vhost as seen by each party: 'HUB' or a node id."""

    def __init__(self, broker: PrivateBroker, spec: BrokerSpec) -> None:
        self.broker, self.spec = broker, spec

    def user(self, who: str) -> BrokerUser:
        return self.spec.hub_user if who == "HUB" else self.spec.nodes[who]

    @asynccontextmanager
    async def connection(self, who: str) -> AsyncIterator[AbstractConnection]:
        connection = await open_connection(
            self.broker.amqp_url(self.user(who), self.spec.vhost), timeout=TIMEOUT,
            client_properties={"connection_name": f"{self.spec.vhost}:{who}"})
        async with connection:
            yield connection

    async def publish(self, who: str, exchange: str, routing_key: str, *, body: bytes = b"{}",
                      user_id: str | None = None, headers: dict | None = None) -> None:
        """A confirmed, mandatory publish; `user_id` defaults to the publisher's own broker user."""
        async with self.connection(who) as connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            target = await channel.get_exchange(exchange, ensure=False)  # no declare: no permission needed
            message = aio_pika.Message(body, user_id=user_id or self.user(who).name, headers=headers or {},
                                       delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await target.publish(message, routing_key=routing_key, mandatory=True, timeout=TIMEOUT)

    async def consume(self, who: str, queue: str) -> None:
        """Start (and cancel) a consumer: the broker checks read permission on basic.consume."""
        async with self.connection(who) as connection:
            channel = await connection.channel()
            target = await channel.get_queue(queue, ensure=False)
            await target.cancel(await target.consume(_leave, timeout=TIMEOUT))

    async def receive(self, who: str, queue: str) -> AbstractIncomingMessage:
        """The next message of `queue`, acked. By consuming: hub.in has a single active consumer,
        and quorum queues with one refuse basic.get."""
        got: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def take(message: AbstractIncomingMessage) -> None:
            await message.ack()
            got.put_nowait(message)

        async with self.connection(who) as connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=1)
            await (await channel.get_queue(queue, ensure=False)).consume(take)
            try:
                return await asyncio.wait_for(got.get(), TIMEOUT)
            except TimeoutError:
                raise AssertionError(f"no message arrived in {queue!r} within {TIMEOUT}s") from None


async def _leave(message: AbstractIncomingMessage) -> None:
    await message.nack(requeue=True)


@pytest.fixture
def fed(broker: PrivateBroker, broker_spec: BrokerSpec) -> Federation:
    return Federation(broker, broker_spec)


# -- reading -----------------------------------------------------------------------------------


async def test_each_node_reads_its_own_inbox_and_no_other(fed: Federation) -> None:
    for reader in fed.spec.nodes:
        await fed.consume(reader, broker_config.inbox_queue(reader))
        for owner in fed.spec.nodes:
            if owner != reader:
                with pytest.raises(ChannelAccessRefused, match=rf"ACCESS_REFUSED.*node\.{owner}\.inbox"):
                    await fed.consume(reader, broker_config.inbox_queue(owner))
        with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*queue 'hub.in'"):
            await fed.consume(reader, broker_config.HUB_IN_QUEUE)


async def test_the_hub_delivers_into_a_nodes_inbox_which_that_node_reads(fed: Federation) -> None:
    await fed.publish("HUB", broker_config.NODE_OUT_EXCHANGE, "MEX", body=b"for MEX")
    message = await fed.receive("MEX", broker_config.inbox_queue("MEX"))
    assert message.body == b"for MEX"
    assert message.user_id == fed.spec.hub_user.name


# -- publishing --------------------------------------------------------------------------------


async def test_a_node_publishes_to_hub_in_under_its_own_id_only(fed: Federation) -> None:
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*topic 'IDN' in exchange 'hub.in'"):
        await fed.publish("MEX", broker_config.HUB_IN_EXCHANGE, "IDN")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*topic 'MEX.IDN'"):
        await fed.publish("MEX", broker_config.HUB_IN_EXCHANGE, "MEX.IDN")

    await fed.publish("MEX", broker_config.HUB_IN_EXCHANGE, "MEX", body=b"from MEX")
    message = await fed.receive("HUB", broker_config.HUB_IN_QUEUE)
    assert (message.body, message.routing_key) == (b"from MEX", "MEX")
    assert message.user_id == fed.spec.nodes["MEX"].name  # validated by the broker


async def test_a_node_cannot_publish_as_another_user(fed: Federation) -> None:
    with pytest.raises(ChannelPreconditionFailed, match="PRECONDITION_FAILED.*user_id property set to"):
        await fed.publish("MEX", broker_config.HUB_IN_EXCHANGE, "MEX", user_id=fed.spec.nodes["IDN"].name)
    with pytest.raises(ChannelPreconditionFailed, match="PRECONDITION_FAILED.*user_id property set to"):
        await fed.publish("MEX", broker_config.HUB_IN_EXCHANGE, "MEX", user_id=fed.spec.hub_user.name)


async def test_a_node_cannot_bypass_the_hub(fed: Federation) -> None:
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*exchange 'node.out'"):
        await fed.publish("MEX", broker_config.NODE_OUT_EXCHANGE, "IDN")
    # The default exchange routes by queue name; RabbitMQ checks it as 'amq.default'.
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*exchange 'amq.default'"):
        await fed.publish("MEX", "", broker_config.inbox_queue("IDN"))
    for exchange in (broker_config.DEAD_LETTER_EXCHANGE, broker_config.UNROUTABLE_EXCHANGE, "amq.direct", "amq.topic"):
        with pytest.raises(ChannelAccessRefused, match=f"ACCESS_REFUSED.*exchange '{exchange}'"):
            await fed.publish("MEX", exchange, "IDN")


async def test_only_the_hub_publishes_a_fanned_out_message_into_several_inboxes(fed: Federation) -> None:
    """The fan-out (issue 23) is node.out with a BCC list: the hub's user may, no node's may."""
    everyone = [n for n in fed.spec.nodes if n != "MEX"]
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*exchange 'node.out'"):
        await fed.publish("MEX", broker_config.NODE_OUT_EXCHANGE, "IDN", headers={"BCC": everyone})
    await fed.publish("HUB", broker_config.NODE_OUT_EXCHANGE, everyone[0], body=b"to all",
                      headers={"BCC": everyone[1:]})
    for node in everyone:
        message = await fed.receive(node, broker_config.inbox_queue(node))
        assert message.body == b"to all" and "BCC" not in (message.headers or {})  # the broker strips BCC


async def test_a_node_cannot_declare_bind_or_delete(fed: Federation) -> None:
    attempts = {
        "a queue of its own": lambda ch: ch.declare_queue(f"{fed.spec.vhost}.MEX.private", durable=True),
        "a server-named exclusive queue": lambda ch: ch.declare_queue(exclusive=True),
        "its own inbox, with the very same arguments": lambda ch: ch.declare_queue(
            broker_config.inbox_queue("MEX"), durable=True, arguments={"x-queue-type": "quorum"}),
        "an exchange": lambda ch: ch.declare_exchange("MEX.shortcut", aio_pika.ExchangeType.FANOUT),
        "a binding of its inbox to hub.in": lambda ch: _bind(ch, broker_config.inbox_queue("MEX"),
                                                             broker_config.HUB_IN_EXCHANGE, "IDN"),
        "deleting its inbox": lambda ch: _delete(ch, broker_config.inbox_queue("MEX")),
    }
    for what, attempt in attempts.items():
        async with fed.connection("MEX") as connection:
            with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
                await attempt(await connection.channel())
                pytest.fail(f"MEX was allowed {what}")
    # Passive look-ups need no permission: that is how clients find the topology.
    async with fed.connection("MEX") as connection:
        channel = await connection.channel()
        await channel.get_queue(broker_config.inbox_queue("MEX"), ensure=True)
        await channel.get_exchange(broker_config.HUB_IN_EXCHANGE, ensure=True)


async def _bind(channel: aio_pika.abc.AbstractChannel, queue: str, exchange: str, key: str) -> None:
    await (await channel.get_queue(queue, ensure=False)).bind(exchange, key)


async def _delete(channel: aio_pika.abc.AbstractChannel, queue: str) -> None:
    await (await channel.get_queue(queue, ensure=False)).delete(if_unused=False, if_empty=False)


async def test_the_hub_cannot_publish_into_hub_in_nor_read_an_inbox(fed: Federation) -> None:
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*exchange 'hub.in'"):
        await fed.publish("HUB", broker_config.HUB_IN_EXCHANGE, "MEX")
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED.*exchange 'amq.default'"):
        await fed.publish("HUB", "", broker_config.inbox_queue("MEX"))
    for node_id in fed.spec.nodes:
        with pytest.raises(ChannelAccessRefused, match=rf"ACCESS_REFUSED.*node\.{node_id}\.inbox"):
            await fed.consume("HUB", broker_config.inbox_queue(node_id))
    for queue in (broker_config.HUB_IN_QUEUE, broker_config.DEAD_LETTER_QUEUE, broker_config.UNROUTABLE_QUEUE):
        await fed.consume("HUB", queue)


# -- nothing vanishes --------------------------------------------------------------------------


async def test_a_message_for_an_unknown_node_goes_to_the_unroutable_queue(fed: Federation) -> None:
    # mandatory + on_return_raises: had it been dropped or returned, publish would have raised.
    await fed.publish("HUB", broker_config.NODE_OUT_EXCHANGE, "FRA", body=b"for nobody")
    message = await fed.receive("HUB", broker_config.UNROUTABLE_QUEUE)
    assert (message.body, message.exchange, message.routing_key) == (b"for nobody", "node.out", "FRA")


async def test_a_message_a_node_rejects_goes_to_dead_letters(fed: Federation) -> None:
    await fed.publish("HUB", broker_config.NODE_OUT_EXCHANGE, "MEX", body=b"poison")
    rejected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def reject(message: AbstractIncomingMessage) -> None:
        await message.reject(requeue=False)
        rejected.set_result(None)

    async with fed.connection("MEX") as connection:
        inbox = await (await connection.channel()).get_queue(broker_config.inbox_queue("MEX"), ensure=False)
        await inbox.consume(reject)
        await asyncio.wait_for(rejected, TIMEOUT)

    dead = await fed.receive("HUB", broker_config.DEAD_LETTER_QUEUE)
    assert dead.body == b"poison"
    assert dead.headers["x-first-death-reason"] == "rejected"
    assert dead.headers["x-first-death-queue"] == broker_config.inbox_queue("MEX")


async def test_a_message_redelivered_past_the_delivery_limit_goes_to_dead_letters(fed: Federation) -> None:
    await fed.publish("HUB", broker_config.NODE_OUT_EXCHANGE, "IDN", body=b"crashes the consumer")
    deliveries = 0

    async def fail(message: AbstractIncomingMessage) -> None:
        nonlocal deliveries
        deliveries += 1
        await message.nack(requeue=True)  # as a consumer that crashes before acking would

    async with fed.connection("IDN") as connection:
        inbox = await (await connection.channel()).get_queue(broker_config.inbox_queue("IDN"), ensure=False)
        await inbox.consume(fail)
        dead = await fed.receive("HUB", broker_config.DEAD_LETTER_QUEUE)

    assert dead.body == b"crashes the consumer"
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    assert deliveries == broker_config.DELIVERY_LIMIT + 1
