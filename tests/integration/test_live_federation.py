"""Live federation documents (issue 15, item 3): the root's new revocation list or directory is
handed to the running hub, which verifies, applies, audits and broadcasts it; every node verifies
it itself and applies it without restart. Measured: a revoked key is refused by the hub and by every
node within 5 s of publication; a member admitted while the federation runs exchanges messages
with nobody restarted; a node offline during two publications catches up. Bad publications are
refused with a reason and change nothing."""

from __future__ import annotations

import time
from datetime import timedelta

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer

import broker_config
from crypto.directory import DIRECTORY_DOMAIN, MAX_SIGNED_BYTES, Directory, NodeEntry, RevocationList, _sign, sign_directory, sign_revocations
from crypto.keys import SigningKey, kid_of
from crypto.pki import issue_certificate
from crypto.signing import sign_envelope
from nodes.hub import api as hub_api
from nodes.hub.audit import AuditEntry
from nodes.app import ceremony
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.deployment import broker_spec
from nodes.plumbing.federation import DIRECTORY_FILE, REVOCATIONS_FILE, load_federation
from nodes.app.root_operator import (
    load_root_key,
    reissue_directory,
    reissue_revocations,
    remove_member,
    revoke,
)
from nodes.app.local import withdraw_absent_members
from nodes.plumbing.amqp import open_connection
from protocol import envelope as wire
from protocol.errors import ProtocolError
from protocol.receipts import HEADER as LOG_HEADER
from tests.integration.federation import RunningFederation, eventually
from tests.integration.test_attacks import rejection_of

pytestmark = pytest.mark.integration
GOAL_SECONDS = 5.0


def _serials(fed: RunningFederation, kind: str) -> dict[str, int]:
    holders = {"HUB": fed.hub, **fed.nodes}
    return {n: getattr(h.federation, kind).serial for n, h in holders.items()}


async def _inject_to_inbox(fed: RunningFederation, country: str, env: wire.Envelope,
                           headers: dict[str, str] | None = None) -> None:
    """Put a message straight into a node's inbox, as a hub that did not check it would."""
    connection = await open_connection(fed.url_for("HUB"), timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(broker_config.NODE_OUT_EXCHANGE, ensure=False)
        await exchange.publish(aio_pika.Message(wire.encode(env), message_id=env.id, headers=headers or {},
                                                user_id=fed.federation.directory.node("HUB").broker_user),
                               routing_key=country, mandatory=True)


def _note_from(fed: RunningFederation, sender: str, to: list[str], text: str) -> wire.Envelope:
    return sign_envelope(wire.build(message_id=new_message_id(), type="note", sender=sender, recipients=to,
                                    created=utcnow(), ttl=timedelta(hours=1), body={"text": text}),
                         fed.federation.credentials(sender).signing_key)


async def test_revoked_key_is_refused_by_the_hub_and_every_node_within_5s_of_publication(
        fed: RunningFederation) -> None:
    before = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "before the revocation"})
    await eventually(lambda: fed.nodes["IDN"].store.get(before.id), what="a note before the revocation")
    kid = fed.federation.credentials("MEX").signing_key.kid
    revoke(fed.path / "federation", kid, utcnow())  # the root operator, offline
    raw = (fed.path / "federation" / REVOCATIONS_FILE).read_bytes()

    started = time.monotonic()
    published = await fed.hub.publish_federation_document(raw)
    assert published["kind"] == "revocations" and published["recipients"] == ["IDN", "ITA", "MEX"]
    await eventually(lambda: set(_serials(fed, "revocations").values()) == {published["serial"]},
                     timeout=GOAL_SECONDS, what="every node applying the revocation list")
    # The hub refuses MEX's next message ...
    revoked = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "signed by a revoked key"})
    assert await rejection_of(fed, "MEX", revoked.id) == [("rejected", "revoked_key")]
    # ... and so does every node, should a message signed by that key reach it some other way.
    forged = _note_from(fed, "MEX", ["IDN", "ITA"], "past a careless hub")
    for country in ("IDN", "ITA"):
        await _inject_to_inbox(fed, country, forged)
    for country in ("IDN", "ITA"):
        await eventually(lambda c=country: [r for r in fed.nodes[c].store.refusals()
                                            if r["message_id"] == forged.id and r["reason"] == "revoked_key"],
                         timeout=GOAL_SECONDS, what=f"{country} refusing the revoked key")
    elapsed = time.monotonic() - started
    print(f"revocation in force at the hub and every node {elapsed:.2f}s after publication")
    assert elapsed < GOAL_SECONDS, f"revocation took {elapsed:.2f}s to take effect everywhere"
    assert not fed.nodes["IDN"].store.get(forged.id) and not fed.nodes["IDN"].store.get(revoked.id)
    [entry] = fed.audit(type="hub.revocations")
    assert entry["verdict"] == "issued" and entry["message_id"] == published["message_id"]
    # Applied without restart, and kept: a restart starts from the published list.
    assert kid in load_federation(fed.path / "federation", utcnow()).revocations.revoked


