"""The hub's accept/refuse decision (nodes/hub/decide.py) without a broker or a database: every
reason code decide can return, re-sends recognised by the log, hub-addressed cosignatures, and a
failure deciding one message refusing it alone."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto.directory import sign_directory
from crypto.keys import SigningKey
from crypto.note import cosign_note, sign_note
from crypto.signing import sign_envelope
from crypto.witness_policy import WitnessPolicy
from nodes.hub.decide import (
    FOR_HUB, FORWARD, FORWARD_AGAIN, REFUSE, SETTLED, Context, DecisionFailed, Delivery, Verdict, decide,
    decide_batch, read,
)
from nodes.hub.entry import ACCEPTED, REJECTED, SeenMessage
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import Federation, load_federation
from protocol import envelope as wire
from protocol.checkpoint import Checkpoint, SignedNote
from nodes.plumbing.config import new_message_id as new_uuid7

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MEMBERS = ["MEX", "IDN", "ITA"]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    path: Path = tmp_path_factory.mktemp("decide") / "federation"
    init_federation(path, "unit-decide", MEMBERS, NOW,
                    allowed_types={"ITA": {"note", "receipt", "witness.cosign"}})  # ITA may not alert
    current = load_federation(path, NOW).directory  # IDN and MEX witness, once a minute each
    policy = WitnessPolicy(("IDN", "MEX"), quorum=2, cosign_interval=60)
    root_key = SigningKey.from_pem((path / "root" / "root.key").read_bytes())
    (path / "directory.signed.json").write_bytes(sign_directory(
        dataclasses.replace(current, serial=current.serial + 1, witness_policy=policy), root_key))
    return load_federation(path, NOW)


class Checkpoints:
    """The log's checkpoint lookups, in memory."""

    def __init__(self) -> None:
        self.notes: dict[int, SignedNote] = {}
        self.latest: dict[str, int] = {}

    def signed_checkpoint(self, size: int) -> SignedNote | None:
        return self.notes.get(size)

    def latest_cosignature_time(self, witness: str) -> int | None:
        return self.latest.get(witness)


def _context(federation: Federation, *, now: datetime = NOW, seen: dict | None = None,
             checkpoints: Checkpoints | None = None) -> Context:
    return Context(federation.directory, federation.trust, now, timedelta(minutes=5), seen or {},
                   checkpoints or Checkpoints())


def _alert(issuer: str, number: str = "X1234567") -> dict:
    return {"document_number": number, "document_type": "passport", "issuing_country": issuer,
            "status": "stolen", "action": "create", "reported": "2026-11-20"}


def _signed(federation: Federation, sender: str, *, type: str = "alert.document", recipients=("*",),  # noqa: ANN001
            body: dict | None = None, created: datetime = NOW, ttl: timedelta = timedelta(hours=1),
            message_id: str | None = None, key: SigningKey | None = None) -> bytes:
    env = wire.build(message_id=message_id or new_uuid7(), type=type, sender=sender, recipients=list(recipients),
                     created=created, ttl=ttl, body=_alert(sender) if body is None else body)
    return wire.encode(sign_envelope(env, key or federation.credentials(sender).signing_key))


def _from(federation: Federation, country: str, raw: bytes, redelivered: bool = False) -> Delivery:
    return Delivery(raw, federation.directory.node(country).broker_user, redelivered)


def _refused(verdict: Verdict, reason: str) -> None:
    assert (verdict.action, verdict.reason, verdict.entry.verdict) == (REFUSE, reason, REJECTED)
    assert verdict.entry.recipients == () and verdict.recipients == ()


# -- accepted ---------------------------------------------------------------------------------------


def test_a_valid_broadcast_alert_is_forwarded_to_every_other_member(federation: Federation) -> None:
    raw = _signed(federation, "MEX")
    verdict = decide(_from(federation, "MEX", raw), _context(federation))
    assert verdict.action == FORWARD and verdict.entry.verdict == ACCEPTED
    assert verdict.recipients == ("IDN", "ITA")
    assert verdict.entry.marks_seen and verdict.entry.message_id == wire.decode(raw).id
    assert verdict.entry.broker_user == federation.directory.node("MEX").broker_user


