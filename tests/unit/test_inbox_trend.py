"""The hub's inbox watchdog rule (nodes/hub/inbox_watch.InboxTrend): growing or standing still is a
stall, going down or empty is not."""

from __future__ import annotations

from nodes.hub.inbox_watch import InboxTrend


def test_an_inbox_that_never_goes_down_is_stalled_since_it_first_held_messages() -> None:
    trend = InboxTrend()
    assert trend.observe(0, 0.0) is None
    assert trend.observe(3, 1.0) == 1.0
    assert trend.observe(3, 2.0) == 1.0
    assert trend.observe(9, 3.0) == 1.0


def test_an_inbox_being_consumed_is_not_stalled() -> None:
    trend = InboxTrend()
    trend.observe(10, 0.0)
    assert trend.observe(4, 1.0) is None
    assert trend.observe(0, 2.0) is None
