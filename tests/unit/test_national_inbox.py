"""The national inbox's check (nodes/national/inbox.py) and the core's receipt rule
(nodes/national/receipts.py), without a broker: plain bytes and headers in, a typed verdict out."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, select

from crypto.errors import CryptoError
from crypto.signing import sign_envelope, verify_envelope
from nodes.national import delivery, inbox, receipts
from nodes.national.store import message_row, metadata, refusals
from nodes.national.store import receipts as receipt_table
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from protocol import envelope as wire
from protocol.errors import DecodeError, ProtocolError
from protocol.receipts import LogReceipt
from protocol.timefmt import format_time

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    home = tmp_path_factory.mktemp("fed") / "f"
    init_federation(home, "unit", ["MEX", "IDN"], NOW)
    return load_federation(home, NOW)


def _note(federation, sender: str = "MEX", to: str = "IDN") -> wire.Envelope:  # noqa: ANN001
    env = wire.build(message_id="01a20000-0000-7000-8000-000000000001", type="note", sender=sender, recipients=[to],
                     created=NOW, ttl=timedelta(hours=1), body={"text": "hello"})
    return sign_envelope(env, federation.credentials(sender).signing_key)


def _log_receipt(federation, env: wire.Envelope, signer: str = "HUB", message_id: str | None = None) -> str:  # noqa: ANN001
    key = federation.credentials(signer).signing_key
    receipt = LogReceipt(message_id or env.id, 7, "00" * 32, env.digest(), format_time(NOW), kid=key.kid)
    return replace(receipt, sig=base64.b64encode(key.sign(receipt.signing_input())).decode()).to_header()


def _check(federation, raw: bytes, header: str | None, country: str = "IDN", heard=None):  # noqa: ANN001, ANN202
    return inbox.check(inbox.Delivery(raw, header), country=country, federation=federation, now=NOW,
                       opener=wire.decode_body, heard_from_hub=heard or (lambda at: None))


def test_a_message_with_the_hubs_log_receipt_passes_the_check_without_a_broker(federation) -> None:  # noqa: ANN001
    env = _note(federation)
    heard: list[str] = []
    checked = _check(federation, wire.encode(env), _log_receipt(federation, env), heard=heard.append)
    assert (checked.verified.id, checked.body, checked.receipt.index) == (env.id, {"text": "hello"}, 7)
    assert heard == [format_time(NOW)]


def test_a_message_without_a_log_receipt_is_refused(federation) -> None:  # noqa: ANN001
    with pytest.raises(ProtocolError) as caught:
        _check(federation, wire.encode(_note(federation)), None)
    assert caught.value.reason == "missing_log_receipt"


def test_a_log_receipt_for_another_message_or_by_a_node_is_refused(federation) -> None:  # noqa: ANN001
    env = _note(federation)
    for header in (_log_receipt(federation, env, message_id="01a20000-0000-7000-8000-000000000002"),
                   _log_receipt(federation, env, signer="MEX")):
        with pytest.raises(ProtocolError) as caught:
            _check(federation, wire.encode(env), header)
        assert caught.value.reason == "bad_log_receipt"


def test_a_message_for_another_node_is_misrouted_and_garbage_is_a_decode_error(federation) -> None:  # noqa: ANN001
    env = _note(federation)
    with pytest.raises(ProtocolError) as caught:
        _check(federation, wire.encode(env), _log_receipt(federation, env), country="MEX")
    assert caught.value.reason == "misrouted"
    with pytest.raises(DecodeError):
        _check(federation, b"\xff not json", None)


def test_a_tampered_message_fails_its_signature(federation) -> None:  # noqa: ANN001
    env = _note(federation)
    doc = json.loads(wire.encode(env))
    doc["recipients"] = ["MEX", "IDN"]
    with pytest.raises((CryptoError, ProtocolError)):
        _check(federation, json.dumps(doc).encode(), _log_receipt(federation, env))


# -- receipts: the core's rule, whatever features the node has -------------------------------------

def _receipt_for(federation, sent: wire.Envelope, digest: str, by: str = "IDN"):  # noqa: ANN001, ANN202
    body = {"of": sent.id, "digest": digest, "kind": "delivered", "at": format_time(NOW)}
    env = sign_envelope(wire.build(message_id="01a20000-0000-7000-8000-0000000000aa", type="receipt", sender=by,
                                   recipients=["MEX"], created=NOW, ttl=timedelta(hours=1), body=body),
                        federation.credentials(by).signing_key)
    return verify_envelope(env, federation.trust, NOW), body


def _sent_and_tracked(conn, sent: wire.Envelope) -> None:  # noqa: ANN001
    conn.execute(insert(metadata.tables["messages"]), message_row("out", sent, sent.digest(), wire.encode(sent),
                                                                   format_time(NOW)))
    delivery.track(conn, [sent], NOW, 60)


def test_a_receipt_with_another_digest_is_refused_and_settles_nothing(federation) -> None:  # noqa: ANN001
    """The forged-receipt check is the core's (it lived in MLA, and a forged receipt still settled
    the message's delivery, which then was never re-sent)."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    sent = _note(federation, "MEX", "IDN")
    followed: list[str] = []
    with engine.begin() as conn:
        _sent_and_tracked(conn, sent)
        verified, body = _receipt_for(federation, sent, "ab" * 32)
        receipts.accept(conn, verified, body, [lambda c, v, b: followed.append(v.id)])
        assert [r.reason for r in conn.execute(select(refusals))] == ["receipt_mismatch"]
        assert conn.execute(select(receipt_table)).all() == []
        assert [d["state"] for d in delivery.status_of(conn, sent.id)] == ["pending"]
        assert followed == []