# -- refused: the bytes, the sender, the signature, the clock ---------------------------------------


def test_bytes_that_are_not_an_envelope_are_refused_and_the_sender_told(federation: Federation) -> None:
    verdict = decide(_from(federation, "MEX", b"{not json"), _context(federation))
    _refused(verdict, "malformed_json")
    assert verdict.answer_to == "MEX"


def test_an_unknown_message_type_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="note", recipients=["IDN"], body={"text": "hello"})
    raw = raw.replace(b'"type":"note"', b'"type":"note.unheard_of"')
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "unknown_type")


def test_an_oversize_message_is_refused_before_anything_else(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="note", recipients=["IDN"], body={"text": "hello"})
    raw = raw[:-1] + b" " * (1024 * 1024) + b"}"  # still JSON, over the 1 MiB a note may take
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "oversize")


def test_a_forged_signature_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX")
    env = wire.decode(raw)
    forged_value = base64.b64encode(bytes(64)).decode()
    forged = wire.encode(dataclasses.replace(env, sig=dataclasses.replace(env.sig, value=forged_value)))
    verdict = decide(_from(federation, "MEX", forged), _context(federation))
    _refused(verdict, "bad_signature")
    assert verdict.answer_to == "MEX"


def test_a_message_signed_with_another_members_key_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", key=federation.credentials("IDN").signing_key)
    verdict = decide(_from(federation, "MEX", raw), _context(federation))
    assert verdict.action == REFUSE and verdict.reason in ("signer_mismatch", "unknown_key")


def test_a_broker_user_may_send_only_as_its_own_node(federation: Federation) -> None:
    raw = _signed(federation, "MEX")  # authentic MEX bytes, delivered by IDN's broker user
    verdict = decide(_from(federation, "IDN", raw), _context(federation))
    _refused(verdict, "sender_mismatch")
    assert verdict.answer_to == "IDN"  # the authenticated one is told, not the envelope's sender


def test_a_refusal_with_no_known_broker_user_tells_nobody(federation: Federation) -> None:
    verdict = decide(Delivery(_signed(federation, "MEX"), "stranger"), _context(federation))
    _refused(verdict, "sender_mismatch")
    assert verdict.answer_to is None


def test_an_expired_message_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", ttl=timedelta(minutes=10))
    later = _context(federation, now=NOW + timedelta(minutes=11))
    _refused(decide(_from(federation, "MEX", raw), later), "expired")
    assert decide(_from(federation, "MEX", raw), _context(federation)).action == FORWARD


def test_a_message_from_the_future_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", created=NOW + timedelta(minutes=6))
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "clock_skew")


# -- replay and re-sends ----------------------------------------------------------------------------


def test_another_message_under_a_spent_id_is_a_replay(federation: Federation) -> None:
    raw = _signed(federation, "MEX")
    seen = {wire.decode(raw).id: SeenMessage(seq=4, digest="0" * 64)}
    verdict = decide(_from(federation, "MEX", raw), _context(federation, seen=seen))
    _refused(verdict, "replay")
    assert not verdict.entry.marks_seen


def test_the_same_bytes_again_are_forwarded_again_under_their_entry(federation: Federation) -> None:
    raw = _signed(federation, "MEX")
    first = decide(_from(federation, "MEX", raw), _context(federation))
    seen = {first.envelope.id: SeenMessage(seq=7, digest=first.entry.digest, verdict=ACCEPTED)}
    again = decide(_from(federation, "MEX", raw, redelivered=True), _context(federation, seen=seen))
    assert (again.action, again.entry.seq, again.recipients) == (FORWARD_AGAIN, 7, ("IDN", "ITA"))
    assert again.in_log_already


def test_the_same_bytes_again_after_a_refusal_are_settled(federation: Federation) -> None:
    raw = _signed(federation, "MEX")
    digest = decide(_from(federation, "MEX", raw), _context(federation)).entry.digest
    seen = {wire.decode(raw).id: SeenMessage(seq=3, digest=digest, verdict=REJECTED)}
    settled = decide(_from(federation, "MEX", raw, redelivered=True), _context(federation, seen=seen))
    assert (settled.action, settled.entry.seq, settled.reason) == (SETTLED, 3, "settled")
    assert settled.in_log_already


