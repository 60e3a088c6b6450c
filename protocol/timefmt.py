"""RFC 3339 UTC timestamps as the envelope carries them ("2026-11-22T17:20:00.123456Z")."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from protocol.errors import DecodeError

_RFC3339_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z")


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: somex times are always UTC-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str, *, reason: str = "bad_time") -> datetime:
    match = _RFC3339_UTC.fullmatch(text)
    if match is None:
        raise DecodeError(reason, f"not an RFC 3339 UTC time: {text[:40]!r}")
    year, month, day, hour, minute, second, frac = match.groups()
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((frac or "0").ljust(6, "0")), tzinfo=UTC,
        )
    except ValueError as exc:
        raise DecodeError(reason, f"impossible date {text!r}: {exc}") from None
