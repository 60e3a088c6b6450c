"""Start-up refusals a wrong clock may cause name the clock (nodes/plumbing/clock_words.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crypto.errors import CertificateError, DirectoryError
from nodes.plumbing.clock_words import clock_words

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_directory_issued_in_this_hosts_future_says_the_clock_is_behind() -> None:
    words = clock_words(DirectoryError("not_yet_valid", "issued …", valid_from=NOW + timedelta(hours=1)), NOW)
    assert "this host's clock is at least 1 h behind; fix the clock (NTP)" in words


def test_an_expired_certificate_says_a_clock_ahead_may_be_the_cause() -> None:
    words = clock_words(CertificateError("cert_expired", "expired …", valid_until=NOW - timedelta(minutes=3)), NOW)
    assert "3 min after it expired" in words and "if this host's clock is ahead, fix the clock (NTP)" in words


def test_other_refusals_get_no_clock_words() -> None:
    assert clock_words(DirectoryError("bad_signature", "not signed by root"), NOW) == ""