def test_in_one_batch_the_same_bytes_share_one_entry_and_another_message_under_the_id_is_a_replay(
        federation: Federation) -> None:
    message_id = new_uuid7()
    raw = _signed(federation, "MEX", message_id=message_id)
    other = _signed(federation, "MEX", message_id=message_id, body=_alert("MEX", "Y7654321"))
    context = _context(federation)
    readings = [read(_from(federation, "MEX", b), context.received_at, federation.directory) for b in (raw, raw, other)]
    first, twice, replay = decide_batch(readings, context)
    assert first.action == FORWARD
    assert twice.action == FORWARD_AGAIN and twice.entry is first.entry
    _refused(replay, "replay")


# -- policy -----------------------------------------------------------------------------------------


def test_an_alert_on_another_countrys_document_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", body=_alert("IDN"))
    verdict = decide(_from(federation, "MEX", raw), _context(federation))
    _refused(verdict, "not_issuing_country")
    assert verdict.entry.marks_seen  # the id is spent: the same bytes again are settled, not re-decided


def test_a_type_the_directory_does_not_allow_the_sender_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "ITA", body=_alert("ITA"))
    _refused(decide(_from(federation, "ITA", raw), _context(federation)), "type_not_allowed")


def test_a_node_may_not_send_a_hub_type(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="hub.rejection", recipients=["IDN"],
                  body={"reason": "replay", "detail": "", "at": "2026-11-22T12:00:00.000000Z"})
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "sender_role")


def test_a_recipient_outside_the_federation_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="note", recipients=["FRA"], body={"text": "hello"})
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "unknown_recipient")


def test_a_node_may_not_address_itself(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="note", recipients=["MEX"], body={"text": "hello"})
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "self_addressed")


def test_a_hub_addressed_type_sent_to_a_member_is_refused(federation: Federation) -> None:
    raw = _signed(federation, "MEX", type="witness.cosign", recipients=["IDN"], body={"size": 1, "signature": "x"})
    _refused(decide(_from(federation, "MEX", raw), _context(federation)), "bad_recipients")


# -- hub-addressed: witness cosignatures ------------------------------------------------------------


def _checkpoint(federation: Federation, size: int) -> Checkpoints:
    body = Checkpoint("unit-decide log", size, bytes(32)).body()
    lookups = Checkpoints()
    lookups.notes[size] = SignedNote(body, (sign_note(body, "hub", federation.credentials("HUB").signing_key),))
    return lookups


def _cosign(federation: Federation, witness: str, lookups: Checkpoints, size: int, timestamp: int) -> bytes:
    line = cosign_note(lookups.notes[size].body, witness, federation.credentials(witness).signing_key,
                       timestamp).line().rstrip("\n")
    return _signed(federation, witness, type="witness.cosign", recipients=["HUB"],
                   body={"size": size, "signature": line})


def test_a_witness_cosignature_is_kept_at_the_hub_and_forwarded_to_nobody(federation: Federation) -> None:
    lookups = _checkpoint(federation, 5)
    raw = _cosign(federation, "IDN", lookups, 5, int(NOW.timestamp()))
    verdict = decide(_from(federation, "IDN", raw), _context(federation, checkpoints=lookups))
    assert (verdict.action, verdict.recipients, verdict.entry.verdict) == (FOR_HUB, (), ACCEPTED)
    assert (verdict.cosignature.size, verdict.cosignature.witness, verdict.cosignature.rank) == (5, "IDN", 0)
    assert verdict.cosignature.quorum == 2


def test_a_cosignature_by_a_member_the_policy_does_not_name_is_refused(federation: Federation) -> None:
    lookups = _checkpoint(federation, 5)
    raw = _cosign(federation, "ITA", lookups, 5, int(NOW.timestamp()))
    _refused(decide(_from(federation, "ITA", raw), _context(federation, checkpoints=lookups)), "not_a_witness")


