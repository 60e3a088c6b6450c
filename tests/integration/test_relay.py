"""A signed message crosses a real federation: nodes → RabbitMQ → hub (verify, audit) → nodes."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.plumbing.config import new_message_id, utcnow
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually

pytestmark = pytest.mark.integration


def note(fed: RunningFederation, sender: str, to: list[str], text: str = "hello", **fields) -> wire.Envelope:  # noqa: ANN003
    created = fields.pop("created", utcnow())
    ttl = fields.pop("ttl", timedelta(hours=1))
    key = fields.pop("key", fed.federation.credentials(sender).signing_key)
    return sign_envelope(wire.build(message_id=new_message_id(), type="note", sender=sender, recipients=to,
                                    created=created, ttl=ttl, body={"text": text}, **fields), key)


def alert(issuer: str, number: str) -> dict:
    return {"document_number": number, "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20"}


def rejections_at(fed: RunningFederation, country: str) -> dict[str | None, str]:
    return {m.body["of"]: m.body["reason"] for m in fed.inbox(country, type="hub.rejection")}


async def test_message_from_mex_to_idn_arrives_verified_exactly_once_and_is_audited(fed: RunningFederation) -> None:
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "route via Surabaya"}, thread="case-1")

    got = await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="delivery at IDN")
    assert got.body == {"text": "route via Surabaya"} and got.sender == "MEX" and got.thread == "case-1"
    assert got.digest == sent.digest()
    [entry] = fed.audit(message_id=sent.id)
    assert entry["verdict"] == "accepted" and entry["recipients"] == ["IDN"] and entry["digest"] == sent.digest()
    assert got.log_index == entry["seq"]  # the hub's signed log receipt names this entry
    await eventually(lambda: fed.nodes["MEX"].store.receipts_for(sent.id), what="IDN's receipt at MEX")
    assert [m.message_id for m in fed.inbox("IDN", type="note")] == [sent.id]
    assert fed.inbox("ITA") == []


async def test_broadcast_reaches_every_node_but_the_sender(fed: RunningFederation) -> None:
    sent = await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("ITA", "YA1234567"))
    for country in ("MEX", "IDN"):
        await eventually(lambda c=country: fed.nodes[c].store.get(sent.id), what=f"broadcast at {country}")
    assert fed.inbox("ITA") == []
    [entry] = fed.audit(message_id=sent.id)
    assert sorted(entry["recipients"]) == ["IDN", "MEX"]


def _forged(fed: RunningFederation) -> bytes:
    return wire.encode(note(fed, "MEX", ["IDN"], "forged", key=SigningKey.generate()))


def _impersonating(fed: RunningFederation) -> bytes:
    # Signed correctly by IDN's key, but published with MEX's broker credentials.
    return wire.encode(note(fed, "IDN", ["ITA"], "not really from IDN"))


def _expired(fed: RunningFederation) -> bytes:
    return wire.encode(note(fed, "MEX", ["IDN"], "stale", created=utcnow() - timedelta(hours=2),
                            ttl=timedelta(hours=1)))


def _oversize(fed: RunningFederation) -> bytes:
    env = note(fed, "MEX", ["IDN"], "x")
    obj = env.to_json()
    obj["body"] = json.dumps({"text": "x" * (2 * 1024 * 1024)})
    obj["body_digest"] = wire.payload_digest(obj["body"])
    return json.dumps(obj).encode()


def _readdressed(fed: RunningFederation) -> bytes:
    # Signed by MEX for IDN, then re-addressed to ITA: recipients are signed members.
    obj = note(fed, "MEX", ["IDN"], "meant for IDN only").to_json()
    obj["recipients"] = ["ITA"]
    return json.dumps(obj).encode()


def _invalid_utf8(fed: RunningFederation) -> bytes:
    return wire.encode(note(fed, "MEX", ["IDN"], "broken")).replace(b"broken", b"brok\xc3\x28n")


def _deeply_nested(fed: RunningFederation) -> bytes:
    obj = note(fed, "MEX", ["IDN"], "nested").to_json()
    obj["header"] = json.loads("[" * 200 + "]" * 200)
    return json.dumps(obj).encode()


def _unknown_type(fed: RunningFederation) -> bytes:
    obj = note(fed, "MEX", ["IDN"], "shut down").to_json()
    obj["type"] = "admin.shutdown"
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("craft", "reason"),
    [
        (_forged, "unknown_key"),
        (_impersonating, "sender_mismatch"),
        (_expired, "expired"),
        (lambda fed: b'{"v":1, "id": "broken', "malformed_json"),
        (_oversize, "oversize"),
        (_readdressed, "bad_signature"),
        (_invalid_utf8, "bad_utf8"),
        (_deeply_nested, "too_deep"),
        (_unknown_type, "unknown_type"),
    ],
    ids=["forged-signature", "sender-not-broker-user", "expired", "malformed-json", "oversize",
         "re-addressed-to-another-recipient", "invalid-utf8", "deeply-nested", "unknown-type"],
)
async def test_bad_message_is_rejected_audited_answered_and_never_delivered(fed, craft, reason) -> None:  # noqa: ANN001
    before = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "before"})
    raw = craft(fed)
    await fed.publish_raw("MEX", raw)
    after = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "after"})

    for good in (before, after):
        await eventually(lambda m=good: fed.nodes["IDN"].store.get(m.id), what="valid traffic around the bad message")
    rejected = await eventually(lambda: [e for e in fed.audit() if e["verdict"] == "rejected"], what="audit entry")
    assert [e["reason"] for e in rejected] == [reason]
    assert rejected[0]["broker_user"] == fed.federation.credentials("MEX").broker_user
    answers = await eventually(lambda: fed.inbox("MEX", type="hub.rejection"), what="hub.rejection at MEX")
    assert [a.body["reason"] for a in answers] == [reason]
    texts = {m.body["text"] for m in fed.inbox("IDN", type="note")} | {m.body["text"] for m in fed.inbox("ITA")
                                                                       if m.type == "note"}
    assert texts == {"before", "after"}


async def test_known_id_with_other_content_is_a_replay_rejected_audited_and_delivered_only_once(
        fed: RunningFederation) -> None:
    # The same bytes again are a re-send (tests/integration/test_delivery.py); another message
    # under a spent id is a replay.
    env = note(fed, "MEX", ["IDN"], "once")
    await fed.publish_raw("MEX", wire.encode(env))
    await eventually(lambda: fed.nodes["IDN"].store.get(env.id), what="first delivery")
    other = sign_envelope(wire.build(message_id=env.id, type="note", sender="MEX", recipients=["IDN"],
                                     created=utcnow(), ttl=timedelta(hours=1), body={"text": "twice"}),
                          fed.federation.credentials("MEX").signing_key)
    await fed.publish_raw("MEX", wire.encode(other))

    answers = await eventually(lambda: rejections_at(fed, "MEX"), what="replay rejection")
    assert answers == {env.id: "replay"}
    verdicts = [(e["verdict"], e["reason"]) for e in fed.audit(message_id=env.id)]
    assert verdicts == [("accepted", None), ("rejected", "replay")]
    assert [m.body["text"] for m in fed.inbox("IDN", type="note")] == ["once"]


async def test_node_refuses_to_send_what_the_hub_would_reject(fed: RunningFederation) -> None:
    from protocol.errors import PolicyError

    with pytest.raises(PolicyError) as caught:
        await fed.nodes["MEX"].send("note", ["FRA"], body={"text": "not a member"})
    assert caught.value.reason == "unknown_recipient"


async def test_redelivered_message_already_logged_is_forwarded_again_with_a_valid_log_receipt(
        fed: RunningFederation, broker) -> None:  # noqa: ANN001
    # The broker refuses the hub's forward after the hub logged the message: the batch is requeued,
    # and the redelivery must reach IDN once, with a log receipt IDN accepts, and no second entry.
    hub_user = fed.federation.credentials("HUB").broker_user
    reads = r"^(hub\.in|dead\.letters|unroutable)$"
    broker.set_permissions(fed.vhost, hub_user, "^$", "^$", reads)
    await fed.hub._publisher.close()  # permissions are cached per channel: make the hub open a new one
    env = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "logged before the forward failed"})
    await eventually(lambda: fed.audit(message_id=env.id), what="the entry in the log")
    await asyncio.sleep(1.0)
    assert fed.nodes["IDN"].store.get(env.id) is None  # not forwarded while refused
    broker.set_permissions(fed.vhost, hub_user, "^$", r"^node\.out$", reads)
    got = await eventually(lambda: fed.nodes["IDN"].store.get(env.id), what="delivery after redelivery")
    assert fed.nodes["IDN"].store.refusals() == []
    [entry] = fed.audit(message_id=env.id)
    assert got.log_index == entry["seq"]


async def test_alert_on_another_countrys_passport_is_rejected_audited_and_answered(fed: RunningFederation) -> None:
    # The node refuses it locally; a node that sends it anyway is refused by the hub.
    from protocol.errors import PolicyError

    with pytest.raises(PolicyError):
        await fed.nodes["ITA"].send("alert.document", ["*"], body=alert("MEX", "G00000001"))
    key = fed.federation.credentials("ITA").signing_key
    forged = sign_envelope(wire.build(message_id=new_message_id(), type="alert.document", sender="ITA",
                                      recipients=["*"], created=utcnow(), ttl=timedelta(hours=1),
                                      body=alert("MEX", "G00000001")), key)
    await fed.publish_raw("ITA", wire.encode(forged))
    answers = await eventually(lambda: rejections_at(fed, "ITA"), what="hub.rejection at ITA")
    assert answers == {forged.id: "not_issuing_country"}
    assert [e["reason"] for e in fed.audit(message_id=forged.id)] == ["not_issuing_country"]
    assert fed.inbox("MEX", type="alert.document") == [] and fed.inbox("IDN", type="alert.document") == []
