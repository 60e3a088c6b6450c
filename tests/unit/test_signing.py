"""crypto/signing.py: every refusal of verify_envelope, with its reason and the words an operator reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto.errors import CryptoError, SignatureError
from crypto.keys import SigningKey
from crypto.signing import VerifiedEnvelope, sign_envelope, verify_envelope
from protocol import envelope as wire
from protocol.ids import uuid7

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REVOKED_AT = NOW + timedelta(days=1)


class _Trust:
    """One key of one node; the key is revoked from REVOKED_AT on (as a TrustStore judges at `now`)."""

    def __init__(self, key: SigningKey, node_id: str = "MEX") -> None:
        self.key, self.node_id = key, node_id

    def signer(self, kid: str, now: datetime):  # noqa: ANN201
        if kid != self.key.kid:
            raise SignatureError("unknown_key", kid)
        if now >= REVOKED_AT:
            raise SignatureError("revoked_key", kid)
        return self.node_id, self.key.public_key


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def make(sender: str = "MEX", text: str = "hello") -> wire.Envelope:
    return wire.build(message_id=uuid7(1_700_000_000_000, bytes(range(10))), type="note", sender=sender,
                      recipients=["IDN"], created=NOW, ttl=timedelta(hours=1), body={"text": text})


def refusal(env: wire.Envelope, trust: _Trust, now: datetime = NOW) -> CryptoError:
    with pytest.raises(SignatureError) as caught:
        verify_envelope(env, trust, now)
    return caught.value


def test_a_verified_envelope_carries_the_envelope_its_id_and_digest(key: SigningKey) -> None:
    env = sign_envelope(make(), key)
    verified = verify_envelope(env, _Trust(key), NOW)
    assert isinstance(verified, VerifiedEnvelope)
    assert verified.envelope is env
    assert verified.id == env.id
    assert verified.digest == env.digest()


def test_an_unsigned_envelope_is_refused_as_unsigned(key: SigningKey) -> None:
    err = refusal(make(), _Trust(key))
    assert (err.reason, err.detail) == ("unsigned", "the envelope carries no signature")


def test_a_key_of_another_node_is_refused_and_the_refusal_names_both(key: SigningKey) -> None:
    err = refusal(sign_envelope(make(sender="MEX"), key), _Trust(key, node_id="IDN"))
    assert (err.reason, err.detail) == ("signer_mismatch", "signed by IDN's key, but sender is MEX")


@pytest.mark.parametrize("value", ["not base64!", "AAB=", "AAF=", "QUFB\n", "ÄÄÄÄ"])
def test_a_signature_value_that_is_not_canonical_base64_is_a_bad_signature(key: SigningKey, value: str) -> None:
    signed = sign_envelope(make(), key)
    env = signed.with_signature(wire.Signature(signed.sig.alg, signed.sig.kid, value))
    err = refusal(env, _Trust(key))
    assert err.reason == "bad_signature"
    assert err.detail.startswith("signature value is not"), err.detail
    assert err.__cause__ is None and err.__suppress_context__


def test_the_key_is_judged_at_the_time_of_verification(key: SigningKey) -> None:
    env = sign_envelope(make(), key)
    verify_envelope(env, _Trust(key), REVOKED_AT - timedelta(microseconds=1))
    assert refusal(env, _Trust(key), REVOKED_AT).reason == "revoked_key"


def test_a_signature_by_the_right_key_over_other_bytes_is_refused(key: SigningKey) -> None:
    other = sign_envelope(make(text="meet at pier 4"), key)
    forged = make().with_signature(other.sig)
    assert refusal(forged, _Trust(key)).reason == "bad_signature"