def test_a_cosignature_not_made_by_the_witness_key_is_refused(federation: Federation) -> None:
    lookups = _checkpoint(federation, 5)
    line = cosign_note(lookups.notes[5].body, "IDN", federation.credentials("MEX").signing_key,
                       int(NOW.timestamp())).line().rstrip("\n")
    raw = _signed(federation, "IDN", type="witness.cosign", recipients=["HUB"], body={"size": 5, "signature": line})
    _refused(decide(_from(federation, "IDN", raw), _context(federation, checkpoints=lookups)), "bad_cosignature")


def test_a_cosignature_of_a_checkpoint_the_hub_never_signed_is_refused(federation: Federation) -> None:
    lookups = _checkpoint(federation, 5)
    raw = _cosign(federation, "IDN", lookups, 5, int(NOW.timestamp()))
    _refused(decide(_from(federation, "IDN", raw), _context(federation)), "bad_cosignature")


def test_a_second_cosignature_in_one_window_is_refused(federation: Federation) -> None:
    lookups = _checkpoint(federation, 5)
    t = int(NOW.timestamp())
    lookups.latest["IDN"] = t
    raw = _cosign(federation, "IDN", lookups, 5, t + 1)
    _refused(decide(_from(federation, "IDN", raw), _context(federation, checkpoints=lookups)),
             "cosignature_too_frequent")


# -- a failure deciding one message ----------------------------------------------------------------


class FailingCheckpoints(Checkpoints):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def signed_checkpoint(self, size: int) -> SignedNote | None:
        raise self.error


def test_an_unexpected_failure_refuses_that_message_alone(federation: Federation) -> None:
    context = _context(federation, checkpoints=FailingCheckpoints(KeyError("a bug")))
    cosign = _signed(federation, "IDN", type="witness.cosign", recipients=["HUB"], body={"size": 5, "signature": "x"})
    alert = _signed(federation, "MEX")
    with pytest.raises(DecisionFailed):
        decide(_from(federation, "IDN", cosign), context)
    readings = [read(_from(federation, c, b), context.received_at, federation.directory)
                for c, b in (("IDN", cosign), ("MEX", alert))]
    failed, fine = decide_batch(readings, context)
    _refused(failed, "internal_error")
    assert failed.answer_to == "IDN" and not failed.entry.marks_seen and failed.entry.header is None
    assert fine.action == FORWARD


def test_a_failure_the_hub_may_not_refuse_alone_propagates(federation: Federation) -> None:
    outage = ConnectionError("database away")
    context = _context(federation, checkpoints=FailingCheckpoints(outage))
    cosign = _signed(federation, "IDN", type="witness.cosign", recipients=["HUB"], body={"size": 5, "signature": "x"})
    readings = [read(_from(federation, "IDN", cosign), context.received_at, federation.directory)]
    with pytest.raises(ConnectionError):
        decide_batch(readings, context, lambda entry, exc: not isinstance(exc, ConnectionError))


def test_the_member_list_keeps_directory_order_and_answers_membership_by_hash(federation: Federation) -> None:
    members = _context(federation).members
    assert list(members) == federation.directory.node_ids()
    assert "IDN" in members and "FRA" not in members and "HUB" not in members
    raw = _signed(federation, "MEX", type="note", recipients=["ITA", "IDN"], body={"text": "hello"})
    assert decide(_from(federation, "MEX", raw), _context(federation)).recipients == ("ITA", "IDN")


def test_a_decoder_bug_refuses_that_message_alone_and_hands_the_error_to_the_caller(
        federation: Federation, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw: bytes) -> None:
        raise RuntimeError("a decoder bug")

    monkeypatch.setattr(wire, "decode", broken)
    reading = read(_from(federation, "MEX", _signed(federation, "MEX")), "2026-11-22T12:00:00.000000Z",
                   federation.directory)
    _refused(reading.refusal, "internal_error")
    assert reading.refusal.answer_to == "MEX" and isinstance(reading.failure, RuntimeError)
