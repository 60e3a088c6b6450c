"""Attacks through the real broker and hub: each is refused with its reason code, audited, answered
to the authenticated sender, and has no effect, while valid traffic around it still arrives.

Hostile bytes from a member (forged, impersonating, expired, malformed, oversize, re-addressed,
invalid UTF-8, deeply nested, unknown type) are the parametrised test in test_relay.py;
docs/security.md maps every attack to its test.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crypto.directory import load_directory, sign_directory
from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.deployment import Deployment
from nodes.plumbing.federation import DIRECTORY_FILE, load_federation
from nodes.app.root_operator import reissue_directory, revoke
from protocol import envelope as wire
from tests.integration.federation import RunningFederation, eventually, make_federation
from tests.integration.test_relay import note

pytestmark = pytest.mark.integration


def notes_received(fed: RunningFederation) -> dict[str, list[str]]:
    return {c: sorted(m.body["text"] for m in fed.inbox(c, type="note")) for c in fed.nodes}


async def rejection_of(fed: RunningFederation, country: str, message_id: str) -> list[tuple[str, str]]:
    """Wait for the hub's signed answer to `country` about `message_id`; the audit trail of that id."""
    answers = await eventually(lambda: [m for m in fed.inbox(country, type="hub.rejection")
                                        if m.body["of"] == message_id], what=f"hub.rejection at {country}")
    assert len(answers) == 1 and answers[0].sender == "HUB"
    return [(e["verdict"], e["reason"]) for e in fed.audit(message_id=message_id)]


async def test_replayed_receipt_is_rejected_audited_and_recorded_once(fed: RunningFederation) -> None:
    sent = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "request for records"})
    await eventually(lambda: fed.nodes["MEX"].store.receipts_for(sent.id), what="IDN's receipt at MEX")
    [receipt] = fed.nodes["IDN"].store.list(direction="out", type="receipt")

    # Another receipt under the spent id (the same bytes again would be a harmless re-send).
    altered = fed.nodes["IDN"].build("receipt", ["MEX"], reply_to=sent.id, message_id=receipt.message_id,
                                     body={**receipt.body, "at": "2026-01-01T00:00:00.000000Z"})
    await fed.publish_raw("IDN", wire.encode(altered))
    after = await fed.nodes["IDN"].send("note", ["MEX"], body={"text": "sent after the replay"})

    assert await rejection_of(fed, "IDN", receipt.message_id) == [("accepted", None), ("rejected", "replay")]
    await eventually(lambda: fed.nodes["MEX"].store.get(after.id), what="valid traffic after the replay")
    assert [m.message_id for m in fed.inbox("MEX", type="receipt")] == [receipt.message_id]
    assert len(fed.nodes["MEX"].store.receipts_for(sent.id)) == 1


async def test_old_message_replayed_after_a_hub_restart_is_still_rejected(fed: RunningFederation) -> None:
    old = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "delivered once"})
    await eventually(lambda: fed.nodes["IDN"].store.get(old.id), what="first delivery")
    await fed.hub.stop()
    await fed.start_hub()  # spent message ids are durable, not a memory of the running process

    altered = fed.nodes["MEX"].build("note", ["IDN"], body={"text": "altered"}, message_id=old.id)
    await fed.publish_raw("MEX", wire.encode(altered))
    after = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "after the replay"})

    assert await rejection_of(fed, "MEX", old.id) == [("accepted", None), ("rejected", "replay")]
    await eventually(lambda: fed.nodes["IDN"].store.get(after.id), what="valid traffic after the replay")
    assert notes_received(fed)["IDN"] == ["after the replay", "delivered once"]


async def test_message_signed_by_a_revoked_key_is_rejected_audited_answered_and_never_delivered(
        fed: RunningFederation) -> None:
    revoke(fed.path / "federation", fed.federation.credentials("MEX").signing_key.kid, utcnow())
    await fed.hub.stop()
    fed.federation = load_federation(fed.path / "federation", utcnow())
    await fed.start_hub()  # the hub loads the root-signed revocation list at start

    before = await fed.nodes["ITA"].send("note", ["IDN"], body={"text": "before"})
    revoked = await fed.nodes["MEX"].send("note", ["IDN", "ITA"], body={"text": "signed by a revoked key"})
    after = await fed.nodes["ITA"].send("note", ["IDN"], body={"text": "after"})

    assert await rejection_of(fed, "MEX", revoked.id) == [("rejected", "revoked_key")]
    for good in (before, after):
        await eventually(lambda m=good: fed.nodes["IDN"].store.get(m.id), what="valid traffic around it")
    assert notes_received(fed) == {"MEX": [], "IDN": ["after", "before"], "ITA": []}


