"""How far this host's clock is from the hub's, judged from the hub's own timestamps (sans-I/O).

Each sample is (hub time stamped on something the hub sent, local time it was seen here). Their
difference is offset + transit delay, and the delay is never negative: a sample far BEHIND the hub
proves a slow clock at once, while a fast clock is judged on the smallest difference of recent
samples (one of them will have travelled quickly; a backlog in the inbox must not read as skew).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = 16  # recent samples kept


@dataclass(frozen=True)
class ClockVerdict:
    offset: timedelta  # local - hub: positive when this host's clock is ahead
    skewed: bool

    def describe(self) -> str:
        seconds = abs(self.offset.total_seconds())
        direction = "ahead of" if self.offset > timedelta(0) else "behind"
        return f"this host's clock is {format_span(seconds)} {direction} the hub's"


class ClockWatch:
    def __init__(self, threshold: timedelta, window: int = WINDOW) -> None:
        self.threshold = threshold
        self._differences: deque[timedelta] = deque(maxlen=window)

    def observe(self, hub_time: datetime, local_time: datetime) -> ClockVerdict:
        """Add a sample; the verdict on the samples so far."""
        difference = local_time - hub_time
        self._differences.append(difference)
        if difference < -self.threshold:  # no delay can make a message arrive before it was sent
            return ClockVerdict(difference, True)
        best = min(self._differences)
        return ClockVerdict(best, best > self.threshold)


def format_span(seconds: float) -> str:
    """1 h 59 min, 15 min 2 s, 40 s."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts) or "0 s"


__all__ = ["ClockVerdict", "ClockWatch", "format_span"]
