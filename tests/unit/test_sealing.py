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


# -- the header's exact form, the bounds, and the words of each refusal (issue 24) ------------------

import base64  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from crypto.sealing import MAX_RECIPIENTS, X25519, recipient_key, sealed_suite  # noqa: E402


def _header(sealed: str) -> dict:
    head = sealed.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def _with_header(sealed: str, header: dict) -> str:
    head = base64.urlsafe_b64encode(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    return head.rstrip(b"=").decode() + "." + sealed.split(".")[1]


def _refusal(sealed: object, node_id: str = "MEX", key: object = MEX.private_key) -> SealError:
    with pytest.raises(SealError) as info:
        open_sealed(sealed, node_id, key, CONTEXT)  # type: ignore[arg-type]
    return info.value


def test_the_header_is_compact_sorted_json_with_a_12_byte_nonce_and_one_key_per_recipient() -> None:
    sealed = _sealed()
    head = sealed.split(".")[0]
    raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    header = json.loads(raw)
    assert raw == json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    assert header["v"] == 1 and header["suite"] == X25519 and list(header["keys"]) == ["ITA", "MEX"]
    assert len(base64.urlsafe_b64decode(header["nonce"] + "==")) == 12
    assert "=" not in sealed
    assert _header(_sealed())["nonce"] != header["nonce"]  # a fresh nonce and content key each time


def test_a_sealed_payload_has_one_to_250_recipients_and_a_known_suite() -> None:
    public = MEX.public_key
    many = {f"N{i:03d}": public for i in range(MAX_RECIPIENTS)}
    assert MAX_RECIPIENTS == 250 and len(sealed_recipients(seal(b"x", many, CONTEXT))) == 250
    message = f"^{re.escape(f'a sealed payload needs 1..{MAX_RECIPIENTS} recipients')}$"
    with pytest.raises(ValueError, match=message):
        seal(b"x", {**many, "Z": public}, CONTEXT)
    with pytest.raises(ValueError, match=message):
        seal(b"x", {}, CONTEXT)
    with pytest.raises(ValueError, match=re.escape("unknown suite 'rot13'")):
        seal(b"x", {"MEX": public}, CONTEXT, suite="rot13")


@pytest.mark.parametrize(("sealed", "detail"), [
    (None, "a sealed payload is header.ciphertext"),
    ("abc", "a sealed payload is header.ciphertext"),
    ("a.b.c", "a sealed payload is header.ciphertext"),
    ("a.b.", "a sealed payload is header.ciphertext"),
    (".AAAA", "the header is not JSON: "),
    ("!!.AAAA", "header is not base64"),
    (base64.urlsafe_b64encode(b"[1").decode().rstrip("=") + ".AAAA", "the header is not JSON: "),
    (base64.urlsafe_b64encode(b'{"v":1}').decode().rstrip("=") + ".AAAA",
     "the header is not {v: 1, suite, nonce, keys}"),
], ids=["not-a-string", "no-dot", "two-dots", "a-second-dot-last", "empty-header", "header-not-base64", "header-not-json", "header-shape"])
def test_a_malformed_sealed_payload_is_a_bad_seal_that_says_what_is_wrong(sealed: object, detail: str) -> None:
    error = _refusal(sealed)
    assert error.reason == "bad_seal"
    assert error.detail.startswith(detail)


def test_a_second_dot_anywhere_after_the_first_is_refused_before_any_decoding() -> None:
    head, ciphertext = _sealed().split(".")
    for sealed in (f"{head}..{ciphertext}", f"{head}.{ciphertext[:1]}.{ciphertext[1:]}", f"{head}.{ciphertext}."):
        assert _refusal(sealed).detail == "a sealed payload is header.ciphertext"


@pytest.mark.parametrize("change", [
    {"v": 2}, {"keys": {}}, {"keys": ["MEX"]}, {"extra": 1},
], ids=["version-2", "no-keys", "keys-not-an-object", "extra-member"])
def test_a_header_of_another_shape_is_refused(change: dict) -> None:
    header = {**_header(_sealed()), **change}
    error = _refusal(_with_header(_sealed(), header))
    assert (error.reason, error.detail) == ("bad_seal", "the header is not {v: 1, suite, nonce, keys}")


def test_an_edited_header_does_not_open_even_for_a_recipient_left_in_it() -> None:
    sealed = _sealed()
    header = _header(sealed)
    del header["keys"]["ITA"]
    error = _refusal(_with_header(sealed, header))
    assert (error.reason, error.detail) == (
        "bad_seal", "the sealed payload does not open: tampered, or bound to another message")


def test_an_unknown_suite_or_a_missing_key_is_named() -> None:
    header = {**_header(_sealed()), "suite": "s" * 80}
    error = _refusal(_with_header(_sealed(), header))
    assert (error.reason, error.detail) == ("unsupported_suite", f"suite {'s' * 64!r} is not accepted")
    error = _refusal(_with_header(_sealed(), {**_header(_sealed()), "suite": 7}))
    assert (error.reason, error.detail) == ("unsupported_suite", "suite '7' is not accepted")
    many = {f"N{i:02d}": MEX.public_key for i in range(12)}
    error = _refusal(seal(b"x", many, CONTEXT), "IDN", IDN.private_key)
    assert (error.reason, error.detail) == ("not_sealed_for_us", f"sealed for {sorted(many)[:10]}, not for IDN")


def test_a_nonce_or_wrapped_key_that_is_not_base64url_is_a_bad_seal() -> None:
    for member, value in (("nonce", "**"), ("keys", {"MEX": "**"})):
        error = _refusal(_with_header(_sealed(), {**_header(_sealed()), member: value}))
        assert error.reason == "bad_seal" and "not base64" in error.detail


def test_the_suite_of_a_sealed_payload_must_be_a_string() -> None:
    with pytest.raises(SealError) as info:
        sealed_suite(_with_header(_sealed(), {**_header(_sealed()), "suite": 7}))
    assert (info.value.reason, info.value.detail) == ("bad_seal", "the suite is not a string")


def test_a_recipient_key_is_the_entrys_published_key_for_the_suite() -> None:
    entry = SimpleNamespace(node_id="MEX", sealing_key=MEX.public_bytes(), hybrid_sealing_key=None)
    assert recipient_key(entry, X25519).public_bytes_raw() == MEX.public_bytes()
    with pytest.raises(SealError) as info:
        recipient_key(entry, MLKEM768_X25519)
    assert info.value.detail == "MEX publishes no ML-KEM-768 + X25519 sealing key"
    with pytest.raises(SealError) as info:
        recipient_key(entry, "s" * 80)
    assert (info.value.reason, info.value.detail) == ("unsupported_suite", f"suite {'s' * 64!r} is not accepted")


def test_each_undecodable_part_is_named() -> None:
    assert _refusal(base64.urlsafe_b64encode(b"[1").decode().rstrip("=") + ".AAAA").detail == (
        "the header is not JSON: seal header: Expecting ',' delimiter: line 1 column 3 (char 2)")
    assert _refusal(_sealed().split(".")[0] + ".**").detail == "ciphertext is not base64"
    assert _refusal(_with_header(_sealed(), {**_header(_sealed()), "nonce": "**"})).detail == "nonce is not base64"
    assert _refusal(_with_header(_sealed(), {**_header(_sealed()), "keys": {"MEX": "**"}})).detail == \
        "wrapped key is not base64"


@pytest.mark.parametrize("suite", [["x25519-hkdf-sha256-aes256gcm"], {"a": 1}], ids=["list", "object"])
def test_a_suite_that_is_not_a_string_is_unsupported_not_a_crash(suite: object) -> None:
    error = _refusal(_with_header(_sealed(), {**_header(_sealed()), "suite": suite}))
    assert error.reason == "unsupported_suite"


def test_the_wire_format_opens_with_the_documented_wrap_info_and_associated_data() -> None:
    """An independent implementation following the module docstring opens a sealed payload."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from crypto.sealing import SEAL_DOMAIN, SUITES

    sealed = _sealed(b"interop")
    head, body = sealed.split(".")
    header_bytes = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    header = json.loads(header_bytes)
    wrapped = base64.urlsafe_b64decode(header["keys"]["MEX"] + "=" * (-len(header["keys"]["MEX"]) % 4))
    info = b"somex/seal/v1\nkey\n" + CONTEXT + b"\nMEX"
    assert SEAL_DOMAIN == b"somex/seal/v1\n"
    content_key = SUITES[X25519].decrypt(wrapped, MEX.private_key, info=info)
    nonce = base64.urlsafe_b64decode(header["nonce"] + "=" * (-len(header["nonce"]) % 4))
    ciphertext = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert AESGCM(content_key).decrypt(nonce, ciphertext, SEAL_DOMAIN + header_bytes + b"\n" + CONTEXT) == b"interop"


def test_the_suite_and_the_recipients_are_read_from_the_header_alone_the_ciphertext_is_left_to_open() -> None:
    # A file chunk's ciphertext is ~7 MiB of text: reading who it is for, or which key opens it,
    # must not decode it; a damaged ciphertext is still refused by open_sealed.
    head = _sealed().split(".")[0]
    damaged = head + ".not base64!"
    assert sealed_suite(damaged) == X25519
    assert sealed_recipients(damaged) == ("ITA", "MEX")
    assert _refusal(damaged).reason == "bad_seal"
    for malformed in (head, head + ".x.y", 7):
        with pytest.raises(SealError) as info:
            sealed_suite(malformed)
        assert info.value.reason == "bad_seal"
