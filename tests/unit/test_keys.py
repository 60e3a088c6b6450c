"""Keys: Ed25519 signing keys named by kid, X25519 sealing keys, signature verification that raises."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import CryptoError, SignatureError
from crypto.keys import ED25519, SealingKey, SigningKey, kid_of, verify_signature

KEY = SigningKey.generate()


def _secret_fragments(pem: bytes, raw_private: bytes) -> list[str]:
    body = b"".join(pem.splitlines()[1:-1]).decode()
    return [body, body[-24:], raw_private.hex(), base64.b64encode(raw_private).decode(), "PRIVATE"]


def test_signature_round_trip() -> None:
    verify_signature(ED25519, KEY.public_key, KEY.sign(b"data"), b"data")


def test_signature_by_another_key_fails() -> None:
    other = SigningKey.generate()
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, other.public_key, KEY.sign(b"data"), b"data")
    assert caught.value.reason == "bad_signature"


def test_signature_over_other_data_fails() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, KEY.public_key, KEY.sign(b"data"), b"date")
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("alg", ["rsa", "ED25519", "ml-dsa-65", "", None])
def test_unknown_algorithm_is_unsupported(alg: object) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(alg, KEY.public_key, KEY.sign(b"data"), b"data")  # type: ignore[arg-type]
    assert caught.value.reason == "unsupported_alg"


def test_algorithm_that_does_not_match_the_key_type_is_refused() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, SealingKey.generate().public_key, b"\0" * 64, b"data")  # type: ignore[arg-type]
    assert caught.value.reason == "alg_mismatch"


@pytest.mark.parametrize("signature", [b"", b"\0" * 64, b"\1" * 63, b"\1" * 65])
def test_malformed_signature_is_a_bad_signature(signature: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, KEY.public_key, signature, b"data")
    assert caught.value.reason == "bad_signature"


@settings(max_examples=50)
@given(data=st.binary(max_size=512), position=st.integers(0, 63), bit=st.integers(0, 7))
def test_any_flipped_signature_bit_is_refused(data: bytes, position: int, bit: int) -> None:
    signature = bytearray(KEY.sign(data))
    verify_signature(ED25519, KEY.public_key, bytes(signature), data)
    signature[position] ^= 1 << bit
    with pytest.raises(CryptoError):
        verify_signature(ED25519, KEY.public_key, bytes(signature), data)


def test_kid_is_lowercase_hex_sha256_of_the_raw_public_key() -> None:
    raw = KEY.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert len(raw) == 32
    assert KEY.kid == kid_of(KEY.public_key) == hashlib.sha256(raw).hexdigest()
    assert KEY.kid == KEY.kid.lower() and len(KEY.kid) == 64
    assert KEY.alg == "ed25519"


def test_signing_key_survives_a_pem_round_trip() -> None:
    pem = KEY.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    loaded = SigningKey.from_pem(pem)
    assert loaded.kid == KEY.kid
    verify_signature(ED25519, KEY.public_key, loaded.sign(b"x"), b"x")


def test_sealing_key_survives_a_pem_round_trip() -> None:
    sealing = SealingKey.generate()
    assert len(sealing.public_bytes()) == 32
    assert SealingKey.from_pem(sealing.to_pem()).public_bytes() == sealing.public_bytes()


def test_a_pem_of_the_other_key_type_is_refused() -> None:
    with pytest.raises(TypeError):
        SigningKey.from_pem(SealingKey.generate().to_pem())
    with pytest.raises(TypeError):
        SealingKey.from_pem(KEY.to_pem())


def test_signing_key_repr_shows_alg_and_kid_and_no_secret() -> None:
    raw = KEY.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    shown = repr(KEY) + str(KEY)
    assert "ed25519" in shown and KEY.kid in shown
    for fragment in _secret_fragments(KEY.to_pem(), raw):
        assert fragment not in shown


def test_sealing_key_repr_shows_no_secret() -> None:
    sealing = SealingKey.generate()
    raw = sealing.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
    shown = repr(sealing) + str(sealing)
    for fragment in _secret_fragments(sealing.to_pem(), raw):
        assert fragment not in shown


# -- the words of each refusal, and the hybrid post-quantum sealing key (issue 24) ------------------

import re  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402

from crypto.keys import HybridSealingKey, hybrid_public_key, raw_public  # noqa: E402


def _exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_an_unaccepted_algorithm_is_named_cut_to_32_characters() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature("x" * 40, KEY.public_key, KEY.sign(b"data"), b"data")  # type: ignore[arg-type]
    assert (caught.value.reason, caught.value.detail) == ("unsupported_alg", f"algorithm {'x' * 32!r} is not accepted")
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, SealingKey.generate().public_key, b"\0" * 64, b"data")  # type: ignore[arg-type]
    assert (caught.value.reason, caught.value.detail) == (
        "alg_mismatch", "an ed25519 signature cannot come from a X25519PublicKey")
    with pytest.raises(SignatureError) as caught:
        verify_signature(ED25519, KEY.public_key, b"\0" * 64, b"data")
    assert caught.value.detail == "the signature does not verify"


def test_a_key_of_the_wrong_type_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=_exactly("SigningKey wraps an Ed25519 private key")):
        SigningKey(X25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=_exactly("SealingKey wraps an X25519 private key")):
        SealingKey(Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=_exactly("not an Ed25519 private key but X25519PrivateKey")):
        SigningKey.from_pem(SealingKey.generate().to_pem())
    with pytest.raises(TypeError, match=_exactly("not an X25519 private key but Ed25519PrivateKey")):
        SealingKey.from_pem(KEY.to_pem())


def test_key_texts_name_the_public_half_only() -> None:
    assert repr(KEY) == f"SigningKey(alg='ed25519', kid={KEY.kid!r})"
    assert raw_public(KEY.public_key) == KEY.public_key.public_bytes_raw()
    sealing = SealingKey.generate()
    assert repr(sealing) == f"SealingKey(public={sealing.public_bytes().hex()!r})"
    assert sealing.public_bytes() == sealing.private_key.public_key().public_bytes_raw()
    assert SealingKey.from_pem(sealing.to_pem()).private_key.private_bytes_raw() == \
        sealing.private_key.private_bytes_raw()
    assert SigningKey.from_pem(KEY.to_pem()).private_key.private_bytes_raw() == KEY.private_key.private_bytes_raw()


def test_a_hybrid_sealing_key_is_96_private_and_1216_public_bytes_and_round_trips() -> None:
    key = HybridSealingKey.generate()
    raw = key.to_bytes()
    assert len(raw) == 96 and HybridSealingKey.PUBLIC_SIZE == 1216
    public = key.public_bytes()
    assert len(public) == 1216
    assert HybridSealingKey.from_bytes(raw).public_bytes() == public
    assert HybridSealingKey.from_bytes(raw).to_bytes() == raw
    assert repr(key) == f"HybridSealingKey(public_sha256={hashlib.sha256(public).hexdigest()[:16]!r})"
    assert raw.hex() not in repr(key)
    for wrong in (raw[:-1], raw + b"\0"):
        with pytest.raises(ValueError, match=_exactly("a hybrid sealing key is 96 bytes: ML-KEM seed and X25519 key")):
            HybridSealingKey.from_bytes(wrong)


def test_a_published_hybrid_key_opens_to_its_private_half_and_has_exactly_its_size() -> None:
    from cryptography.hazmat.primitives import hpke

    key = HybridSealingKey.generate()
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    sealed = suite.encrypt(b"secret", hybrid_public_key(key.public_bytes()), info=b"i")
    assert suite.decrypt(sealed, key.private_key, info=b"i") == b"secret"
    for wrong in (key.public_bytes()[:-1], key.public_bytes() + b"\0"):
        with pytest.raises(ValueError, match=_exactly("a hybrid sealing key is 1216 bytes")):
            hybrid_public_key(wrong)


@pytest.mark.parametrize("alg", [["ed25519"], {"alg": "ed25519"}, 25519], ids=["list", "object", "number"])
def test_an_algorithm_that_is_not_a_string_is_unsupported_not_a_crash(alg: object) -> None:
    """`alg` comes from a peer's JSON: a list or an object (unhashable) must be refused, not raise TypeError."""
    with pytest.raises(SignatureError) as caught:
        verify_signature(alg, KEY.public_key, KEY.sign(b"data"), b"data")  # type: ignore[arg-type]
    assert caught.value.reason == "unsupported_alg"
