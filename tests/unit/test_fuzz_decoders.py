"""Fuzzing the decoders of everything that arrives from the wire: envelopes, payloads, log receipts,
sealed payloads and checkpoints.

Whatever the bytes, a decoder returns a value or raises DecodeError with a documented reason
code: never another exception. Bounded (max_examples, no deadline) so the file runs in seconds in
CI; tests/fuzz/fuzz_envelope.py runs the same property for hours under atheris.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.keys import SigningKey
from crypto.note import NoteVerifier, sign_note
from crypto.sealing import SealError, open_sealed, seal
from crypto.signing import sign_envelope
from crypto.witness import WitnessError, Witnessed, check_checkpoint
from protocol import envelope as wire
from protocol import messages
from protocol.checkpoint import Checkpoint, SignedNote, format_note
from protocol.errors import DecodeError
from protocol.ids import uuid7
from protocol.receipts import parse_log_receipt

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every code in the first column of docs/reason-codes.md.
REASONS = {code for line in (Path(__file__).parents[2] / "docs" / "reason-codes.md").read_text().splitlines()
           if line.startswith("| `") for code in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])}

KEY = SigningKey.generate()
VALID = sign_envelope(wire.build(message_id=uuid7(1_700_000_000_000, bytes(range(10))), type="note", sender="MEX",
                                 recipients=["IDN"], created=NOW, ttl=timedelta(hours=1), thread="case-1",
                                 body={"text": "meet at pier 4"}), KEY)
VALID_RAW = wire.encode(VALID)
VALID_OBJ = json.loads(VALID_RAW)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


def decodes_or_refuses(decoder, raw):  # noqa: ANN001, ANN201
    """Run a decoder; only a DecodeError with a documented reason may escape."""
    try:
        return decoder(raw)
    except DecodeError as exc:
        assert exc.reason in REASONS, f"undocumented reason code {exc.reason!r}"
        return None


def _decode_and_body(raw: bytes) -> object:
    env = wire.decode(raw)
    return wire.decode_body(env) if env.body is not None else env


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_decode_or_are_refused_with_a_reason(raw: bytes) -> None:
    decodes_or_refuses(_decode_and_body, raw)


@FUZZ
@given(json_values)
def test_arbitrary_json_values_decode_or_are_refused_with_a_reason(value: object) -> None:
    decodes_or_refuses(_decode_and_body, json.dumps(value).encode())


@FUZZ
@given(st.data())
def test_a_valid_envelope_with_any_member_replaced_decodes_or_is_refused(data: st.DataObject) -> None:
    obj = dict(VALID_OBJ)
    for name in data.draw(st.lists(st.sampled_from(sorted(obj) + ["extra"]), min_size=1, max_size=3)):
        obj[name] = data.draw(json_values | st.sampled_from(list(messages.REGISTRY)), label=name)
    decodes_or_refuses(_decode_and_body, json.dumps(obj).encode())


@FUZZ
@given(st.data())
def test_a_valid_envelope_with_bytes_flipped_inserted_or_cut_decodes_or_is_refused(data: st.DataObject) -> None:
    raw = bytearray(VALID_RAW)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"[" * 100, b"\xc3", b"\\u"]))
        elif action == "delete":
            del raw[at:at + data.draw(st.integers(1, 8))]
        else:
            del raw[at:]
    decodes_or_refuses(_decode_and_body, bytes(raw))


@FUZZ
@given(mtype=st.sampled_from(sorted(messages.REGISTRY)), body=json_values | st.text(max_size=200))
def test_any_payload_of_any_type_decodes_or_is_refused(mtype: str, body: object) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    env = replace(VALID, type=mtype, body=text, body_digest=wire.payload_digest(text))
    decodes_or_refuses(lambda t: wire.decode_body(env, t), text)
    decodes_or_refuses(lambda t: wire.decode_body(env, t), text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=500) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_log_receipt_header_parses_or_is_refused(raw: bytes) -> None:
    decodes_or_refuses(parse_log_receipt, raw)


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000, b"\xed\xa0\x80", b'"\\ud800"'],
                         ids=["deep-array", "deep-object", "surrogate-utf8", "lone-surrogate-escape"])
def test_known_hostile_inputs_are_refused_by_every_decoder(raw: bytes) -> None:
    decodes_or_refuses(_decode_and_body, raw)
    decodes_or_refuses(parse_log_receipt, raw)
    decodes_or_refuses(lambda t: wire.decode_body(VALID, t), raw)


# -- what a node opens after the hub relayed it: sealed payloads and checkpoints -------------------

SEALING_KEY = X25519PrivateKey.generate()
CONTEXT = wire.seal_context("mla.request", VALID.id, "MEX")
SEALED = seal(b'{"request": "records"}', {"IDN": SEALING_KEY.public_key()}, CONTEXT)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@FUZZ
@given(st.text(max_size=300) | st.builds(lambda h, c: f"{_b64url(h)}.{_b64url(c)}",
                                          json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200),
                                          st.binary(max_size=64)))
def test_any_sealed_payload_opens_or_is_refused_with_a_seal_error(sealed: str) -> None:
    try:
        open_sealed(sealed, "IDN", SEALING_KEY, CONTEXT)
    except SealError as exc:
        assert exc.reason in REASONS


@FUZZ
@given(st.data())
def test_a_sealed_payload_with_characters_changed_is_refused_with_a_seal_error(data: st.DataObject) -> None:
    chars = list(SEALED)
    for _ in range(data.draw(st.integers(1, 3))):
        chars[data.draw(st.integers(0, len(chars) - 1))] = data.draw(st.characters(max_codepoint=127))
    try:
        assert open_sealed("".join(chars), "IDN", SEALING_KEY, CONTEXT) == b'{"request": "records"}'
    except SealError as exc:
        assert exc.reason in REASONS


def test_a_deeply_nested_seal_header_is_refused_with_a_seal_error() -> None:
    with pytest.raises(SealError):
        open_sealed(f"{_b64url(b'[' * 100_000)}.{_b64url(b'x')}", "IDN", SEALING_KEY, CONTEXT)


LOG_KEY = SigningKey.generate()
ORIGIN = "somex/fuzz/audit"


def _checkpoint_note(size: int, root: bytes) -> bytes:
    body = Checkpoint(ORIGIN, size, root).body()
    return format_note(SignedNote(body, (sign_note(body, ORIGIN, LOG_KEY),)))


@FUZZ
@given(note=st.binary(max_size=400) | st.builds(_checkpoint_note, st.integers(0, 2**40), st.binary(min_size=32, max_size=32)),
       last=st.none() | st.builds(Witnessed, st.integers(0, 2**40), st.binary(min_size=32, max_size=32)),
       proofs=st.dictionaries(st.integers(0, 2**40), st.lists(st.text(max_size=44), max_size=4), max_size=3))
def test_any_checkpoint_is_accepted_or_refused_with_a_witness_error(note: bytes, last, proofs) -> None:  # noqa: ANN001
    try:
        check_checkpoint(note, origin=ORIGIN, log_key=NoteVerifier(ORIGIN, LOG_KEY.public_key), last=last,
                         proofs=proofs)
    except WitnessError:
        pass
