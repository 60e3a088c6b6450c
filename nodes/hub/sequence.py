"""Layout of a thread's sequence diagram: one lane per country, one arrow per audited entry.

Pure geometry for the template (nodes/hub/templates/hub/thread.html draws it as SVG): a rejected
message ends at the hub's lane, since the hub stopped it there. Each row's label sits in a gutter
left of the lanes, so no label crosses a lane; the sender's end of every arrow (also one to many
recipients) is marked by a dot, so a multicast shows who sent it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HUB_LANE = "HUB"
LANE_WIDTH = 170
TOP = 50
ROW = 44
MARGIN = 60
GUTTER = 330  # the labels' column, left of the first lane
STOPPED = ("rejected", "unroutable", "dead_lettered")  # verdicts of messages the hub did not deliver


@dataclass(frozen=True)
class Arrow:
    seq: int
    type: str
    verdict: str
    kind: str  # "message", "receipt" or "rejected": the arrow's CSS class
    sender: str
    recipients: tuple[str, ...]
    at: str  # hh:mm:ss UTC of the hub's receipt
    reason: str | None  # for a message the hub stopped
    y: int
    x1: int  # the sender's lane: the dot
    targets: tuple[int, ...]  # x of each recipient's lane (the hub's, for a rejection)
    label_x: int = 8  # in the gutter

    @property
    def span(self) -> tuple[int, int]:
        """The leftmost and rightmost x the arrow covers (a faint row guide joins it to its label)."""
        return min(self.x1, *self.targets), max(self.x1, *self.targets)


@dataclass(frozen=True)
class Diagram:
    lanes: tuple[tuple[str, int], ...]  # (country, x)
    arrows: tuple[Arrow, ...]
    width: int
    height: int


def _kind(entry: dict[str, Any]) -> str:
    if entry.get("verdict") in STOPPED:
        return "rejected"
    return "receipt" if entry.get("type") == "receipt" else "message"


def _time(received_at: str | None) -> str:
    return (received_at or "")[11:19]


def sequence_diagram(entries: list[dict[str, Any]]) -> Diagram:
    countries: list[str] = []
    for e in entries:
        for c in [e.get("sender"), *(e.get("recipients") or [])]:
            if c and c not in countries:
                countries.append(c)
    if HUB_LANE not in countries and any(_kind(e) == "rejected" or not e.get("sender") for e in entries):
        countries.append(HUB_LANE)
    x = {c: GUTTER + MARGIN + i * LANE_WIDTH for i, c in enumerate(countries)}
    arrows = []
    for row, e in enumerate(entries):
        kind = _kind(e)
        sender = e.get("sender") if e.get("sender") in x else HUB_LANE
        targets = (x[HUB_LANE],) if kind == "rejected" else tuple(x[r] for r in e.get("recipients") or [] if r in x)
        arrows.append(Arrow(seq=e["seq"], type=e.get("type") or "?", verdict=e.get("verdict") or "?", kind=kind,
                            sender=sender, recipients=tuple(e.get("recipients") or ()),
                            at=_time(e.get("received_at")), reason=e.get("reason") if kind == "rejected" else None,
                            y=TOP + 30 + row * ROW, x1=x[sender], targets=targets or (x[sender],)))
    width = GUTTER + MARGIN * 2 + max(len(countries) - 1, 0) * LANE_WIDTH
    return Diagram(lanes=tuple((c, x[c]) for c in countries), arrows=tuple(arrows), width=max(width, GUTTER + 400),
                   height=TOP + 60 + len(entries) * ROW)
