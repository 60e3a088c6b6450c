"""The crypto layer's refusals: a reason code, a detail, and for validity refusals the window (issue 24)."""

from __future__ import annotations

from datetime import UTC, datetime

from crypto.errors import CertificateError, CryptoError, DirectoryError, JoinError, SignatureError


def test_a_refusal_reads_reason_colon_detail_or_the_reason_alone() -> None:
    error = SignatureError("bad_signature", "the signature does not verify")
    assert str(error) == "bad_signature: the signature does not verify"
    assert (error.reason, error.detail, error.valid_from, error.valid_until) == (
        "bad_signature", "the signature does not verify", None, None)
    bare = DirectoryError("malformed")
    assert str(bare) == "malformed" and bare.detail == ""


def test_a_validity_refusal_carries_its_window_for_the_clock_diagnosis() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    early = CertificateError("cert_not_yet_valid", "valid from …", valid_from=start)
    late = CertificateError("cert_expired", "expired …", valid_until=end)
    assert (early.valid_from, early.valid_until) == (start, None)
    assert (late.valid_from, late.valid_until) == (None, end)


def test_every_refusal_is_a_crypto_error() -> None:
    for kind in (SignatureError, CertificateError, DirectoryError, JoinError):
        assert issubclass(kind, CryptoError) and issubclass(kind, Exception)
