"""Start-up refusals caused by this host's clock, said in words an operator acts on."""

from __future__ import annotations

from datetime import datetime

from crypto.errors import CryptoError
from protocol.clock import format_span
from protocol.timefmt import format_time


def clock_words(exc: CryptoError, now: datetime) -> str:
    """"" unless `exc` refuses something as not yet valid; then why that points at this host's clock."""
    valid_from = getattr(exc, "valid_from", None)
    if valid_from is None or now >= valid_from:
        return ""
    behind = format_span((valid_from - now).total_seconds())
    return (f"\nsomex: this host's clock reads {format_time(now)}, {behind} before {valid_from:%Y-%m-%d %H:%M:%S} UTC, "
            f"when the federation issued it: this host's clock is at least {behind} behind; "
            "fix the clock (NTP) and start again")


__all__ = ["clock_words"]
