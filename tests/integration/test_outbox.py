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


async def test_outbox_bytes_are_stored_once_and_erased_with_their_message(fed) -> None:  # noqa: ANN001
    # Issue 19: the signed bytes live in messages.raw; a file chunk queued before 3 December (evid17e)
    # has them in outbox_raw, a row queued before revision 0006 in outbox.raw. Each kind is published;
    # and deleting the message deletes its bytes wherever they are.
    from sqlalchemy import insert, select, update

    from nodes.national.retention import purge_messages
    from nodes.national.store import message_row, messages, outbox, outbox_raw
    from nodes.plumbing.config import utcnow
    from protocol import envelope as wire
    from protocol.timefmt import format_time

    mex, idn = fed.nodes["MEX"], fed.nodes["IDN"]
    engine = mex.store.engine

    def stored(message_id: str) -> tuple[bytes, bytes, bytes | None]:
        with engine.connect() as conn:
            seq, in_outbox = conn.execute(select(outbox.c.seq, outbox.c.raw).where(outbox.c.message_id == message_id)).one()
            in_messages = conn.execute(select(messages.c.raw).where(messages.c.message_id == message_id)).scalar_one()
            in_raw = conn.execute(select(outbox_raw.c.raw).where(outbox_raw.c.seq == seq)).scalar()
        return bytes(in_outbox), bytes(in_messages), None if in_raw is None else bytes(in_raw)

    kept = await mex.send("note", ["IDN"], body={"text": "kept in messages.raw"})
    assert stored(kept.id) == (b"", wire.encode(kept), None)

    chunk_like = mex.build("note", ["IDN"], body={"text": "kept in outbox_raw alone"})
    old = mex.build("note", ["IDN"], body={"text": "queued before the migration"})
    now = format_time(utcnow())
    with engine.begin() as conn:  # what enqueue wrote for a file chunk before evid17e
        seq = conn.execute(insert(outbox), {"message_id": chunk_like.id, "raw": b"", "queued_at": now}).inserted_primary_key[0]
        conn.execute(insert(outbox_raw), {"seq": seq, "raw": wire.encode(chunk_like)})
        conn.execute(insert(messages), message_row("out", chunk_like, chunk_like.digest(), b"", now))
    with engine.begin() as conn:  # what enqueue wrote before revision 0006
        conn.execute(insert(outbox), {"message_id": old.id, "raw": wire.encode(old), "queued_at": now})
        conn.execute(insert(messages), message_row("out", old, old.digest(), b"", now))
    assert stored(chunk_like.id) == (b"", b"", wire.encode(chunk_like))
    mex.wake_soon()

    for env in (kept, chunk_like, old):
        got = await eventually(lambda e=env: idn.store.get(e.id), what=f"{env.id} delivered")
        assert got.digest == env.digest()
        assert idn.store.raw(env.id) == wire.encode(env)
    await eventually(lambda: mex.store.outbox_depth() == 0, what="outbox drained")

    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.message_id.in_([kept.id, chunk_like.id]))
                     .values(retain_until="2000-01-01"))
    assert await asyncio.to_thread(purge_messages, engine, utcnow()) == 2
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.message_id).where(outbox.c.message_id.in_([kept.id, chunk_like.id]))).all() == []
        assert conn.execute(select(outbox_raw)).all() == []


async def test_bytes_kept_by_a_feature_are_published_from_it_and_a_row_nobody_keeps_bytes_for_is_not_sent(
        fed) -> None:  # noqa: ANN001
    # `enqueue(external=True)` (a file chunk): the database holds none of the signed bytes; the relay
    # asks the features' `sent_bytes`. Bytes no feature keeps any more (receipted meanwhile): not sent.
    from sqlalchemy import select

    from nodes.national.store import messages, outbox, outbox_raw
    from nodes.plumbing.config import utcnow
    from protocol import envelope as wire
    from protocol.timefmt import format_time

    mex, idn = fed.nodes["MEX"], fed.nodes["IDN"]
    kept_aside = mex.build("note", ["IDN"], body={"text": "its bytes kept by a feature"})
    nobody = mex.build("note", ["IDN"], body={"text": "its bytes kept by nobody"})
    aside = {kept_aside.id: wire.encode(kept_aside)}
    mex._sent_bytes.append(aside.get)
    try:
        t0 = format_time(utcnow())
        await asyncio.to_thread(mex.enqueue, [nobody, kept_aside], external=True)  # nobody's first in line
        with mex.store.engine.connect() as conn:
            for env in (kept_aside, nobody):
                seq, raw = conn.execute(select(outbox.c.seq, outbox.c.raw).where(outbox.c.message_id == env.id)).one()
                assert raw == b"" and conn.execute(select(outbox_raw).where(outbox_raw.c.seq == seq)).first() is None
                assert conn.execute(select(messages.c.raw).where(messages.c.message_id == env.id)).scalar_one() == b""
        mex.wake_soon()
        got = await eventually(lambda: idn.store.get(kept_aside.id), what="the message whose bytes a feature keeps")
        assert got.digest == kept_aside.digest() and idn.store.raw(kept_aside.id) == aside[kept_aside.id]
        await eventually(lambda: mex.store.outbox_depth() == 0, what="outbox drained")
        # had it gone out (empty: no id the hub can read), the hub, taking hub.in in order, would have
        # logged its refusal before the other's entry
        logged = fed.audit(since=t0)
        assert kept_aside.id in [e["message_id"] for e in logged]
        assert [e for e in logged if e["message_id"] in (None, nobody.id)] == []
        assert idn.store.get(nobody.id) is None
    finally:
        mex._sent_bytes.remove(aside.get)
