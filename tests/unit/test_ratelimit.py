"""Token buckets for the HTTP rate limit: bursts, refill, one bucket per caller, bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.ratelimit import RateLimit, TokenBuckets


def test_a_burst_passes_then_the_next_request_waits_for_one_refill() -> None:
    buckets = TokenBuckets(RateLimit(per_second=2.0, burst=3))
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(0.5)
    assert buckets.take("a", 0.5) == 0.0  # refilled one token at 2 per second


def test_refill_never_exceeds_the_burst() -> None:
    buckets = TokenBuckets(RateLimit(per_second=10.0, burst=2))
    buckets.take("a", 0.0)
    assert [buckets.take("a", 1000.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert buckets.take("a", 1000.0) > 0


def test_callers_have_buckets_of_their_own() -> None:
    buckets = TokenBuckets(RateLimit(per_second=1.0, burst=1))
    assert buckets.take("a", 0.0) == 0.0 and buckets.take("a", 0.0) > 0
    assert buckets.take("b", 0.0) == 0.0


def test_memory_is_bounded_by_forgetting_the_least_recently_seen_caller() -> None:
    buckets = TokenBuckets(RateLimit(per_second=1.0, burst=1), max_keys=2)
    buckets.take("a", 0.0)
    buckets.take("b", 0.0)
    buckets.take("c", 0.0)  # forgets "a"
    assert buckets.take("a", 0.0) == 0.0  # back with a full bucket
    assert buckets.take("c", 0.0) > 0


def test_a_clock_that_steps_back_does_not_mint_tokens() -> None:
    buckets = TokenBuckets(RateLimit(per_second=1.0, burst=1))
    buckets.take("a", 10.0)
    assert buckets.take("a", 5.0) > 0


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_limit_that_admits_nothing_cannot_be_configured(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimit(per_second, burst)


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(0.1, 100), burst=st.integers(1, 50),
       gaps=st.lists(st.floats(0, 2), min_size=1, max_size=200))
def test_no_caller_gets_more_than_burst_plus_rate_times_elapsed(rate: float, burst: int, gaps: list[float]) -> None:
    buckets, now, allowed = TokenBuckets(RateLimit(rate, burst)), 0.0, 0
    for gap in gaps:
        now += gap
        allowed += buckets.take("a", now) == 0.0
    assert allowed <= burst + rate * now + 1e-6


def test_by_default_ten_thousand_callers_are_remembered() -> None:
    def comes_back_waiting(others: int) -> bool:
        buckets = TokenBuckets(RateLimit(per_second=0.001, burst=1))
        buckets.take("first", 0.0)
        for i in range(others):
            buckets.take(f"caller-{i}", 0.0)
        return buckets.take("first", 0.0) > 0

    assert comes_back_waiting(9_999)  # 10,000 callers: all remembered, its bucket still empty
    assert not comes_back_waiting(10_000)  # one more: the least recently seen is forgotten


def test_the_wait_is_for_the_missing_part_of_one_token() -> None:
    buckets = TokenBuckets(RateLimit(per_second=2.0, burst=1))
    assert buckets.take("k", 0.0) == 0.0
    assert buckets.take("k", 0.25) == pytest.approx(0.25)  # half a token refilled: half a token's time to wait


def test_a_limit_that_admits_nothing_says_what_it_needs() -> None:
    with pytest.raises(ValueError, match=r"^a rate limit needs per_second > 0 and burst >= 1$"):
        RateLimit(per_second=0.0, burst=1)
