"""The node console's own decisions: certificate expiry warning, the events a party may send,
overdue deadlines, and the inbox's country and date filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nodes.national.console import certificate_expiry
from nodes.national.console_messages import FilterError, keep, parse_day
from nodes.national.features.mla.console import allowed_events, is_overdue, request_fields
from nodes.national.store import StoredMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("left", "days", "warning"), [
    (timedelta(days=400), 400, False), (timedelta(days=30), 30, False),
    (timedelta(days=29, hours=23), 29, True), (timedelta(hours=-1), -1, True)])
def test_certificate_warning_in_the_last_30_days(left: timedelta, days: int, warning: bool) -> None:
    expiry = certificate_expiry(NOW + left, NOW)
    assert (expiry.days_left, expiry.warning) == (days, warning)


def test_each_party_gets_only_its_own_events_for_the_state() -> None:
    assert allowed_events("in", "received") == ["acknowledge", "refuse"]
    assert allowed_events("out", "received") == ["withdraw", "remind"]
    assert allowed_events("in", "in_progress") == ["request_information", "execute", "execute_partially", "refuse"]
    assert allowed_events("out", "additional_information_requested") == ["supply_information", "withdraw", "remind"]
    assert allowed_events("in", "executed") == allowed_events("out", "withdrawn") == []


def test_overdue_only_for_open_requests_past_their_deadline() -> None:
    today = date(2026, 11, 23)
    assert is_overdue("2026-11-22", "acknowledged", today)
    assert not is_overdue("2026-11-23", "acknowledged", today)
    assert not is_overdue("2026-11-22", "executed", today)
    assert not is_overdue(None, "received", today)


def test_request_fields_from_the_form_leave_out_empty_optional_fields() -> None:
    fields = request_fields({"to": "IDN", "kind": "extradition", "reference": " R-1 ", "urgency": "routine",
                             "summary": "s", "legal_basis": ["reciprocity"], "offence": ["art6_2_a_attempt"],
                             "measure": ["surrender"], "deadline": "", "treaty": "  "})
    assert fields == {"requested": "IDN", "kind": "extradition", "reference": "R-1", "urgency": "routine",
                      "summary": "s", "legal_basis": ["reciprocity"], "offences": ["art6_2_a_attempt"],
                      "measures": ["surrender"]}


def _message(sender: str, recipients: list[str], stored_at: str) -> StoredMessage:
    return StoredMessage("id", "in", "note", sender, recipients, None, None, stored_at, "d", None, stored_at, None)


def test_inbox_filters_by_sender_and_days_inclusive() -> None:
    rows = [_message("ITA", ["MEX"], "2026-11-20T10:00:00Z"), _message("IDN", ["MEX"], "2026-11-22T23:59:59Z")]
    assert keep(rows, "in", "ita", None, None) == rows[:1]
    assert keep(rows, "out", "MEX", None, None) == rows
    assert keep(rows, "in", None, date(2026, 11, 21), date(2026, 11, 22)) == rows[1:]
    assert keep(rows, "in", None, None, date(2026, 11, 20)) == rows[:1]


def test_a_bad_date_is_explained() -> None:
    assert parse_day("", "since") is None
    with pytest.raises(FilterError, match="since: a date like 2026-11-23"):
        parse_day("yesterday", "since")
