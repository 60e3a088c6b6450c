"""Publisher.publish_many writes a batch as one frame buffer through aiormq's channel internals:
each message must still get its own broker answer — confirmed, refused as full, or returned."""

from __future__ import annotations

import os

import aio_pika
import pytest

from nodes.plumbing.amqp import Outgoing, Publisher, PublishNacked, PublishRefused, open_connection
from nodes.plumbing.rabbit import ADMIN_USER
from tests.support.broker import admin_vhost

pytestmark = pytest.mark.integration


async def test_each_message_of_a_batch_gets_its_own_answer(broker) -> None:  # noqa: ANN001
    admin_vhost(broker, "t-publisher")
    connection = await open_connection(broker.admin_url("t-publisher"), timeout=10)
    async with connection:
        setup = await connection.channel()
        exchange = await setup.declare_exchange("t.x", aio_pika.ExchangeType.DIRECT, durable=True)
        ok = await setup.declare_queue("t.ok", durable=True, arguments={"x-queue-type": "quorum"})
        # A classic queue refuses at once when full; a quorum queue learns it a little later.
        full = await setup.declare_queue("t.full", durable=True, arguments={
            "x-queue-type": "classic", "x-max-length": 2, "x-overflow": "reject-publish"})
        for queue, key in ((ok, "ok"), (full, "full")):
            await queue.purge()
            await queue.bind(exchange, key)
        publisher = await Publisher.open(connection, "t.x", ADMIN_USER)

        batch = [Outgoing(b"a", "ok", "m-1", {"x-h": "1"}), Outgoing(b"b", "nowhere", "m-2"),
                 *(Outgoing(b"c", "full", f"m-{i}") for i in range(3, 7)), Outgoing(b"d", "ok", "m-7")]
        results = await publisher.publish_many(batch)

        assert results[0] is None and results[-1] is None
        assert isinstance(results[1], PublishRefused) and not isinstance(results[1], PublishNacked)
        assert results[2:4] == [None, None]  # the full queue takes two
        assert all(isinstance(r, PublishNacked) for r in results[4:6])
        got = await ok.get(timeout=5)
        assert (got.body, got.message_id, got.headers["x-h"], got.user_id) == (b"a", "m-1", "1", ADMIN_USER)
        await got.ack()
        assert (await ok.get(timeout=5)).body == b"d"

        # The next batch on the same channel is counted from the right delivery tag.
        assert await publisher.publish_many([Outgoing(b"e", "ok", "m-8")]) == [None]
        await publisher.close()
        with pytest.raises(PublishRefused):
            await publisher.publish(b"f", "ok", message_id="m-9")


async def test_bodies_split_into_frames_arrive_byte_for_byte(broker) -> None:  # noqa: ANN001
    """A body of one frame, of exactly one frame, one byte past it, and of many (a file chunk is ~7.5 MiB
    in frames of the negotiated frame_max): each arrives whole, in a batch written as one buffer."""
    admin_vhost(broker, "t-publisher-frames")
    connection = await open_connection(broker.admin_url("t-publisher-frames"), timeout=10)
    async with connection:
        setup = await connection.channel()
        exchange = await setup.declare_exchange("t.x", aio_pika.ExchangeType.DIRECT, durable=True)
        queue = await setup.declare_queue("t.frames", durable=True, arguments={"x-queue-type": "quorum"})
        await queue.bind(exchange, "frames")
        publisher = await Publisher.open(connection, "t.x", ADMIN_USER)
        frame = (await publisher._channel.get_underlay_channel()).max_content_size
        bodies = [b"", os.urandom(1), os.urandom(frame), os.urandom(frame + 1), os.urandom(3 * frame + 17)]
        batch = [Outgoing(body, "frames", f"f-{i}") for i, body in enumerate(bodies)]
        assert await publisher.publish_many(batch) == [None] * len(bodies)
        for i, body in enumerate(bodies):
            got = await queue.get(timeout=5)
            assert (got.message_id, got.body) == (f"f-{i}", body)
            await got.ack()
        await publisher.close()