async def test_sealed_payload_built_to_crash_the_recipient_is_refused_there_and_the_inbox_goes_on(
        fed: RunningFederation) -> None:
    # The hub cannot open sealed payloads, so it relays this authentic message; the recipient's
    # strict parser must refuse its deeply nested seal header instead of raising RecursionError.
    hostile = "{}.{}".format(*(base64.urlsafe_b64encode(part).decode().rstrip("=")
                               for part in (b"[" * 100_000, b"ciphertext")))
    header = {"reference": "MEX-HOSTILE-1", "kind": "mutual_legal_assistance", "status": "submitted",
              "urgency": "routine", "deadline": None}  # what the hub checks: a well-formed request's header
    env = sign_envelope(wire.build(message_id=new_message_id(), type="mla.request", sender="MEX", recipients=["IDN"],
                                   created=utcnow(), ttl=timedelta(hours=1), sealed=hostile, header=header,
                                   thread="mla:MEX:MEX-HOSTILE-1"),
                        fed.federation.credentials("MEX").signing_key)
    await fed.publish_raw("MEX", wire.encode(env))
    after = await fed.nodes["MEX"].send("note", ["IDN"], body={"text": "after the hostile seal"})

    await eventually(lambda: fed.nodes["IDN"].store.get(after.id), what="valid traffic after it")
    assert [(r["message_id"], r["reason"]) for r in fed.nodes["IDN"].store.refusals()] == [(env.id, "bad_seal")]
    assert fed.nodes["IDN"].store.get(env.id) is None
    assert [e["verdict"] for e in fed.audit(message_id=env.id)] == ["accepted"]  # relayed, so on record


def _not_signed_by_root(federation_dir: Path) -> None:
    root_cert = load_federation(federation_dir, utcnow()).root_cert
    directory = load_directory((federation_dir / DIRECTORY_FILE).read_bytes(), root_cert, None)
    (federation_dir / DIRECTORY_FILE).write_bytes(sign_directory(directory, SigningKey.generate()))


def _expired(federation_dir: Path) -> None:
    reissue_directory(federation_dir, utcnow() - timedelta(days=30), days=1)  # genuinely root-signed


def _run(state_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nodes.app.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])


def _hub_in(broker, vhost: str) -> dict | None:  # noqa: ANN001
    stats = broker.status(vhost).get("vhosts", {}).get(vhost, {}).get("hub.in")
    return stats if stats and stats["messages"] else None


@pytest.mark.parametrize(("tamper", "reason"), [(_not_signed_by_root, "bad_signature"), (_expired, "expired")],
                         ids=["directory-not-signed-by-root", "expired-directory"])
async def test_hub_and_node_refuse_to_start_on_an_untrusted_directory_and_consume_nothing(
        broker, tmp_path: Path, request: pytest.FixtureRequest, tamper, reason: str) -> None:  # noqa: ANN001
    fed = make_federation(broker, tmp_path, request.node.name)
    try:
        waiting = note(fed, "MEX", ["IDN"], "waiting in hub.in")
        await fed.publish_raw("MEX", wire.encode(waiting))
        Deployment(tmp_path, fed.amqp_port, fed.vhost).save()
        trusted = (tmp_path / "federation" / DIRECTORY_FILE).read_bytes()
        tamper(tmp_path / "federation")

        for command in (["hub", "run"], ["node", "run", "--country", "IDN"]):
            refused = await asyncio.to_thread(_run, tmp_path, *command)
            assert refused.returncode == 2, refused.stderr
            assert refused.stderr.startswith(f"somex: refusing to start: {reason}: ")
            assert str(tmp_path / "federation") in refused.stderr
        assert not (tmp_path / "hub" / "audit.db").exists() and not (tmp_path / "nodes" / "IDN" / "node.db").exists()
        hub_in = await eventually(lambda: _hub_in(broker, fed.vhost), what="the message counted in hub.in")
        assert hub_in == {"messages": 1, "ready": 1, "unacknowledged": 0, "consumers": 0}

        # Nothing was lost either: with the trusted directory back, the message is relayed.
        (tmp_path / "federation" / DIRECTORY_FILE).write_bytes(trusted)
        await fed.start_all()
        got = await eventually(lambda: fed.nodes["IDN"].store.get(waiting.id), what="delivery after the restore")
        assert got.body == {"text": "waiting in hub.in"}
    finally:
        await fed.stop_all()
        fed.delete(broker)
