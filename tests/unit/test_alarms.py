"""The alarm board (nodes/plumbing/alarms.py): raised once into the log, refreshed, cleared."""

from __future__ import annotations

from typing import Any

from nodes.plumbing.alarms import AlarmBoard


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def error(self, event: str, **kw: Any) -> None:
        self.lines.append(("error", event, kw))

    def info(self, event: str, **kw: Any) -> None:
        self.lines.append(("info", event, kw))


def test_an_alarm_polled_every_second_is_logged_once_and_counts_its_raises() -> None:
    log = RecordingLog()
    board = AlarmBoard(log)
    assert board.raise_alarm("rejected:clock_skew", "outgoing_rejected", "refused", message_id="a")
    assert not board.raise_alarm("rejected:clock_skew", "outgoing_rejected", "refused again", message_id="b")
    [alarm] = board.active()
    assert alarm["count"] == 2 and alarm["message_id"] == "b" and alarm["detail"] == "refused again"
    assert [line[0] for line in log.lines] == ["error"]


def test_a_gauge_alarm_takes_the_count_it_is_given_and_clears() -> None:
    log = RecordingLog()
    board = AlarmBoard(log)
    board.raise_alarm("delivery_overdue", "delivery_overdue", "3 late", count=3)
    board.raise_alarm("delivery_overdue", "delivery_overdue", "1 late", count=1)
    assert board.active()[0]["count"] == 1 and "delivery_overdue" in board and len(board) == 1
    board.clear("delivery_overdue")
    board.clear("delivery_overdue")  # clearing what is not raised is no event
    assert board.active() == [] and [line[0] for line in log.lines] == ["error", "info"]
