"""Layout of the volume chart: for each sender → recipient pair, one bar per hour of the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

LEFT = 110
SLOT = 26
ROW = 46
BAR = 34  # the tallest bar, for the busiest hour of any pair
TOP = 20


@dataclass(frozen=True)
class Bar:
    hour: str
    count: int
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class PairRow:
    sender: str
    recipient: str
    total: int
    y: int  # baseline
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class VolumeChart:
    hours: tuple[tuple[str, int], ...]  # ("YYYY-MM-DDTHH", x) of each slot
    rows: tuple[PairRow, ...]
    width: int
    height: int


def hour_slots(now: datetime, hours: int) -> list[str]:
    """The `hours` hours ending with the current one, oldest first, as "YYYY-MM-DDTHH"."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [(current - timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(hours - 1, -1, -1)]


def volume_chart(counts: list[tuple[str, str, str, int]], slots: list[str]) -> VolumeChart:
    x = {hour: LEFT + i * SLOT for i, hour in enumerate(slots)}
    pairs = sorted({(s, r) for _, s, r, _ in counts})
    busiest = max((c for h, _, _, c in counts if h in x), default=1)
    rows = []
    for n, (sender, recipient) in enumerate(pairs):
        baseline = TOP + (n + 1) * ROW
        bars = tuple(Bar(hour, c, x[hour] + 3, baseline - max(2, round(BAR * c / busiest)), max(2, round(BAR * c / busiest)))
                     for hour, s, r, c in counts if (s, r) == (sender, recipient) and hour in x)
        rows.append(PairRow(sender, recipient, sum(b.count for b in bars), baseline, bars))
    return VolumeChart(hours=tuple((h, x[h]) for h in slots), rows=tuple(rows),
                       width=LEFT + len(slots) * SLOT + 20, height=TOP + (len(pairs) + 1) * ROW + 10)
