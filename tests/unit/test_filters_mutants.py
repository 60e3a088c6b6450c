"""Issue 24 (mut24): the audit-trail filters normalise `until` and `recipient` as they do `since` and
`sender`, and a refusal names the filter the user typed wrong."""

from __future__ import annotations

import pytest

from protocol.filters import FilterError, trail_filters


def test_every_time_and_country_filter_is_normalised() -> None:
    assert trail_filters({"since": "2026-11-22", "until": "2026-11-23t01:02:03z", "sender": "mex",
                          "recipient": " ita "}) == {
        "since": "2026-11-22T00:00:00.000000Z", "until": "2026-11-23T01:02:03.000000Z",
        "sender": "MEX", "recipient": "ITA"}


@pytest.mark.parametrize("query,name", [({"since": "yesterday"}, "since"), ({"until": "tomorrow"}, "until"),
                                        ({"sender": "Mexico"}, "sender"), ({"recipient": "IT"}, "recipient")])
def test_a_refused_filter_names_itself(query: dict[str, str], name: str) -> None:
    with pytest.raises(FilterError) as caught:
        trail_filters(query)
    assert caught.value.name == name
    assert caught.value.reason == "bad_filter"
    assert caught.value.detail.startswith(f"{name}={query[name]!r} is not ")
