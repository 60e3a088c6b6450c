"""protocol/files.py: file references, chunk checks, and the bounds a full chunk fits in."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.sealing import seal_bytes
from protocol import envelope as wire
from protocol import files, frame, messages, mla
from protocol.errors import DecodeError, PolicyError
from protocol.schema import validate

CARRIER = "01a23658-19ef-7856-bae0-85a65ca51451"


def ref_of(data: bytes, chunk_bytes: int = files.CHUNK_BYTES) -> dict:
    pieces = [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)]
    return {"name": "scan.pdf", "media_type": "application/pdf", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "chunk_bytes": chunk_bytes,
            "chunks": [hashlib.sha256(p).hexdigest() for p in pieces]}


def test_a_2_gib_file_is_512_chunks_and_one_byte_more_is_refused() -> None:
    assert files.MAX_CHUNKS == 512 and files.chunk_count(files.MAX_FILE_BYTES) == 512
    ref = {**ref_of(b"x"), "size": files.MAX_FILE_BYTES, "chunks": ["a" * 64] * 512}
    validate(files.FILE_REF, ref, "bad_body")
    files.check_file_ref(ref)
    with pytest.raises(DecodeError, match="size"):
        validate(files.FILE_REF, {**ref, "size": files.MAX_FILE_BYTES + 1}, "bad_body")
    with pytest.raises(DecodeError, match="chunks"):
        validate(files.FILE_REF, {**ref, "chunks": ["a" * 64] * 513}, "bad_body")
    with pytest.raises(DecodeError, match="chunk_bytes"):
        validate(files.FILE_REF, {**ref, "chunk_bytes": files.CHUNK_BYTES + 1}, "bad_body")


def test_a_reference_whose_chunk_list_does_not_cover_its_size_is_refused() -> None:
    ref = ref_of(os.urandom(10), chunk_bytes=4)  # 4 + 4 + 2
    files.check_file_ref(ref)
    assert [files.chunk_length(ref, i) for i in range(3)] == [4, 4, 2]
    with pytest.raises(PolicyError) as exc:
        files.check_file_ref({**ref, "chunks": ref["chunks"][:2]})
    assert exc.value.reason == "file_ref_mismatch"


def test_each_chunk_is_checked_against_the_length_and_digest_its_carrier_lists() -> None:
    data = os.urandom(10)
    ref = ref_of(data, chunk_bytes=4)
    files.verify_chunk(ref, 2, data[8:])
    for index, chunk, reason in ((0, data[4:8], "chunk_digest_mismatch"), (2, data[8:] + b"\0", "chunk_digest_mismatch"),
                                 (3, data[8:], "chunk_out_of_range"), (-1, data[8:], "chunk_out_of_range")):
        with pytest.raises(PolicyError) as exc:
            files.verify_chunk(ref, index, chunk)
        assert exc.value.reason == reason


def chunk_env(header: dict, **fields: object) -> SimpleNamespace:
    base = {"id": CARRIER, "type": "file.chunk", "sender": "ITA", "recipients": ("MEX",),
            "thread": "mla:ITA:R-1", "handling": {"code": "H0"}, "header": header}
    return SimpleNamespace(**{**base, **fields})


def test_the_chunk_rules_refuse_a_length_that_lies_a_broadcast_an_index_out_of_range_and_oversized_data() -> None:
    header = {"file": CARRIER, "n": 0, "chunk": 1, "chunks": 2, "bytes": 3}
    body = {"data": b"abc"}
    files.chunk_envelope_rule(chunk_env(header))
    files.chunk_rule(chunk_env(header), body)
    cases = [
        (lambda: files.chunk_rule(chunk_env({**header, "bytes": 4}), body), "header_mismatch"),
        (lambda: files.chunk_rule(chunk_env({**header, "bytes": 2}), body), "header_mismatch"),
        (lambda: files.chunk_envelope_rule(chunk_env(header, recipients=("*",))), "bad_recipients"),
        (lambda: files.chunk_envelope_rule(chunk_env(header, thread=None)), "header_mismatch"),
        (lambda: files.chunk_envelope_rule(chunk_env({**header, "chunk": 2})), "chunk_out_of_range"),
        (lambda: files.chunk_rule(chunk_env(header), {"data": b""}), "chunk_too_large"),
        (lambda: files.chunk_rule(chunk_env(header), {"data": "abc"}), "chunk_mismatch"),
        (lambda: files.chunk_rule(chunk_env({**header, "bytes": files.CHUNK_BYTES + 1}),
                                  {"data": bytes(files.CHUNK_BYTES + 1)}), "chunk_too_large"),
    ]
    for check, reason in cases:
        with pytest.raises(PolicyError) as exc:
            check()
        assert exc.value.reason == reason


def test_a_chunk_opens_as_its_bytes_and_the_schema_bounds_them() -> None:
    env = SimpleNamespace(type="file.chunk", body=None)
    assert wire.decode_body(env, b"\x00{not json") == {"data": b"\x00{not json"}
    for plaintext in (b"", bytes(files.CHUNK_BYTES + 1), "text"):
        with pytest.raises(DecodeError) as exc:
            wire.decode_body(env, plaintext)
        assert exc.value.reason == "bad_body"


def test_a_chunk_header_of_the_former_format_without_its_length_is_refused() -> None:
    """The format of 2 December (JSON around base64 inside the seal) had no `bytes` in the header."""
    with pytest.raises(DecodeError) as exc:
        validate(files.CHUNK_HEADER, {"file": CARRIER, "n": 0, "chunk": 0, "chunks": 1}, "bad_header")
    assert (exc.value.reason, exc.value.detail) == ("bad_header", "$.bytes: missing")


def chunk_envelope(sealed: bytes) -> wire.Envelope:
    env = wire.build(message_id=CARRIER, type="file.chunk", sender="ITA", recipients=["MEX"],
                     created=datetime.now(UTC), ttl=timedelta(days=7), sealed=sealed, thread="mla:ITA:R-1",
                     reply_to=CARRIER, header={"file": CARRIER, "n": 19, "chunk": 511, "chunks": 512,
                                                        "bytes": files.CHUNK_BYTES})
    return env.with_signature(wire.Signature("ed25519", "0" * 64, base64.b64encode(bytes(64)).decode()))


def test_a_full_4_mib_chunk_sealed_to_two_nodes_fits_the_types_bound_and_a_larger_message_is_refused() -> None:
    """What the hub's per-type bound (the chunk plus 64 KiB) and the broker's max_message_size must accept."""
    assert messages.lookup("file.chunk").max_bytes == files.MAX_CHUNK_MESSAGE_BYTES
    body = {"data": os.urandom(files.CHUNK_BYTES)}
    validate(files.CHUNK, body, "bad_body")
    keys = {c: X25519PrivateKey.generate().public_key() for c in ("ITA", "MEX")}
    sealed = seal_bytes(body["data"], keys, wire.seal_context("file.chunk", CARRIER, "ITA"))
    raw = wire.encode(chunk_envelope(sealed))
    assert wire.decode(raw).id == CARRIER
    assert files.CHUNK_BYTES < len(raw) < files.MAX_CHUNK_MESSAGE_BYTES - 60 * 1024  # raw bytes, no base64
    assert len(raw) < 16 * 1024 * 1024  # RabbitMQ 4's default max_message_size (3.x: 128 MiB)
    with pytest.raises(DecodeError) as exc:
        wire.decode(wire.encode(chunk_envelope(b"A" * files.MAX_CHUNK_MESSAGE_BYTES)))
    assert exc.value.reason == "oversize"


def test_a_sealed_chunk_encoded_in_pieces_is_byte_for_byte_its_envelope_encoded_whole() -> None:
    """The sender writes a chunk's frame in two pieces, the sealed bytes as they are: the bytes the
    hub may log under its id are `encode`'s, on every (re-)send."""
    keys = {c: X25519PrivateKey.generate().public_key() for c in ("ITA", "MEX")}
    sealed = seal_bytes(os.urandom(1000), keys, wire.seal_context("file.chunk", CARRIER, "ITA"))
    env = chunk_envelope(sealed)
    head, middle = wire.encoded_pieces(env)
    assert head + middle == wire.encode(env)
    assert middle is sealed and head.startswith(frame.MAGIC)
    assert wire.decode(head + middle).sealed == sealed


