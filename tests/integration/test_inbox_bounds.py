"""A node away for long: its inbox is bounded, and what does not fit is neither lost nor silent,
nor does it hold up anybody else's mail."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

import broker_config
from broker_config import InboxBounds
from nodes.hub.audit import forwarded
from tests.integration.federation import eventually, make_federation

pytestmark = pytest.mark.integration


@pytest.fixture
async def small_inboxes(broker, tmp_path, request):  # noqa: ANN001, ANN201
    bounds = InboxBounds(max_messages=20, max_bytes=10 * 1024 * 1024, message_ttl_ms=30 * 86_400_000)
    federation = make_federation(broker, tmp_path, request.node.name, inbox_bounds=bounds)
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)


async def test_full_inbox_parks_forwards_at_the_hub_alarms_and_delivers_them_all_later(small_inboxes, broker) -> None:  # noqa: ANN001
    fed = small_inboxes
    hub = await fed.start_hub(parked_retry_interval=0.3)
    mex = await fed.start_node("MEX")
    await fed.start_node("IDN")  # ITA is away
    inbox = f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.inbox_queue('ITA')}"
    # Quorum queues enforce reject-publish once they have told a channel they are full (a burst
    # already under way may overshoot): fill ITA's inbox to its bound first, then overflow it.
    to_ita = [mex.build("note", ["ITA"], body={"text": f"for ITA {i}"}) for i in range(50)]
    await mex.submit(to_ita[:20])
    await eventually(lambda: broker.api("GET", inbox).get("messages", 0) >= 20, what="ITA's inbox at its bound")
    to_idn = [mex.build("note", ["IDN"], body={"text": f"for IDN {i}"}) for i in range(10)]
    await mex.submit(to_ita[20:])
    await mex.submit(to_idn)

    # Nobody else waits for ITA: IDN's mail arrives while ITA's overflow is parked and alarmed.
    await eventually(lambda: len(fed.inbox("IDN", type="note")) == 10, what="IDN's notes")
    parked = await eventually(lambda: hub.store.parked_counts().get("ITA"), what="ITA's overflow parked")
    assert 0 < parked <= 50
    assert set(hub.store.parked_counts()) == {"ITA"}

    ita = await fed.start_node("ITA")
    await eventually(lambda: len(fed.inbox("ITA", type="note", limit=1000)) == 50, timeout=60,
                     what="all 50 notes at ITA")
    assert sorted(m.message_id for m in fed.inbox("ITA", type="note", limit=1000)) == sorted(e.id for e in to_ita)
    await eventually(lambda: hub.store.parked_counts() == {}, what="nothing parked any more")
    seqs = [e["seq"] for m in to_ita for e in fed.audit(message_id=m.id)]
    with hub.store._engine.connect() as conn:  # noqa: SLF001 - the operational record of forwards
        done = set(conn.execute(select(forwarded.c.seq).where(forwarded.c.seq.in_(seqs))).scalars())
    assert done == set(seqs)
    await eventually(lambda: len([r for m in to_ita for r in mex.store.receipts_for(m.id)]) == 50,
                     what="ITA's receipts for every note at MEX")
    assert ita.broker_connected


async def test_mail_older_than_the_inbox_ttl_is_dead_lettered_and_audited(broker, tmp_path) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, "inbox-ttl",
                          inbox_bounds=InboxBounds(max_messages=1000, max_bytes=10 * 1024 * 1024, message_ttl_ms=300))
    try:
        await fed.start_hub()
        mex = await fed.start_node("MEX")  # ITA and IDN are away
        notes = [mex.build("note", ["ITA"], body={"text": f"stale {i}"}) for i in range(3)]
        await mex.submit(notes)

        def dead() -> list[dict]:
            return [e for e in fed.audit(verdict="dead_lettered") if e["message_id"] in {n.id for n in notes}]

        entries = await eventually(lambda: len(dead()) == 3 and dead(), timeout=30, what="3 dead-letter entries")
        assert all("node.ITA.inbox: expired" in e["detail"] for e in entries)
        await fed.start_node("ITA")
        await eventually(lambda: fed.nodes["ITA"].broker_connected, what="ITA connected")
        assert fed.inbox("ITA", type="note") == []
    finally:
        await fed.stop_all()
        fed.delete(broker)
