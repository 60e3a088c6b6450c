"""Envelope: canonical form, strict decoding with reason codes, signatures over the right bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.errors import CryptoError
from crypto.signing import sign_envelope, verify_envelope
from protocol import envelope as wire
from protocol.errors import DecodeError
from protocol.ids import is_uuid7, uuid7

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
VECTORS = json.loads((Path(__file__).parents[1] / "data" / "jcs" / "vectors.json").read_text())["vectors"]


def make(**overrides) -> wire.Envelope:  # noqa: ANN003
    fields = dict(message_id=uuid7(1_700_000_000_000, bytes(range(10))), type="note", sender="MEX",
                  recipients=["IDN"], created=NOW, ttl=timedelta(hours=1), body={"text": "hello"})
    fields.update(overrides)
    return wire.build(**fields)


def fake_signed(env: wire.Envelope) -> wire.Envelope:
    return env.with_signature(wire.Signature("ed25519", "ab" * 32, "AAAA"))


def raw_of(env: wire.Envelope, **member_overrides) -> bytes:  # noqa: ANN003
    obj = fake_signed(env).to_json()
    obj.update(member_overrides)
    return json.dumps(obj).encode()


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_signing_input_uses_rfc8785_canonical_form(vector: dict) -> None:
    assert rfc8785.dumps(json.loads(vector["input"])) == vector["output"].encode("utf-8")


def test_signing_input_is_domain_separated_jcs_of_members_without_sig_and_payload() -> None:
    env = make(thread="case-7")
    members = json.loads(env.signing_input()[len(wire.SIGNING_DOMAIN):])
    assert env.signing_input().startswith(b"somex/envelope/v1\n")
    assert "sig" not in members and "body" not in members
    assert members["body_digest"] == wire.payload_digest(env.body or "")
    assert members["thread"] == "case-7"


def test_encode_then_decode_gives_the_same_envelope() -> None:
    env = fake_signed(make(thread="t-1", handling={"code": "H2", "retention_days": 30}))
    assert wire.decode(wire.encode(env)) == env


def test_uuid7_layout() -> None:
    ident = uuid7(0x0123456789AB, b"\xff" * 10)
    assert ident.startswith("01234567-89ab-7")
    assert is_uuid7(ident)
    assert not is_uuid7(ident.upper())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "bad_utf8"),
        (b"{not json", "malformed_json"),
        (b"[1,2]", "malformed_envelope"),
        (b'{"v":1,"v":1}', "duplicate_key"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b'{"v": NaN}', "malformed_json"),
        (b"x" * (32 * 1024 * 1024 + 1), "oversize"),
    ],
)
def test_garbage_is_refused_with_its_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        wire.decode(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"extra": 1}, "unknown_field"),
        ({"v": 2}, "unsupported_version"),
        ({"type": "no.such.type"}, "unknown_type"),
        ({"id": "not-a-uuid"}, "bad_field"),
        ({"recipients": "IDN"}, "bad_field"),
        ({"sender": "mex"}, "bad_field"),
        ({"created": "2026-11-22 12:00:00"}, "bad_field"),
        ({"body_digest": "00" * 32}, "digest_mismatch"),
        ({"handling": {"code": "H9"}}, "bad_handling"),
        ({"header": {"anything": 1}}, "bad_header"),
        ({"recipients": ["IDN", "IDN"]}, "bad_recipients"),
        ({"recipients": ["*", "IDN"]}, "bad_recipients"),
        ({"sig": {"alg": "ed25519"}}, "bad_signature_field"),
    ],
)
def test_malformed_members_are_refused_with_their_reason(change: dict, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        wire.decode(raw_of(make(), **change))
    assert caught.value.reason == reason
    assert caught.value.sender == (change.get("sender") or "MEX")


def test_missing_member_is_refused() -> None:
    obj = fake_signed(make()).to_json()
    del obj["expires"]
    with pytest.raises(DecodeError) as caught:
        wire.decode(json.dumps(obj).encode())
    assert caught.value.reason == "missing_field"


def test_body_and_sealed_together_are_refused() -> None:
    with pytest.raises(DecodeError) as caught:
        wire.decode(raw_of(make(), sealed="abc"))
    assert caught.value.reason == "bad_payload"


def test_oversize_for_its_type_is_refused_even_below_the_global_bound() -> None:
    env = make(body={"text": "x" * 19_000})
    padded = raw_of(env)[:-1] + b" " * (1024 * 1024) + b"}"
    with pytest.raises(DecodeError) as caught:
        wire.decode(padded)
    assert caught.value.reason == "oversize"


def test_body_schema_is_enforced() -> None:
    with pytest.raises(DecodeError) as caught:
        make(body={"text": "hi", "secret": 1})
    assert caught.value.reason == "bad_body"


def test_expires_must_follow_created() -> None:
    with pytest.raises(DecodeError):
        make(ttl=timedelta(0))


# -- signatures (crypto.signing over protocol.envelope) -----------------------------------------


class _OneKeyTrust:
    def __init__(self, key, node_id: str = "MEX") -> None:  # noqa: ANN001
        self.key, self.node_id = key, node_id

    def signer(self, kid: str, now: datetime):  # noqa: ANN201
        if kid != self.key.kid:
            raise CryptoError("unknown_key", kid)
        return self.node_id, self.key.public_key


@pytest.fixture(scope="module")
def key():  # noqa: ANN201
    from crypto.keys import SigningKey

    return SigningKey.generate()


def test_signed_envelope_verifies_after_a_round_trip(key) -> None:  # noqa: ANN001
    env = sign_envelope(make(), key)
    verified = verify_envelope(wire.decode(wire.encode(env)), _OneKeyTrust(key), NOW)
    assert verified.digest == env.digest()


def test_signature_by_another_countrys_key_is_refused(key) -> None:  # noqa: ANN001
    env = sign_envelope(make(), key)
    with pytest.raises(CryptoError) as caught:
        verify_envelope(env, _OneKeyTrust(key, node_id="IDN"), NOW)
    assert caught.value.reason == "signer_mismatch"


texts = st.text(min_size=0, max_size=200)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, thread=st.none() | st.from_regex(r"[A-Za-z0-9._:/-]{1,40}", fullmatch=True),
       recipients=st.lists(st.sampled_from(["IDN", "ITA", "BRA", "NGA"]), min_size=1, max_size=4, unique=True),
       code=st.sampled_from(["H0", "H1", "H2", "H3"]))
def test_decode_of_encode_is_identity(key, text, thread, recipients, code) -> None:  # noqa: ANN001
    env = sign_envelope(make(body={"text": text}, thread=thread, recipients=recipients,
                             handling={"code": code}), key)
    assert wire.decode(wire.encode(env)) == env


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutation_of_a_signed_envelope_fails(key, data) -> None:  # noqa: ANN001
    env = sign_envelope(make(thread="case-1", body={"text": "meet at pier 4"}), key)
    raw = bytearray(wire.encode(env))
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    raw[position] = replacement
    try:
        mutated = wire.decode(bytes(raw))
        verify_envelope(mutated, _OneKeyTrust(key), NOW)
    except (DecodeError, CryptoError):
        return
    # Only a change that leaves the signed meaning intact may pass (e.g. an equivalent escape).
    assert mutated.signing_input() == env.signing_input() and mutated.payload == env.payload


# -- lone surrogates and numbers JCS cannot write (issue 14, item 3) ------------------------------

def _escaped(obj: dict, path: tuple[str, ...], escaped_json: str) -> bytes:
    """`obj` as JSON with the value (or, for path ending in "*key", a key) at `path` set to escaped text."""
    target = obj
    for name in path[:-1]:
        target = target[name]
    if path[-1] == "*key":
        target["__K__"] = 1
        return json.dumps(obj).replace('"__K__"', escaped_json).encode()
    target[path[-1]] = "__V__"
    return json.dumps(obj).replace('"__V__"', escaped_json).encode()


@pytest.mark.parametrize("path", [("body",), ("thread",), ("handling", "condition"), ("header", "*key"),
                                  ("*key",), ("sig", "value"), ("handling", "*key")])
def test_a_lone_surrogate_anywhere_is_refused_as_bad_unicode(path: tuple[str, ...]) -> None:
    env = make(handling={"code": "H3", "condition": "ok"}, thread="case-1")
    raw = _escaped(fake_signed(env).to_json(), path, '"\\udc00"')
    with pytest.raises(DecodeError) as caught:
        wire.decode(raw)
    assert caught.value.reason == "bad_unicode"
    if path != ("*key",):  # the naming members stay readable, so the refusal is audited against the message
        assert caught.value.message_id == env.id and caught.value.sender == "MEX"


def test_a_lone_surrogate_in_a_body_text_is_refused_by_the_body_decoder() -> None:
    body = '{"text":"\\ud800"}'
    env = make()
    env = wire.Envelope(**{**{f: getattr(env, f) for f in ("id", "type", "sender", "recipients", "created",
                                                           "expires", "handling", "header")},
                           "body": body, "body_digest": wire.payload_digest(body)})
    with pytest.raises(DecodeError) as caught:
        wire.decode_body(env)
    assert caught.value.reason == "bad_unicode"
    with pytest.raises(DecodeError):
        wire.parse_json("\ud800", what="body")  # a str holding a raw surrogate, as a body member is


def test_a_surrogate_pair_is_a_character_not_a_lone_surrogate() -> None:
    assert wire.parse_json(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert wire.parse_json(b'["\\\\ud800"]') == ["\\ud800"]  # an escaped backslash: plain text


def test_a_number_that_overflows_to_infinity_is_refused() -> None:
    with pytest.raises(DecodeError) as caught:
        wire.parse_json(b'{"a": 1e999}')
    assert caught.value.reason == "bad_number"


@pytest.mark.parametrize("value", [{"a": 2**60}, {"a": float("inf")}, {"a": "\ud800"}, {"\udfff": 1}, {"a": object()}])
def test_canonical_form_raises_only_its_typed_error(value: dict) -> None:
    from protocol.canonical import canonical_json

    with pytest.raises(DecodeError) as caught:
        canonical_json(value)
    assert caught.value.reason == "not_canonical"


def test_read_names_reads_what_it_can_and_never_raises() -> None:
    env = fake_signed(make(thread="case-9"))
    assert wire.read_names(wire.encode(env)) == {"id": env.id, "type": "note", "sender": "MEX", "thread": "case-9"}
    for raw in (b"\xff\xfe", b"[1]", b'{"id": "not-a-uuid", "sender": "\\ud800", "type": 5}', b"[" * 10_000):
        assert wire.read_names(raw)["id"] is None and wire.read_names(raw)["sender"] is None
