"""The outbox: a broker outage delays messages, never loses them."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from nodes.plumbing.rabbit import PrivateBroker, free_port
from tests.integration.federation import eventually, make_federation

pytestmark = pytest.mark.integration


async def test_outbox_survives_a_broker_outage(tmp_path) -> None:  # noqa: ANN001
    # A broker of its own: stopping the session's broker would disturb every other test.
    broker = PrivateBroker(tmp_path / "rabbitmq", amqp_port=free_port(), mgmt_port=free_port(),
                           dist_port=free_port(), nodename=f"somex-outage-{os.getpid()}@localhost")
    await asyncio.to_thread(broker.start)
    fed = make_federation(broker, tmp_path, "outage")
    try:
        await fed.start_all()
        before = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "before the outage"})
        await eventually(lambda: fed.nodes["IDN"].store.get(before.id), what="delivery before the outage")

        await asyncio.to_thread(broker.stop)
        await eventually(lambda: not fed.nodes["MEX"].broker_connected, what="MEX noticing the outage")
        during = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "sent while the broker was down"})
        await asyncio.sleep(1)
        # Committed locally and waiting (a witness cosignature may be waiting beside it).
        assert during.id in [mid for _, mid, _ in fed.nodes["MEX"].store.pending(100)]

        await asyncio.to_thread(broker.start)
        got = await eventually(lambda: fed.nodes["IDN"].store.get(during.id), timeout=60,
                               what="delivery after the broker came back")
        assert got.body == {"text": "sent while the broker was down"}
        await eventually(lambda: fed.nodes["MEX"].store.outbox_depth() == 0, what="outbox drained")
        assert [e["verdict"] for e in fed.audit(message_id=during.id)] == ["accepted"]
    finally:
        await fed.stop_all()
        await asyncio.to_thread(broker.stop)


async def test_a_queued_message_is_published_at_once_not_at_the_relays_next_poll(fed) -> None:  # noqa: ANN001
    # The relay is woken when a message is committed to the outbox; a wake that came before the
    # commit used to be spent on an empty read, and the message waited for the next submission or
    # the relay's 1 s poll (docs/performance.md): ten messages sent one after the other took ~10 s.
    mex = fed.nodes["MEX"]
    start = time.monotonic()
    for i in range(10):
        sent = await mex.send("alert.document", ["IDN"], body={
            "document_number": f"WAKE{i:05d}", "document_type": "passport", "issuing_country": "MEX",
            "status": "stolen", "action": "create", "reported": "2026-11-20"})
        await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what=f"alert {i} delivered")
    assert time.monotonic() - start < 4.0, "messages waited for the relay's poll instead of its wake"