async def test_a_node_offline_during_two_publications_catches_up(fed: RunningFederation) -> None:
    stale = fed.federation  # ITA's host files are not touched while it is away: it must learn from the hub
    await fed.nodes.pop("ITA").stop()
    home = fed.path / "federation"
    revoke(home, fed.federation.credentials("MEX").signing_key.kid, utcnow())
    await fed.hub.publish_federation_document((home / REVOCATIONS_FILE).read_bytes())
    reissue_directory(home, utcnow())
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    newest = load_federation(home, utcnow())

    fed.federation = stale
    ita = await fed.start_node("ITA")
    await eventually(lambda: (ita.federation.directory.serial, ita.federation.revocations.serial)
                     == (newest.directory.serial, newest.revocations.serial), what="ITA catching up")
    forged = _note_from(fed, "MEX", ["ITA"], "after the revocation")
    await _inject_to_inbox(fed, "ITA", forged)
    await eventually(lambda: [r for r in ita.store.refusals() if r["message_id"] == forged.id
                              and r["reason"] == "revoked_key"], what="ITA refusing the revoked key")


async def test_member_admitted_while_the_federation_runs_exchanges_messages_nobody_restarted(
        broker, fed: RunningFederation) -> None:  # noqa: ANN001
    home = fed.path / "federation"
    hub, nodes = fed.hub, dict(fed.nodes)
    request = ceremony.init_node(home, "FRA")  # FRA's host (the test shares one directory)
    ceremony.admit_request(home, request, utcnow(), broker_user_prefix=f"{fed.vhost}.")
    ceremony.install_admission(home, "FRA", (home / ceremony.ADMISSIONS_DIR / "FRA.json").read_bytes(), utcnow())
    grown = load_federation(home, utcnow())
    broker.apply(broker_spec(grown, fed.vhost))  # the broker operator adds FRA's user and inbox
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    await eventually(lambda: set(_serials(fed, "directory").values()) == {grown.directory.serial},
                     what="hub and nodes applying the directory with FRA")

    fed.federation = grown
    fra = await fed.start_node("FRA")
    sent = await fra.send("note", ["MEX"], body={"text": "bonjour"})
    await eventually(lambda: fed.nodes["MEX"].store.get(sent.id), what="FRA's note at MEX")
    await eventually(lambda: fra.store.receipts_for(sent.id), what="MEX's receipt at FRA")
    answer = await fed.nodes["MEX"].send("note", ["FRA"], body={"text": "hola"})
    await eventually(lambda: fra.store.get(answer.id), what="MEX's note at FRA")
    assert fed.hub is hub and all(fed.nodes[c] is n for c, n in nodes.items())  # nobody restarted


@pytest.fixture
async def operator(fed: RunningFederation):  # noqa: ANN201
    client = TestClient(TestServer(hub_api.make_app(fed.hub)))
    await client.start_server()
    token = fed.federation.credentials("HUB").tokens["operator"]
    try:
        yield client, {"Authorization": f"Bearer {token}"}
    finally:
        await client.close()


