"""The consoles' pure helpers for people (issue 21): times, sizes and country names as shown, the
inbox's and the trail's filter checks, the sequence diagram's label gutter and sender marks."""

from __future__ import annotations

import pytest

from nodes.hub.console import FilterError as TrailFilterError
from nodes.hub.console import check_filters
from nodes.hub.sequence import GUTTER, sequence_diagram
from nodes.national.console_messages import FilterError, parse_country, parse_day, parse_type
from nodes.plumbing.console import cookie_name
from nodes.plumbing.console_format import country, size, when

MEMBERS = ["HUB", "IDN", "ITA", "MEX"]


def test_times_show_minutes_in_utc_with_the_exact_value_kept_for_machines() -> None:
    shown = when("2026-11-23T14:05:07.123456Z")
    assert ">2026-11-23 14:05 UTC</time>" in shown and 'datetime="2026-11-23T14:05:07.123456Z"' in shown
    assert when("2026-11-23T15:05:07+01:00").endswith(">2026-11-23 14:05 UTC</time>")
    assert when("<b>not a time</b>") == "&lt;b&gt;not a time&lt;/b&gt;"  # escaped, never markup
    assert when(None) == ""


@pytest.mark.parametrize(("count", "shown"), [(0, "0 bytes"), (1, "1 byte"), (812, "812 bytes"), (1024, "1 KiB"),
                                              (1536 * 1024, "1.5 MiB"), (100 * 1024 * 1024, "100 MiB")])
def test_sizes_read_as_people_say_them(count: int, shown: str) -> None:
    assert size(count) == shown


def test_country_codes_become_names_and_unknown_codes_stay() -> None:
    assert (country("MEX"), country("IDN"), country("ITA")) == ("Mexico", "Indonesia", "Italy")
    assert country("HUB") == "HUB" and country("") == ""


def test_each_console_has_its_own_cookie_name() -> None:
    assert cookie_name("MEX") == "somex_session_MEX" != cookie_name("ITA")
    assert cookie_name("a;b=c") == "somex_session_a-b-c"  # never a separator in a cookie name


def test_inbox_filters_take_any_case_and_refuse_what_cannot_match() -> None:
    assert parse_country("mex", MEMBERS) == "MEX" and parse_country("", MEMBERS) is None
    with pytest.raises(FilterError, match="three-letter code of a member"):
        parse_country("Mexico", MEMBERS)
    with pytest.raises(FilterError, match="since: a date like 2026-11-23"):
        parse_day("yesterday", "since")
    with pytest.raises(FilterError, match="type: one of"):
        parse_type("notes")
    assert parse_type("mla.request") == "mla.request"


def test_trail_filters_name_the_expected_format() -> None:
    empty = dict.fromkeys(("message_id", "thread", "sender", "recipient", "type", "verdict", "since", "until"), "")
    checked = check_filters({**empty, "sender": "mex", "since": "2026-11-23T14:05Z"}, MEMBERS)
    assert checked["sender"] == "MEX" and checked["since"] == "2026-11-23T14:05"
    for field, value, words in (("since", "yesterday", "a UTC time like"), ("until", "2026-02-30", "not a real date"),
                                ("recipient", "XXX", "the code of a member"), ("type", "notes", "type: one of")):
        with pytest.raises(TrailFilterError, match=words):
            check_filters({**empty, field: value}, MEMBERS)


def test_diagram_labels_sit_left_of_every_lane_and_each_arrow_marks_its_sender() -> None:
    entries = [{"seq": 0, "type": "note", "sender": "MEX", "recipients": ["IDN", "ITA"], "verdict": "accepted",
                "received_at": "2026-11-23T14:05:07.000001Z"},
               {"seq": 1, "type": "note", "sender": "IDN", "recipients": [], "verdict": "rejected",
                "reason": "sender_mismatch", "received_at": "2026-11-23T14:05:08Z"}]
    diagram = sequence_diagram(entries)
    lanes = dict(diagram.lanes)
    assert min(lanes.values()) >= GUTTER
    multicast, rejected = diagram.arrows
    assert all(a.label_x < GUTTER for a in diagram.arrows)
    assert multicast.x1 == lanes["MEX"] and set(multicast.targets) == {lanes["IDN"], lanes["ITA"]}
    assert multicast.sender == "MEX" and multicast.recipients == ("IDN", "ITA") and multicast.at == "14:05:07"
    assert rejected.targets == (lanes["HUB"],) and rejected.reason == "sender_mismatch"