def test_an_unsigned_or_unframed_envelope_is_not_encoded_in_pieces() -> None:
    env = chunk_envelope(b"abc\ndef")
    fields = ("id", "type", "sender", "recipients", "created", "expires", "handling", "header", "body_digest",
              "thread", "reply_to")
    for odd in (wire.Envelope(**{f: getattr(env, f) for f in fields}, sealed=env.sealed),
                wire.Envelope(**{f: getattr(env, f) for f in fields}, sig=env.sig, sealed="abc.def"),
                wire.Envelope(**{f: getattr(env, f) for f in fields}, sig=env.sig, body="{}")):
        with pytest.raises(ValueError, match="^only a signed envelope with framed sealed bytes"):
            wire.encoded_pieces(odd)


def test_mla_requests_and_answers_carry_file_references_checked_by_their_rules() -> None:
    ref = ref_of(os.urandom(10), chunk_bytes=4)
    validate(mla.REQUEST, {"reference": "R-1", "requesting": "ITA", "requested": "MEX",
                           "kind": "mutual_legal_assistance", "legal_basis": ["untoc_article_18"],
                           "offences": ["art6_1_a_smuggling"], "measures": ["evidence_taking"], "urgency": "routine",
                           "summary": "s", "files": [ref]}, "bad_body")
    validate(mla.EVENT, {"reference": "R-1", "requesting": "ITA", "requested": "MEX", "event": "execute",
                         "files": [ref]}, "bad_body")
    event = chunk_env({"reference": "R-1", "kind": "mutual_legal_assistance", "event": "execute",
                       "status": "executed"}, type="mla.response", sender="MEX", recipients=("ITA",))
    body = {"reference": "R-1", "requesting": "ITA", "requested": "MEX", "event": "execute"}
    mla.event_rule(event, {**body, "files": [ref]})
    with pytest.raises(PolicyError) as exc:
        mla.event_rule(event, {**body, "files": [{**ref, "size": 20}]})
    assert exc.value.reason == "file_ref_mismatch"
