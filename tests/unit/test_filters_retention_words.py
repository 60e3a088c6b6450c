"""The words of a refused filter and the retention of a type without a rule of its own (issue 24,
mut24: survivors of protocol/filters.py and protocol/retention.py)."""

from __future__ import annotations

import pytest

from protocol import retention
from protocol.filters import COUNTRY_FORMAT, TIME_FORMAT, FilterError, node_id, time_bound


def test_a_refused_time_filter_names_the_filter_its_value_and_the_format() -> None:
    with pytest.raises(FilterError) as caught:
        time_bound("until", "yesterday")
    assert (caught.value.reason, caught.value.name) == ("bad_filter", "until")
    assert caught.value.detail == ("until='yesterday' is not an RFC 3339 UTC time like 2026-11-22T17:20:00Z, "
                                   "or a date like 2026-11-22")


def test_a_refused_filter_value_is_quoted_cut_to_40_characters() -> None:
    typed = "M" * 60
    with pytest.raises(FilterError) as caught:
        node_id("recipient", typed)
    assert caught.value.name == "recipient"
    assert caught.value.detail == f"recipient={'M' * 40!r} is not {COUNTRY_FORMAT}"
    with pytest.raises(FilterError) as impossible:
        time_bound("since", "2026-02-30")  # a date's shape, not a date
    assert impossible.value.detail == f"since='2026-02-30' is not {TIME_FORMAT}"


def test_a_message_type_without_a_rule_of_its_own_is_kept_the_default_730_days() -> None:
    assert retention.DEFAULT_DAYS == 730
    assert retention.retain_until("future.type", "2026-01-01T00:00:00Z", None) == "2028-01-01"


def test_an_alert_without_its_body_says_its_retention_depends_on_the_body() -> None:
    with pytest.raises(ValueError, match=r"^the retention of alert\.document\.batch depends on its body$"):
        retention.retain_until("alert.document.batch", "2026-12-01T10:00:00Z", None)
