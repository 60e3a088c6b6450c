"""protocol/frame.py and its use by protocol/envelope.py: a framed type's sealed bytes beside its
envelope's JSON, bound by the signed `body_digest` and `sealed_bytes`; every other form refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.sealing import SealError, open_sealed, seal, seal_bytes, sealed_recipients, sealed_suite
from protocol import envelope as wire
from protocol import frame
from protocol.errors import DecodeError

CARRIER = "01a23658-19ef-7856-bae0-85a65ca51451"
SIG = wire.Signature("ed25519", "0" * 64, base64.b64encode(bytes(64)).decode())


def chunk(sealed: bytes | str, data_len: int = 1000) -> wire.Envelope:
    env = wire.build(message_id=CARRIER, type="file.chunk", sender="ITA", recipients=["MEX"],
                     created=datetime.now(UTC), ttl=timedelta(days=7), sealed=sealed, thread="mla:ITA:R-1",
                     reply_to=CARRIER, header={"file": CARRIER, "n": 0, "chunk": 0, "chunks": 1, "bytes": data_len})
    return env.with_signature(SIG)


def refusal(raw: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as exc:
        wire.decode(raw)
    return exc.value


def framed_with(members: dict, sealed: bytes) -> bytes:
    return frame.head(json.dumps(members).encode()) + sealed


def test_a_frame_is_the_envelope_json_then_the_sealed_bytes_which_decode_as_sent() -> None:
    sealed = os.urandom(3000) + b"\n"
    env = chunk(sealed)
    raw = wire.encode(env)
    assert raw.startswith(frame.MAGIC) and raw.endswith(sealed)
    text, beside = frame.split(raw)
    assert bytes(beside) == sealed and json.loads(bytes(text))["sealed_bytes"] == len(sealed)
    assert "sealed" not in json.loads(bytes(text))
    decoded = wire.decode(raw)
    assert decoded.sealed == sealed and decoded.sealed_bytes == len(sealed)
    assert decoded.body_digest == hashlib.sha256(sealed).hexdigest()
    assert decoded.digest() == env.digest() and decoded.signing_input() == env.signing_input()
    assert wire.read_names(raw) == {"id": CARRIER, "type": "file.chunk", "sender": "ITA", "thread": "mla:ITA:R-1"}


def test_the_signature_covers_the_sealed_bytes_length_and_digest() -> None:
    env = chunk(b"x" * 10)
    members = json.loads(env.signing_input()[len(wire.SIGNING_DOMAIN):])
    assert members["sealed_bytes"] == 10 and members["body_digest"] == hashlib.sha256(b"x" * 10).hexdigest()
    other = chunk(b"x" * 11)
    assert other.signing_input() != env.signing_input()
    # every other type signs exactly what it signed before: no sealed_bytes member
    assert b"sealed_bytes" not in note().signing_input()


def note() -> wire.Envelope:
    return wire.build(message_id=CARRIER, type="note", sender="ITA", recipients=["MEX"],
                      created=datetime.now(UTC), ttl=timedelta(days=1), body={"text": "hello"}).with_signature(SIG)


@pytest.mark.parametrize("cut", [
    lambda raw: raw[:-1],                        # truncated
    lambda raw: raw + b"\0",                      # trailing garbage
    lambda raw: raw[:frame.PREFIX + 3],           # the envelope itself cut short
    lambda raw: frame.MAGIC + b"\0\0",            # no room for the length
    lambda raw: frame.MAGIC + b"\xff\xff\xff\xff" + raw[frame.PREFIX:],  # a length past the end
])
def test_a_frame_cut_short_or_with_bytes_appended_is_refused_as_bad_frame(cut) -> None:
    raw = wire.encode(chunk(os.urandom(500)))
    assert refusal(cut(raw)).reason == "bad_frame"


def test_sealed_bytes_changed_in_place_are_refused_as_a_digest_mismatch() -> None:
    raw = bytearray(wire.encode(chunk(os.urandom(500))))
    raw[-1] ^= 1
    assert refusal(bytes(raw)).reason == "digest_mismatch"


def test_a_frame_whose_envelope_also_carries_a_payload_or_no_length_is_refused() -> None:
    env = chunk(b"abc")
    members = env.to_json()
    for odd in ({**members, "sealed": "abc"}, {**members, "body": "{}"},
                {k: v for k, v in members.items() if k != "sealed_bytes"}, {**members, "sealed_bytes": True},
                {**members, "sealed_bytes": "3"}):
        assert refusal(framed_with(odd, b"abc")).reason == "bad_frame"


def test_sealed_bytes_outside_a_frame_are_refused() -> None:
    members = {**note().to_json(), "sealed_bytes": 5}  # a type that does not travel framed
    assert refusal(json.dumps(members).encode()).reason == "bad_frame"


def test_a_chunk_in_base64url_text_and_a_frame_of_a_type_that_does_not_opt_in_are_refused() -> None:
    members = chunk(b"abc").to_json()
    del members["sealed_bytes"]
    members["sealed"] = "abc.def"
    members["body_digest"] = hashlib.sha256(b"abc.def").hexdigest()
    assert (refusal(json.dumps(members).encode()).reason, refusal(json.dumps(members).encode()).detail) == \
        ("bad_payload", "file.chunk travels as a binary frame")
    with pytest.raises(DecodeError) as exc:  # nor can a node build one
        chunk("abc.def")
    assert exc.value.reason == "bad_payload"
    request = {**members, "type": "mla.request", "header": {}, "sealed_bytes": 3}
    del request["sealed"]
    assert refusal(framed_with(request, b"abc")).reason == "bad_payload"
    with pytest.raises(DecodeError) as exc:
        wire.build(message_id=CARRIER, type="mla.request", sender="ITA", recipients=["MEX"],
                   created=datetime.now(UTC), ttl=timedelta(days=1), sealed=b"abc", header={})
    assert exc.value.reason == "bad_payload"


def test_json_never_starts_with_the_frames_magic() -> None:
    clear = note()
    raw = wire.encode(clear)
    assert not frame.is_frame(raw) and wire.decode(raw) == clear and clear.sealed_bytes is None


def test_sealed_bytes_open_as_the_text_form_does_and_refuse_tampering() -> None:
    keys = {c: X25519PrivateKey.generate() for c in ("ITA", "MEX")}
    public = {c: k.public_key() for c, k in keys.items()}
    context = wire.seal_context("file.chunk", CARRIER, "ITA")
    plaintext = os.urandom(5000)
    sealed = seal_bytes(plaintext, public, context)
    assert open_sealed(sealed, "MEX", keys["MEX"], context) == plaintext
    assert open_sealed(sealed, "ITA", keys["ITA"], context) == plaintext
    assert sealed_recipients(sealed) == ("ITA", "MEX") and sealed_suite(sealed) == "x25519-hkdf-sha256-aes256gcm"
    header, ciphertext = sealed.split(b"\n", 1)
    as_text = (base64.urlsafe_b64encode(header).rstrip(b"=") + b"." + base64.urlsafe_b64encode(ciphertext).rstrip(b"="))
    assert open_sealed(as_text.decode(), "MEX", keys["MEX"], context) == plaintext  # one seal, two spellings
    text = seal(plaintext, public, context)
    assert len(sealed) < len(text) * 0.76
    for bad in (sealed[:-1], sealed + b"\0", sealed.replace(b"\n", b" ", 1), b"{}" + sealed[sealed.index(b"\n"):]):
        with pytest.raises(SealError) as exc:
            open_sealed(bad, "MEX", keys["MEX"], context)
        assert exc.value.reason == "bad_seal"
    with pytest.raises(SealError) as exc:
        open_sealed(sealed, "MEX", keys["MEX"], wire.seal_context("file.chunk", CARRIER, "MEX"))
    assert exc.value.reason == "bad_seal"


def test_split_reads_only_a_frame_and_its_length_prefix_exactly() -> None:
    assert [bytes(p) for p in frame.split(frame.head(b"{}"))] == [b"{}", b""]  # no sealed bytes: the decoder's to refuse
    assert [bytes(p) for p in frame.split(frame.MAGIC + bytes(4))] == [b"", b""]
    assert frame.head(b"{}") == b"\0SXF1\0\0\0\x02{}" and int.from_bytes(b"\0\0\1\0") == 256
    assert [bytes(p) for p in frame.split(frame.MAGIC + b"\0\0\1\0" + bytes(256) + b"xy")] == [bytes(256), b"xy"]
    for raw in (b"{" + bytes(20), frame.MAGIC[:-1] + bytes(20), frame.MAGIC + b"\0\0\0"):
        with pytest.raises(DecodeError) as exc:
            frame.split(raw)
        assert (exc.value.reason, exc.value.detail) == (
            "bad_frame", "a frame is MAGIC, a 4-byte length, the envelope, the sealed bytes")
    with pytest.raises(DecodeError) as exc:
        frame.split(frame.MAGIC + b"\0\0\0\x03{}")
    assert (exc.value.reason, exc.value.detail) == ("bad_frame", "the envelope's length 3 runs past the frame's 11 bytes")


def test_each_refusal_of_a_frame_says_what_is_wrong() -> None:
    members = chunk(b"abc").to_json()
    cases = [
        ({**members, "sealed": "abc"}, b"abc",
         "a frame's envelope carries no body or sealed member: its bytes are beside it"),
        ({**members, "body": "{}"}, b"abc", "a frame's envelope carries no body or sealed member: its bytes are beside it"),
        ({k: v for k, v in members.items() if k != "sealed_bytes"}, b"abc",
         "a frame's envelope must say how many sealed bytes follow it (sealed_bytes)"),
        ({**members, "sealed_bytes": "3"}, b"abc", "a frame's envelope must say how many sealed bytes follow it (sealed_bytes)"),
        ({**members, "sealed_bytes": False}, b"", "a frame's envelope must say how many sealed bytes follow it (sealed_bytes)"),
        (members, b"abcd", "the envelope signs 3 sealed bytes, the frame holds 4"),
    ]
    for odd, sealed, detail in cases:
        exc = refusal(framed_with(odd, sealed))
        assert (exc.reason, exc.detail, exc.message_id) == ("bad_frame", detail, CARRIER)
    exc = refusal(json.dumps({**note().to_json(), "sealed_bytes": 5}).encode())
    assert (exc.reason, exc.detail) == ("bad_frame", "sealed_bytes belongs to a framed envelope")
    request = {k: v for k, v in members.items() if k != "sealed"}
    exc = refusal(framed_with({**request, "type": "mla.request", "header": {}}, b"abc"))
    assert (exc.reason, exc.detail) == ("bad_payload", "mla.request does not travel as a binary frame")


def test_only_a_sealed_type_may_travel_framed() -> None:
    from protocol.message_class import MessageType
    from protocol.schema import Obj

    assert MessageType("x.framed", "node", header=Obj(), body=Obj(), sealed=True, framed=True, retention_days=1).framed
    with pytest.raises(ValueError, match="^x.clear: only a sealed type travels framed$"):
        MessageType("x.clear", "node", header=Obj(), body=Obj(), framed=True, retention_days=1)


def test_sealed_bytes_without_a_header_line_are_refused_as_such() -> None:
    key = X25519PrivateKey.generate()
    context = wire.seal_context("file.chunk", CARRIER, "ITA")
    for bad in (b"no newline at all", b""):
        with pytest.raises(SealError) as exc:
            open_sealed(bad, "MEX", key, context)
        assert (exc.value.reason, exc.value.detail) == ("bad_seal", "a sealed payload in bytes is header, newline, ciphertext")
    with pytest.raises(SealError) as exc:  # a newline first: an empty header, which is not JSON
        open_sealed(b"\n" + os.urandom(40), "MEX", key, context)
    assert exc.value.reason == "bad_seal" and exc.value.detail.startswith("the header is not JSON")