def _bad_publications(fed: RunningFederation) -> dict[str, tuple[bytes, str]]:
    home = fed.path / "federation"
    current_revocations = (home / REVOCATIONS_FILE).read_bytes()
    current_directory = (home / DIRECTORY_FILE).read_bytes()
    held = fed.federation.revocations
    by_node = sign_revocations(RevocationList(held.federation, held.serial + 5, utcnow(), utcnow() + timedelta(days=1),
                                              frozenset()), fed.federation.credentials("MEX").signing_key)
    lower = reissue_revocations(home, utcnow())  # serial 2 written; then the hub is given serial 1
    newer = (home / REVOCATIONS_FILE).read_bytes()
    (home / REVOCATIONS_FILE).write_bytes(current_revocations)
    assert lower.serial == held.serial + 1
    other_federation = sign_revocations(RevocationList("elsewhere", held.serial + 9, utcnow(),
                                                       utcnow() + timedelta(days=1), frozenset()), load_root_key(home))
    inner = fed.federation.directory.as_json()
    inner["serial"] += 7
    nodes = {n["node_id"]: n for n in inner["nodes"]}
    nodes["MEX"]["certificates"] = nodes.pop("IDN")["certificates"]  # IDN's certificate listed as MEX's
    inner["nodes"] = [nodes[n] for n in sorted(nodes)]
    misnamed = _sign("directory", inner, DIRECTORY_DOMAIN, load_root_key(home))
    return {
        "cn-differs-from-entry": (misnamed, "cert_name_mismatch"),
        "signed-by-a-node-key": (by_node, "bad_signature"),
        "equal-serial-revocations": (current_revocations, "stale_revocations"),
        "equal-serial-directory": (current_directory, "stale_directory"),
        "truncated": (newer[:-10], "malformed"),
        "re-encoded": (newer.replace(b'","', b'", "'), "malformed"),
        "other-federation": (other_federation, "wrong_federation"),
        "not-a-document": (b'{"hello":"world"}', "malformed"),
    }


async def test_bad_publications_are_refused_with_a_reason_and_change_nothing(fed: RunningFederation,
                                                                             operator) -> None:  # noqa: ANN001
    client, headers = operator
    before = (fed.hub.federation, (fed.path / "federation" / REVOCATIONS_FILE).read_bytes(),
              (fed.path / "federation" / DIRECTORY_FILE).read_bytes())
    for name, (raw, reason) in _bad_publications(fed).items():
        response = await client.post("/api/federation/publish", data=raw, headers=headers)
        assert response.status == 422, name
        assert (await response.json())["error"] == reason, name
        assert (fed.hub.federation, (fed.path / "federation" / REVOCATIONS_FILE).read_bytes(),
                (fed.path / "federation" / DIRECTORY_FILE).read_bytes()) == before, name
    assert fed.audit(type="hub.revocations") == [] and fed.audit(type="hub.directory") == []
    response = await client.post("/api/federation/publish", data=before[1])
    assert response.status == 401
    auditor = fed.federation.credentials("HUB").tokens["auditor"]
    response = await client.post("/api/federation/publish", data=before[1],
                                 headers={"Authorization": f"Bearer {auditor}"})
    assert response.status == 403


async def test_publication_through_the_api_lower_serial_after_a_higher_one_is_refused(
        fed: RunningFederation, operator) -> None:  # noqa: ANN001
    client, headers = operator
    home = fed.path / "federation"
    older = (home / REVOCATIONS_FILE).read_bytes()
    reissue_revocations(home, utcnow())
    newer = (home / REVOCATIONS_FILE).read_bytes()
    response = await client.post("/api/federation/publish", data=newer, headers=headers)
    assert response.status == 200 and (await response.json())["serial"] == 2
    response = await client.post("/api/federation/publish", data=older, headers=headers)
    assert response.status == 422 and (await response.json())["error"] == "stale_revocations"
    assert fed.hub.federation.revocations.serial == 2 and (home / REVOCATIONS_FILE).read_bytes() == newer
    await eventually(lambda: set(_serials(fed, "revocations").values()) == {2}, what="nodes at serial 2")


