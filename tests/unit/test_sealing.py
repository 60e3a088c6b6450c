"""Sealed payloads: only named recipients open them, and nothing moved or edited opens."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import hpke
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.keys import SealingKey
from crypto.sealing import MLKEM768_X25519, SealError, open_sealed, seal, sealed_recipients

ITA, MEX, IDN = SealingKey.generate(), SealingKey.generate(), SealingKey.generate()
CONTEXT = b"mla.request\n0190f0e0-0000-7000-8000-000000000000\nITA"


def _sealed(plaintext: bytes = b"request for evidence") -> str:
    return seal(plaintext, {"ITA": ITA.public_key, "MEX": MEX.public_key}, CONTEXT)


def test_every_recipient_and_the_sender_open_the_same_plaintext():
    sealed = _sealed()
    assert sealed_recipients(sealed) == ("ITA", "MEX")
    assert open_sealed(sealed, "MEX", MEX.private_key, CONTEXT) == b"request for evidence"
    assert open_sealed(sealed, "ITA", ITA.private_key, CONTEXT) == b"request for evidence"


def test_a_node_without_a_wrapped_key_is_told_so():
    with pytest.raises(SealError) as info:
        open_sealed(_sealed(), "IDN", IDN.private_key, CONTEXT)
    assert info.value.reason == "not_sealed_for_us"


def test_a_wrapped_key_moved_to_another_recipient_slot_does_not_open():
    import base64
    import json

    head, body = _sealed().split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["keys"]["IDN"] = header["keys"]["MEX"]
    moved = base64.urlsafe_b64encode(json.dumps(header, sort_keys=True, separators=(",", ":")).encode()).rstrip(b"=")
    with pytest.raises(SealError) as info:
        open_sealed(moved.decode() + "." + body, "IDN", MEX.private_key, CONTEXT)
    assert info.value.reason == "bad_seal"


def test_the_wrong_private_key_does_not_open():
    with pytest.raises(SealError) as info:
        open_sealed(_sealed(), "MEX", IDN.private_key, CONTEXT)
    assert info.value.reason == "bad_seal"


def test_a_payload_bound_to_another_message_does_not_open():
    with pytest.raises(SealError) as info:
        open_sealed(_sealed(), "MEX", MEX.private_key, CONTEXT.replace(b"ITA", b"IDN"))
    assert info.value.reason == "bad_seal"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_flipped_character_is_refused_with_a_reason(data):
    sealed = _sealed()
    i = data.draw(st.integers(0, len(sealed) - 1))
    replacement = data.draw(st.sampled_from("AB.-_=x"))
    tampered = sealed[:i] + replacement + sealed[i + 1:]
    if tampered == sealed:
        return
    try:
        plaintext = open_sealed(tampered, "MEX", MEX.private_key, CONTEXT)
    except SealError as exc:
        assert exc.reason in {"bad_seal", "not_sealed_for_us", "unsupported_suite"}
    else:  # base64url's last character may carry unused bits: the bytes must be the same then
        assert plaintext == b"request for evidence"


def test_hybrid_post_quantum_suite_round_trips():
    private = hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.generate(), X25519PrivateKey.generate())
    sealed = seal(b"freeze order", {"MEX": private.public_key()}, CONTEXT, suite=MLKEM768_X25519)
    assert open_sealed(sealed, "MEX", private, CONTEXT) == b"freeze order"
    with pytest.raises(SealError):
        open_sealed(sealed, "MEX", MEX.private_key, CONTEXT)


def test_large_attachment_round_trips():
    plaintext = bytes(range(256)) * 20_000  # 5 MB
    assert open_sealed(_sealed(plaintext), "MEX", MEX.private_key, CONTEXT) == plaintext


def test_a_published_hybrid_key_seals_for_its_private_half_and_a_missing_one_is_named() -> None:
    from types import SimpleNamespace

    from crypto.keys import HybridSealingKey
    from crypto.sealing import X25519, recipient_key, sealed_suite

    mex = HybridSealingKey.from_bytes(HybridSealingKey.generate().to_bytes())  # survives storage
    entry = SimpleNamespace(node_id="MEX", sealing_key=MEX.public_bytes(), hybrid_sealing_key=mex.public_bytes())
    sealed = seal(b"freeze order", {"MEX": recipient_key(entry, MLKEM768_X25519)}, CONTEXT, suite=MLKEM768_X25519)
    assert sealed_suite(sealed) == MLKEM768_X25519
    assert open_sealed(sealed, "MEX", mex.private_key, CONTEXT) == b"freeze order"
    assert mex.to_bytes().hex() not in repr(mex)
    assert sealed_suite(seal(b"x", {"MEX": recipient_key(entry, X25519)}, CONTEXT)) == X25519
    with pytest.raises(SealError) as info:
        recipient_key(SimpleNamespace(**{**vars(entry), "hybrid_sealing_key": None}), MLKEM768_X25519)
    assert info.value.reason == "no_hybrid_key"
