"""The clock check against the hub's timestamps (protocol/clock.py): transit delay never reads as skew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from protocol.clock import WINDOW, ClockVerdict, ClockWatch, format_span

HUB = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=2)


def test_a_clock_far_behind_the_hub_is_flagged_on_the_first_sample() -> None:
    verdict = ClockWatch(LIMIT).observe(HUB, HUB - timedelta(minutes=15))
    assert verdict.skewed and verdict.describe() == "this host's clock is 15 min behind the hub's"


def test_a_clock_ahead_is_flagged_when_even_the_quickest_recent_sample_is_ahead() -> None:
    watch = ClockWatch(LIMIT)
    assert watch.observe(HUB, HUB + timedelta(hours=2, seconds=1)).skewed
    assert watch.observe(HUB, HUB + timedelta(hours=2)).describe() == "this host's clock is 2 h ahead of the hub's"


def test_a_backlog_in_the_inbox_is_not_skew_once_a_quick_sample_was_seen() -> None:
    watch = ClockWatch(LIMIT)
    assert not watch.observe(HUB, HUB + timedelta(seconds=1)).skewed
    assert not watch.observe(HUB, HUB + timedelta(minutes=30)).skewed  # waited in the inbox


# Within the window: after WINDOW newer samples the quick one is forgotten (see below).
@given(delays=st.lists(st.floats(min_value=0, max_value=600), min_size=1, max_size=WINDOW - 1))
def test_with_a_true_clock_a_quick_sample_keeps_any_delays_from_raising_the_alarm(delays: list[float]) -> None:
    watch = ClockWatch(LIMIT)
    verdicts = [watch.observe(HUB, HUB + timedelta(seconds=d)) for d in [0.5, *delays]]
    assert not any(v.skewed for v in verdicts)


def test_spans_read_like_a_person_would_say_them() -> None:
    assert [format_span(s) for s in (0, 40, 902, 7140, 7200)] == ["0 s", "40 s", "15 min 2 s", "1 h 59 min", "2 h"]


def test_the_quick_sample_is_forgotten_after_window_newer_ones() -> None:
    watch = ClockWatch(LIMIT)
    watch.observe(HUB, HUB)
    verdicts = [watch.observe(HUB, HUB + timedelta(minutes=10)) for _ in range(WINDOW)]
    assert not any(v.skewed for v in verdicts[:-1])
    assert verdicts[-1].skewed and verdicts[-1].offset == timedelta(minutes=10)


def test_exactly_the_threshold_either_way_is_not_skew() -> None:
    assert not ClockWatch(LIMIT).observe(HUB, HUB - LIMIT).skewed
    assert not ClockWatch(LIMIT).observe(HUB, HUB + LIMIT).skewed
    assert ClockWatch(LIMIT).observe(HUB, HUB - LIMIT - timedelta(microseconds=1)).skewed
    assert ClockWatch(LIMIT).observe(HUB, HUB + LIMIT + timedelta(microseconds=1)).skewed


def test_a_clock_exactly_on_the_hubs_is_described_as_zero_behind() -> None:
    # only a positive offset is "ahead of"; zero reads "0 s behind" (never a false "ahead" alarm text)
    assert ClockVerdict(timedelta(0), False).describe() == "this host's clock is 0 s behind the hub's"
    assert ClockVerdict(timedelta(seconds=1), False).describe() == "this host's clock is 1 s ahead of the hub's"
