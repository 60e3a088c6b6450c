"""One message never takes others down (issue 14, items 3, 4 and 8): at the hub and at a node, a
message whose processing fails is refused alone — audited or recorded, its sender told — and every
other message of its batch is delivered and applied exactly once. Nothing is dead-lettered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crypto.signing import sign_envelope
from nodes.hub.relay import Hub
from nodes.national.api import make_app
from nodes.national.node import NationalNode
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_relay import note

pytestmark = pytest.mark.integration


def _with_escaped_member(env: wire.Envelope, path: tuple[str, ...], escaped: str) -> bytes:
    """`env` on the wire with the member at `path` replaced by the JSON text `escaped` (e.g. "\\ud800")."""
    obj = json.loads(wire.encode(env))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "__REPLACE__"
    return json.dumps(obj).replace('"__REPLACE__"', escaped).encode()


async def _queued_at_hub(fed: RunningFederation, *senders: str) -> None:
    """Wait until each sender's outbox is published (the messages wait in hub.in)."""
    for country in senders:
        await eventually(lambda c=country: fed.nodes[c].store.outbox_depth() == 0, what=f"{country}'s outbox sent")


def _delivered_once(fed: RunningFederation, country: str, ids: list[str]) -> bool:
    stored = {m.message_id for m in fed.inbox(country, type="note")}
    return set(ids) <= stored


def _no_dead_letters(fed: RunningFederation) -> list[dict]:
    return [e for e in fed.audit() if e["verdict"] in ("dead_lettered", "unroutable")]


async def test_lone_surrogate_body_from_any_broker_login_is_refused_alone(fed: RunningFederation) -> None:
    """Issue 14 item 3: an envelope whose body is "\\ud800" made the hub requeue its whole batch
    until the delivery limit dead-lettered three valid notes behind it."""
    await fed.hub.stop()
    poison = note(fed, "IDN", ["ITA"], "poison")
    await fed.publish_raw("IDN", _with_escaped_member(poison, ("body",), '"\\ud800"'))
    valid = [(await fed.nodes["IDN"].send("note", ["ITA"], body={"text": f"valid {i}"})).id for i in range(3)]
    await _queued_at_hub(fed, "IDN")
    await fed.start_hub()

    await eventually(lambda: _delivered_once(fed, "ITA", valid), what="the valid notes at ITA")
    trail = await eventually(lambda: fed.audit(message_id=poison.id), what="the poison's audit entry")
    assert [(e["verdict"], e["reason"]) for e in trail] == [("rejected", "bad_unicode")]
    answer = await eventually(lambda: [m for m in fed.inbox("IDN", type="hub.rejection") if m.body["of"] == poison.id],
                              what="IDN told")
    assert answer[0].body["reason"] == "bad_unicode"
    for message_id in valid:
        assert [e["verdict"] for e in fed.audit(message_id=message_id)] == ["accepted"]
    assert not _no_dead_letters(fed)


async def test_signed_hit_with_a_lone_surrogate_point_is_refused_and_others_arrive(fed: RunningFederation) -> None:
    """Issue 14 item 4: a correctly signed alert.hit MEX→IDN with point "\\ud800" passed the hub and
    failed IDN's whole inbox batch until ITA's valid notes were dead-lettered."""
    mex = fed.nodes["MEX"]
    hit = mex.build("alert.hit", ["IDN"], body={
        "issuing_country": "IDN", "document_type": "passport", "document_number": "X1", "status": "stolen",
        "checked_at": "2026-11-20T10:00:00Z", "check": "border", "point": "PLACEHOLDER"})
    body = hit.body.replace('"PLACEHOLDER"', '"\\ud800"')
    hostile = sign_envelope(replace(hit, body=body, body_digest=wire.payload_digest(body), sig=None,
                                    _signing_input=[]), fed.federation.credentials("MEX").signing_key)
    await fed.hub.stop()
    await fed.publish_raw("MEX", wire.encode(hostile))
    valid = [(await fed.nodes["ITA"].send("note", ["IDN"], body={"text": f"from ITA {i}"})).id for i in range(3)]
    await _queued_at_hub(fed, "ITA")
    await fed.start_hub()

    await eventually(lambda: _delivered_once(fed, "IDN", valid), what="ITA's notes at IDN")
    trail = await eventually(lambda: fed.audit(message_id=hostile.id), what="the hit's audit entry")
    assert [(e["verdict"], e["reason"]) for e in trail] == [("rejected", "bad_unicode")]
    assert fed.nodes["IDN"].store.get(hostile.id) is None
    assert not _no_dead_letters(fed)


