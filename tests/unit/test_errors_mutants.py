"""Issue 24 (mut24): a refusal without a detail reads as its bare reason code (protocol/errors.py)."""

from __future__ import annotations

from protocol.errors import DecodeError


def test_a_decode_error_without_detail_is_its_reason_alone() -> None:
    error = DecodeError("bad_envelope", message_id="m-1")
    assert (str(error), error.reason, error.detail, error.message_id) == ("bad_envelope", "bad_envelope", "", "m-1")