def test_a_genuine_receipt_is_recorded_settles_and_reaches_the_features(federation) -> None:  # noqa: ANN001
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    sent = _note(federation, "MEX", "IDN")
    followed: list[str] = []
    with engine.begin() as conn:
        _sent_and_tracked(conn, sent)
        verified, body = _receipt_for(federation, sent, sent.digest())
        receipts.accept(conn, verified, body, [lambda c, v, b: followed.append(b["of"])])
        assert [(r.of, r.by, r.kind) for r in conn.execute(select(receipt_table))] == [(sent.id, "IDN", "delivered")]
        assert [d["state"] for d in delivery.status_of(conn, sent.id)] == ["settled"]
        assert followed == [sent.id]


def test_a_receipt_from_a_node_the_message_was_not_sent_to_is_refused(federation) -> None:  # noqa: ANN001
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    sent = _note(federation, "MEX", "IDN")
    with engine.begin() as conn:
        _sent_and_tracked(conn, sent)
        verified, body = _receipt_for(federation, sent, sent.digest(), by="MEX")
        receipts.accept(conn, verified, body)
        assert [r.reason for r in conn.execute(select(refusals))] == ["receipt_mismatch"]


def test_a_frame_the_hub_logged_but_whose_bytes_changed_on_the_way_is_refused_by_the_recipient(federation) -> None:  # noqa: ANN001
    """The recipient decodes a file chunk's frame itself: a genuine log receipt for the signed envelope
    does not make other sealed bytes beside it acceptable (evidence-files.md, the binary frame)."""
    env = sign_envelope(wire.build(
        message_id="01a20000-0000-7000-8000-000000000003", type="file.chunk", sender="MEX", recipients=["IDN"],
        created=NOW, ttl=timedelta(hours=1), sealed=b"header\nciphertext", thread="mla:MEX:R-1",
        reply_to="01a20000-0000-7000-8000-000000000001",
        header={"file": "01a20000-0000-7000-8000-000000000001", "n": 0, "chunk": 0, "chunks": 1, "bytes": 3}),
        federation.credentials("MEX").signing_key)
    raw, header = wire.encode(env), _log_receipt(federation, env)
    for changed, reason in ((raw + b"x", "bad_frame"), (raw[:-1], "bad_frame"), (raw[:-1] + b"X", "digest_mismatch")):
        with pytest.raises(DecodeError) as caught:
            _check(federation, changed, header)
        assert caught.value.reason == reason
    opened: list[str] = []
    checked = inbox.check(inbox.Delivery(raw, header), country="IDN", federation=federation, now=NOW,
                           opener=lambda e: opened.append(e.id) or {"data": b"abc"})
    assert opened == [env.id] and checked.verified.id == env.id