@pytest.mark.parametrize("step", ["_decide", "_prepare_forwards"])
async def test_an_exception_processing_one_message_at_the_hub_rejects_it_alone(
        fed: RunningFederation, step: str) -> None:
    """Deciding fails before the message is audited; preparing its forwards fails after its entry
    is committed (the batch is then narrowed down and retried: the others keep their one entry)."""
    await fed.hub.stop()
    ids = []
    for i in range(4):
        for country in ("MEX", "ITA"):
            ids.append((await fed.nodes[country].send("note", ["IDN"], body={"text": f"{country} {i}"})).id)
    target = ids[3]
    await _queued_at_hub(fed, "MEX", "ITA")

    hub = Hub(fed.hub_config(), fed.federation)
    original = getattr(hub, step)

    def failing(d, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if d.envelope is not None and d.envelope.id == target and d.entry.reason != "internal_error":
            raise RuntimeError("injected failure for one message")
        return original(d, *args, **kwargs)

    setattr(hub, step, failing)
    await hub.start()
    fed.hub = hub

    others = [i for i in ids if i != target]
    await eventually(lambda: _delivered_once(fed, "IDN", others), what="every other note at IDN")
    answer = await eventually(lambda: [m for m in fed.inbox("ITA", type="hub.rejection") if m.body["of"] == target],
                              what="ITA told about its note")
    assert answer[0].body["reason"] == "internal_error"
    verdicts = [(e["verdict"], e["reason"]) for e in fed.audit(message_id=target)]
    assert verdicts[-1] == ("rejected", "internal_error")
    assert fed.nodes["IDN"].store.get(target) is None
    for message_id in others:
        assert [e["verdict"] for e in fed.audit(message_id=message_id)] == ["accepted"]
    stored = [m.message_id for m in fed.inbox("IDN", type="note")]
    assert sorted(stored) == sorted(others)  # each once (and the failed one not at all)
    assert not _no_dead_letters(fed)


async def test_an_exception_in_one_effect_at_a_node_refuses_it_alone_with_a_signed_refused_receipt(
        fed: RunningFederation) -> None:
    idn = fed.nodes.pop("IDN")
    await idn.stop()
    ids = []
    for i in range(4):
        for country in ("MEX", "ITA"):
            ids.append((await fed.nodes[country].send("note", ["IDN"], body={"text": f"{country} {i}"})).id)
    target = ids[2]  # from MEX
    await eventually(lambda: fed.audit(message_id=ids[-1]), what="the notes relayed to IDN's inbox")

    applied: dict[str, int] = {}
    node = NationalNode(fed.node_config("IDN"), fed.federation)

    def note_effect(node, conn, verified, body):  # noqa: ANN001, ANN202
        if verified.id == target:
            raise RuntimeError("injected failure in one effect")
        applied[verified.id] = applied.get(verified.id, 0) + 1  # calls, not commits: see receipts below

    node.effects["note"] = note_effect
    await node.start()
    fed.nodes["IDN"] = node

    await eventually(lambda: _delivered_once(fed, "IDN", ids), what="every note stored at IDN")
    [refusal] = [r for r in node.store.refusals() if r["message_id"] == target]
    assert refusal["reason"] == "internal_error"
    receipts = await eventually(lambda: fed.nodes["MEX"].store.receipts_for(target), what="MEX's receipt")
    assert [(r["kind"], r["reason"], r["by"]) for r in receipts] == [("refused", "internal_error", "IDN")]
    for message_id in ids:
        if message_id == target:
            continue
        sender = "MEX" if message_id in ids[0::2] else "ITA"
        got = await eventually(lambda m=message_id, s=sender: fed.nodes[s].store.receipts_for(m), what="receipt")
        assert [(r["kind"], r["reason"]) for r in got] == [("delivered", None)]
    sent = node.store.list(direction="out", type="receipt", limit=1000)
    assert sorted(m.reply_to for m in sent) == sorted(ids)  # one receipt each: committed once
    assert not _no_dead_letters(fed)


async def test_a_refused_effect_gets_a_refused_receipt_shown_to_the_sender(fed: RunningFederation) -> None:
    """Issue 14 item 8: a case message refused `not_a_jit_member` got a signed `delivered` receipt."""
    mex = fed.nodes["MEX"]
    env = mex.build_sealed("case.message", ["IDN"], {"text": "who are you"},
                           thread="jit:0190d4e4-0000-7000-8000-000000000000")
    await mex.submit([env])
    receipts = await eventually(lambda: mex.store.receipts_for(env.id), what="IDN's receipt at MEX")
    assert [(r["kind"], r["reason"], r["by"]) for r in receipts] == [("refused", "not_a_jit_member", "IDN")]

    server = TestServer(make_app(mex))
    tokens = fed.federation.credentials("MEX").tokens
    async with TestClient(server) as client:
        answer = await client.get(f"/api/messages/{env.id}", headers={"Authorization": f"Bearer {tokens['focal']}"})
        assert answer.status == 200
        assert [(r["kind"], r["reason"]) for r in (await answer.json())["receipts"]] == [("refused", "not_a_jit_member")]