async def test_removed_member_loses_its_broker_permissions_and_its_messages_are_refused(
        broker, fed: RunningFederation) -> None:  # noqa: ANN001
    home = fed.path / "federation"
    ita_user = fed.federation.directory.node("ITA").broker_user
    smaller = remove_member(home, "ITA", utcnow())  # the root operator
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    withdrawn = withdraw_absent_members(broker, fed.vhost, [e.broker_user for e in smaller.nodes.values()])
    assert withdrawn == [ita_user]
    with pytest.raises(Exception) as refused:  # noqa: PT011 - aio-pika raises one of several classes
        await fed.publish_raw("ITA", wire.encode(_note_from(fed, "ITA", ["MEX"], "still here?")))
    # No permission on the vhost any more: the broker closes the connection at open.
    assert "Connection.Close" in repr(refused.value) or "ACCESS_REFUSED" in repr(refused.value), refused.value
    await eventually(lambda: {_serials(fed, "directory")[n] for n in ("HUB", "MEX", "IDN")} == {smaller.serial},
                     what="hub and nodes applying the directory without ITA")
    # The members left go on exchanging; nobody sends to ITA any more.
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "after ITA left"})
    await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="MEX's note at IDN")
    with pytest.raises(ProtocolError) as caught:  # ITA is no longer a recipient MEX's node accepts
        await fed.nodes["MEX"].send("note", ["ITA"], body={"text": "to a removed member"})
    assert caught.value.reason == "unknown_recipient"


async def test_rotation_messages_signed_by_the_old_key_in_flight_are_delivered_the_new_key_takes_over(
        fed: RunningFederation) -> None:
    home = fed.path / "federation"
    old_kid = fed.federation.credentials("MEX").signing_key.kid
    in_flight = [_note_from(fed, "MEX", ["IDN"], f"signed before the rotation {i}") for i in range(10)]
    request = ceremony.init_node(home, "MEX", rotation=True)  # on MEX's host
    ceremony.admit_request(home, request, utcnow(), rotation=True, overlap=timedelta(hours=1))  # the root
    ceremony.install_admission(home, "MEX", (home / ceremony.ADMISSIONS_DIR / "MEX.json").read_bytes(), utcnow())
    rotated = load_federation(home, utcnow())
    await fed.hub.publish_federation_document((home / DIRECTORY_FILE).read_bytes())
    await eventually(lambda: set(_serials(fed, "directory").values()) == {rotated.directory.serial},
                     what="hub and nodes applying the directory with MEX's second certificate")

    fed.federation = rotated  # the test's view of the files (MEX's broker login did not change)
    for env in in_flight:  # arriving after the new directory is in force, during the overlap
        await fed.publish_raw("MEX", wire.encode(env))
    await eventually(lambda: all(fed.nodes["IDN"].store.get(e.id) for e in in_flight),
                     what="every in-flight message signed by the old key at IDN")
    # Under traffic: IDN keeps writing to MEX, and MEX has notes in its outbox signed by the old key
    # when it stops; they go out after the restart, during the overlap.
    idn_notes = [fed.nodes["IDN"].build("note", ["MEX"], body={"text": f"IDN during the rotation {i}"})
                 for i in range(30)]
    await fed.nodes["IDN"].submit(idn_notes[:15])
    queued = [fed.nodes["MEX"].build("note", ["IDN"], body={"text": f"queued at MEX {i}"}) for i in range(30)]
    await fed.nodes["MEX"].submit(queued)
    await fed.nodes.pop("MEX").stop()  # MEX's own node restarts on its new key; nobody else does
    await fed.nodes["IDN"].submit(idn_notes[15:])
    mex = await fed.start_node("MEX")
    new_kid = mex.creds.signing_key.kid
    assert new_kid != old_kid
    sent = await mex.send("note", ["IDN"], body={"text": "signed by the new key"})
    await eventually(lambda: fed.nodes["IDN"].store.get(sent.id), what="the new key's note at IDN")
    assert [e["kid"] for e in fed.audit(message_id=sent.id)] == [new_kid]
    await eventually(lambda: all(fed.nodes["IDN"].store.get(e.id) for e in queued),
                     what="MEX's queued old-key notes at IDN")
    await eventually(lambda: all(mex.store.get(e.id) for e in idn_notes), what="IDN's notes at MEX")
    assert {e["kid"] for m in queued for e in fed.audit(message_id=m.id)} == {old_kid}
    # Nothing valid when sent was refused, anywhere.
    # (MEX's node did not send the notes injected above, so it refuses IDN's receipts for them.)
    assert fed.nodes["IDN"].store.refusals() == []
    assert all(r["reason"] == "receipt_mismatch" and any(e.id in r["detail"] for e in in_flight)
               for r in mex.store.refusals())
    assert [e for e in fed.audit() if e["verdict"] == "rejected"] == []
    old_cert = next(c for c in rotated.directory.node("MEX").certificates if kid_of(c.public_key()) == old_kid)
    assert old_cert.not_valid_after_utc <= utcnow() + timedelta(hours=1)  # the overlap the directory states


