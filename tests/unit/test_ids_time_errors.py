"""Message ids, timestamps and the protocol error family (issue 24): the exact layouts and words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocol.errors import DecodeError, PolicyError, ProtocolError, TransitionError
from protocol.ids import is_uuid7, uuid7
from protocol.timefmt import format_time, parse_time


def test_a_uuid7_is_milliseconds_version_random_variant_random() -> None:
    assert uuid7(0x0123456789AB, bytes(range(10))) == "01234567-89ab-7001-8203-040506070809"
    assert uuid7(0, b"\xff" * 10) == "00000000-0000-7fff-bfff-ffffffffffff"
    assert uuid7(2**48 + 5, bytes(10)) == uuid7(5, bytes(10))  # 48 bits of milliseconds
    assert uuid7(5, bytes(10) + b"\xff") == uuid7(5, bytes(10))  # ten random bytes are used, no more


def test_a_uuid7_needs_ten_random_bytes() -> None:
    with pytest.raises(ValueError, match="^uuid7 needs 10 random bytes$"):
        uuid7(1, bytes(9))


@pytest.mark.parametrize("text", [
    "01234567-89ab-4001-8203-040506070809",  # version 4
    "01234567-89ab-7001-c203-040506070809",  # variant 0b11
    "01234567-89AB-7001-8203-040506070809",  # upper case
    "01234567-89ab-7001-8203-040506070809\n", "01234567-89ab-7001-8203-04050607080",
])
def test_only_a_lower_case_version_7_variant_1_uuid_is_a_uuid7(text: str) -> None:
    assert not is_uuid7(text)
    assert is_uuid7("01234567-89ab-7001-b203-040506070809")


def test_times_are_written_in_utc_with_six_fraction_digits() -> None:
    assert format_time(datetime(2026, 11, 22, 17, 20, tzinfo=UTC)) == "2026-11-22T17:20:00.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2026, 11, 22, 19, 20, 0, 123, tzinfo=plus_two)) == "2026-11-22T17:20:00.000123Z"
    with pytest.raises(ValueError, match="^naive datetime: somex times are always UTC-aware$"):
        format_time(datetime(2026, 11, 22))


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-11-22T17:20:00Z", datetime(2026, 11, 22, 17, 20, tzinfo=UTC)),
    ("2026-11-22T17:20:00.5Z", datetime(2026, 11, 22, 17, 20, 0, 500000, tzinfo=UTC)),
    ("2026-11-22T17:20:00.000123Z", datetime(2026, 11, 22, 17, 20, 0, 123, tzinfo=UTC)),
])
def test_times_are_read_with_zero_to_six_fraction_digits(text: str, moment: datetime) -> None:
    assert parse_time(text) == moment and parse_time(text).tzinfo is UTC


def test_an_unreadable_time_is_refused_with_the_callers_reason() -> None:
    with pytest.raises(DecodeError) as caught:
        parse_time("2026-11-22T17:20:00.1234567Z" + "x" * 50)
    assert caught.value.reason == "bad_time"
    assert caught.value.detail == f"not an RFC 3339 UTC time: {('2026-11-22T17:20:00.1234567Z' + 'x' * 50)[:40]!r}"
    with pytest.raises(DecodeError) as caught:
        parse_time("2026-11-22T17:20:00+01:00", reason="bad_at")
    assert caught.value.reason == "bad_at"
    with pytest.raises(DecodeError) as caught:
        parse_time("2026-02-30T00:00:00Z", reason="bad_at")
    assert caught.value.reason == "bad_at"
    assert caught.value.detail == "impossible date '2026-02-30T00:00:00Z': day is out of range for month"


def test_a_protocol_error_carries_its_reason_and_detail() -> None:
    error = ProtocolError("bad_field", "id must be a UUIDv7")
    assert (error.reason, error.detail, str(error)) == ("bad_field", "id must be a UUIDv7",
                                                        "bad_field: id must be a UUIDv7")
    assert (ProtocolError("oversize").detail, str(ProtocolError("oversize"))) == ("", "oversize")
    decode = DecodeError("bad_utf8", "at byte 3", message_id="m", sender="ITA", type="note")
    assert (decode.reason, decode.detail, decode.message_id, decode.sender, decode.type) == (
        "bad_utf8", "at byte 3", "m", "ITA", "note")
    assert (DecodeError("x").message_id, DecodeError("x").sender, DecodeError("x").type) == (None, None, None)
    for cls in (DecodeError, PolicyError, TransitionError):
        assert issubclass(cls, ProtocolError)


def test_times_are_written_in_utc_whatever_the_hosts_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    try:
        moment = datetime(2026, 11, 22, 19, 20, tzinfo=timezone(timedelta(hours=2)))
        assert format_time(moment) == "2026-11-22T17:20:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
