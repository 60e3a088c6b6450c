"""Start-up refusals that this host's clock may cause, said in words an operator acts on."""

from __future__ import annotations

from datetime import datetime

from crypto.errors import CryptoError
from protocol.clock import format_span
from protocol.timefmt import format_time


def clock_words(exc: CryptoError, now: datetime) -> str:
    """"" unless `exc` refuses something as not yet valid or expired; then how that may be this
    host's clock (a line of its own, starting with a newline)."""
    valid_from, valid_until = getattr(exc, "valid_from", None), getattr(exc, "valid_until", None)
    if valid_from is not None and now < valid_from:
        behind = format_span((valid_from - now).total_seconds())
        return (f"\nsomex: this host's clock reads {format_time(now)}, {behind} before {valid_from:%Y-%m-%d %H:%M:%S} "
                f"UTC, when the federation issued it: this host's clock is at least {behind} behind; "
                "fix the clock (NTP) and start again")
    if valid_until is not None and now >= valid_until:
        after = format_span((now - valid_until).total_seconds())
        return (f"\nsomex: this host's clock reads {format_time(now)}, {after} after it expired "
                f"({valid_until:%Y-%m-%d %H:%M:%S} UTC): if this host's clock is ahead, fix the clock (NTP); "
                "otherwise ask the federation's root operator for a new one")
    return ""


__all__ = ["clock_words"]