@pytest.mark.parametrize("forgery", ["signed-by-the-hub-key", "older-root-signed", "other-kind"])
async def test_a_hostile_hub_cannot_push_a_directory_the_root_did_not_sign_or_roll_one_back(
        fed: RunningFederation, forgery: str) -> None:
    """The hub signs and log-receipts the envelope (a hostile hub operator can): each node still checks
    the document inside against the root and its own serial, refuses it, and keeps what it had."""
    home = fed.path / "federation"
    hub_key = fed.federation.credentials("HUB").signing_key
    held = fed.federation.directory
    if forgery == "signed-by-the-hub-key":  # the hub's own directory: say, one listing a key of its own for MEX
        document = sign_directory(Directory(held.federation, held.serial + 1, held.issued, held.expires,
                                            dict(held.nodes)), hub_key)
        kind, reason = "directory", "bad_signature"
    elif forgery == "older-root-signed":
        document, kind, reason = (home / REVOCATIONS_FILE).read_bytes(), "revocations", "stale_revocations"
    else:  # a root-signed revocation list presented as a directory
        reissue_revocations(home, utcnow())
        document, kind, reason = (home / REVOCATIONS_FILE).read_bytes(), "directory", "bad_body"
    env = sign_envelope(wire.build(message_id=new_message_id(), type=f"hub.{kind}", sender="HUB", recipients=["*"],
                                   created=utcnow(), ttl=timedelta(hours=1),
                                   body={"document": document.decode()}), hub_key)
    entry = AuditEntry(verdict="issued", digest=env.digest(), received_at=env.created, message_id=env.id, seq=10**6,
                       leaf_hash=bytes(32))
    before = {c: (n.federation.directory.serial, n.federation.revocations.serial) for c, n in fed.nodes.items()}
    await _inject_to_inbox(fed, "IDN", env, {LOG_HEADER: fed.hub.log_receipt(entry, env.id, env.created)})
    await eventually(lambda: [r for r in fed.nodes["IDN"].store.refusals() if r["message_id"] == env.id
                              and r["reason"] == reason], what=f"IDN refusing the forged {kind} ({reason})")
    assert {c: (n.federation.directory.serial, n.federation.revocations.serial)
            for c, n in fed.nodes.items()} == before


async def test_a_directory_over_one_mib_is_read_whole_and_an_oversize_body_is_refused(
        fed: RunningFederation, operator) -> None:  # noqa: ANN001
    client, headers = operator
    home = fed.path / "federation"
    root_key, held = load_root_key(home), fed.federation.directory
    mex = held.node("MEX")
    nodes = dict(held.nodes)
    names = (a + b + c for a in "QRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for node_id in (n for n in names if n not in nodes):  # many members, enough to pass aiohttp's 1 MiB default
        if len(nodes) >= 480:
            break
        cert = issue_certificate(root_key, fed.federation.root_cert, node_id, SigningKey.generate().public_key,
                                 utcnow())
        nodes[node_id] = NodeEntry(node_id, (cert,), f"{fed.vhost}.{node_id}", mex.allowed_types, mex.sealing_key,
                                   mex.hybrid_sealing_key)
    raw = sign_directory(Directory(held.federation, held.serial + 1, held.issued, held.expires, nodes), root_key)
    assert len(raw) > 1024 * 1024
    response = await client.post("/api/federation/publish", data=raw, headers=headers)
    assert response.status == 200, await response.text()
    assert fed.hub.federation.directory.serial == held.serial + 1 and len(fed.hub.federation.directory.nodes) == 480
    response = await client.post("/api/federation/publish", data=b"{" * (MAX_SIGNED_BYTES + 1), headers=headers)
    assert response.status == 413 and (await response.json())["error"] == "request_too_large"
