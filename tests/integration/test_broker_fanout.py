"""Fan-out by the broker (issue 23): a message for several recipients leaves the hub as ONE publish
and RabbitMQ makes the copies; a full inbox among them is parked and alarmed without holding up the
others, and every recipient applies the message once."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import quote

import pytest

import broker_config
from broker_config import InboxBounds
from nodes.hub.relay import INBOX_FULL
from nodes.plumbing.amqp import Publisher
from tests.integration.federation import eventually, make_federation

pytestmark = pytest.mark.integration

COUNTRIES = ["MEX", "IDN", "ITA", "DEU"]


def alert(issuer: str, number: str) -> dict:
    return {"document_number": number, "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20"}


@pytest.fixture
def publishes(monkeypatch):  # noqa: ANN001, ANN201
    """Every publish the hub makes to the inboxes: message id -> [(routing key, bcc)]."""
    seen: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    original = Publisher.publish_many

    async def spy(self, messages):  # noqa: ANN001, ANN202
        for m in messages if self._exchange.name == broker_config.NODE_OUT_EXCHANGE else ():
            seen[m.message_id].append((m.routing_key, m.bcc))
        return await original(self, messages)

    monkeypatch.setattr(Publisher, "publish_many", spy)
    return seen


def _reached(copies: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    return sorted(to for key, bcc in copies for to in (key, *bcc))


@pytest.fixture
async def four(broker, tmp_path, request):  # noqa: ANN001, ANN201
    federation = make_federation(broker, tmp_path, request.node.name, COUNTRIES,
                                 inbox_bounds=InboxBounds(max_messages=20, max_bytes=10 * 1024 * 1024,
                                                          message_ttl_ms=30 * 86_400_000))
    try:
        yield federation
    finally:
        await federation.stop_all()
        federation.delete(broker)


async def test_a_broadcast_and_a_multicast_are_each_published_once_and_applied_once_everywhere(
        four, publishes) -> None:  # noqa: ANN001
    fed = four
    await fed.start_hub()
    nodes = {c: await fed.start_node(c) for c in COUNTRIES}
    broadcast = await nodes["MEX"].send("alert.document", ["*"], body=alert("MEX", "MX0000001"))
    multicast = await nodes["MEX"].send("note", ["IDN", "DEU"], body={"text": "to two"})
    for country in ("IDN", "ITA", "DEU"):
        await eventually(lambda c=country: nodes[c].store.get(broadcast.id), what=f"the broadcast at {country}")
    for country in ("IDN", "DEU"):
        await eventually(lambda c=country: nodes[c].store.get(multicast.id), what=f"the multicast at {country}")

    # One publish each, carrying every recipient: the broker made the copies.
    assert len(publishes[broadcast.id]) == 1 and _reached(publishes[broadcast.id]) == ["DEU", "IDN", "ITA"]
    assert len(publishes[multicast.id]) == 1 and _reached(publishes[multicast.id]) == ["DEU", "IDN"]
    for country in ("IDN", "ITA", "DEU"):
        assert [m.message_id for m in fed.inbox(country, type="alert.document")] == [broadcast.id]
    assert fed.inbox("ITA", type="note") == []  # not a recipient of the multicast
    assert fed.inbox("MEX", type="alert.document") == [] and fed.inbox("MEX", type="note") == []  # the sender
    [entry] = fed.audit(message_id=broadcast.id)
    assert sorted(entry["recipients"]) == ["DEU", "IDN", "ITA"]


async def test_a_full_inbox_is_parked_and_alarmed_while_the_others_get_the_broadcast_once(
        four, broker, publishes) -> None:  # noqa: ANN001
    fed = four
    hub = await fed.start_hub(parked_retry_interval=0.3)
    mex = await fed.start_node("MEX")
    idn, deu = await fed.start_node("IDN"), await fed.start_node("DEU")  # ITA is away
    inbox = f"/api/queues/{quote(fed.vhost, safe='')}/{broker_config.inbox_queue('ITA')}"
    notes = [mex.build("note", ["ITA"], body={"text": f"for ITA {i}"}) for i in range(20)]
    await mex.submit(notes)
    await eventually(lambda: broker.api("GET", inbox).get("messages", 0) >= 20, what="ITA's inbox at its bound")

    alerts = [mex.build("alert.document", ["*"], body=alert("MEX", f"MX{i:07d}")) for i in range(6)]
    await mex.submit(alerts)
    # Nobody waits for ITA: IDN and DEU apply every alert once, while ITA's copies are parked and alarmed.
    for node, country in ((idn, "IDN"), (deu, "DEU")):
        await eventually(lambda c=country: len(fed.inbox(c, type="alert.document")) == 6, what=f"6 alerts at {country}")
    await eventually(lambda: hub.store.parked_counts().get("ITA"), what="ITA's alerts parked")
    assert set(hub.store.parked_counts()) == {"ITA"}
    assert hub.alarms.is_open(f"{INBOX_FULL}:ITA")
    ids = {a.id for a in alerts}
    # The refused fan-out went again to each recipient alone: IDN and DEU got a second copy of
    # some alert, and dropped it by its id (6 alerts stored, each once).
    copies_to_idn = [_reached(publishes[i]).count("IDN") for i in ids]
    assert 2 in copies_to_idn and max(copies_to_idn) == 2, copies_to_idn
    for country in ("IDN", "DEU"):
        stored = [m.message_id for m in fed.inbox(country, type="alert.document")]
        assert sorted(stored) == sorted(ids)

    ita = await fed.start_node("ITA")
    await eventually(lambda: len(fed.inbox("ITA", type="alert.document")) == 6, timeout=60, what="6 alerts at ITA")
    await eventually(lambda: len(fed.inbox("ITA", type="note", limit=1000)) == 20, timeout=60, what="20 notes at ITA")
    assert sorted(m.message_id for m in fed.inbox("ITA", type="alert.document")) == sorted(ids)
    await eventually(lambda: hub.store.parked_counts() == {}, what="nothing parked any more")
    await eventually(lambda: not hub.alarms.is_open(f"{INBOX_FULL}:ITA"), what="the inbox-full alarm cleared")
    assert ita.broker_connected
