"""Issue 21, item 5 (item 7 of the issue): filters are checked and normalised, never silently unmatched."""

from __future__ import annotations

import pytest

from protocol.filters import FilterError, node_id, time_bound, trail_filters


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "2026-11-22 17:20", "17:20", "2026-11-22T17:20:00+02:00",
                                   "", "2026-02-30"])
def test_a_time_filter_not_in_the_format_is_refused_naming_the_format(value: str) -> None:
    with pytest.raises(FilterError) as caught:
        time_bound("since", value)
    assert caught.value.reason == "bad_filter"
    assert "since=" in caught.value.detail and "RFC 3339 UTC time like 2026-11-22T17:20:00Z" in caught.value.detail


def test_times_are_normalised_so_that_string_order_is_time_order() -> None:
    # stored times carry microseconds: "…00Z" sorted after "…00.500000Z" before normalising
    assert time_bound("since", "2026-11-22T17:20:00Z") == "2026-11-22T17:20:00.000000Z"
    assert time_bound("since", "2026-11-22T17:20:00Z") < "2026-11-22T17:20:00.500000Z"
    assert time_bound("until", "2026-11-22") == "2026-11-22T00:00:00.000000Z"
    assert time_bound("until", "2026-11-22t17:20:00.5z") == "2026-11-22T17:20:00.500000Z"


@pytest.mark.parametrize("value,expected", [("mex", "MEX"), ("MEX", "MEX"), (" Ita ", "ITA"), ("hub", "HUB")])
def test_country_codes_are_case_insensitive(value: str, expected: str) -> None:
    assert node_id("sender", value) == expected


@pytest.mark.parametrize("value", ["MEXICO", "MX", "M3X", "*", "MEX,IDN"])
def test_a_country_filter_that_is_not_a_code_is_refused(value: str) -> None:
    with pytest.raises(FilterError, match="ISO 3166-1 alpha-3"):
        node_id("sender", value)


def test_trail_filters_check_only_what_is_given() -> None:
    assert trail_filters({"sender": "mex", "since": "2026-11-22", "thread": "t-1", "until": ""}) == {
        "sender": "MEX", "since": "2026-11-22T00:00:00.000000Z", "thread": "t-1"}
