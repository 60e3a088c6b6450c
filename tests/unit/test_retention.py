"""Each message class's retention rule (protocol/retention.py, issue 20)."""

from __future__ import annotations

import pytest

from protocol import messages, retention


def alert(review: str | None = None, reported: str = "2026-11-20") -> dict:
    return {"document_number": "X1", "document_type": "passport", "issuing_country": "ITA", "status": "stolen",
            "action": "create", "reported": reported, **({"review_date": review} if review else {})}


def test_an_alert_is_kept_until_its_review_date_whatever_its_age() -> None:
    assert retention.retain_until("alert.document", "2026-12-01T10:00:00Z", alert("2027-03-01")) == "2027-03-01"
    # no review date given: the protocol's default (reported + 10 years)
    assert retention.retain_until("alert.document", "2026-12-01T10:00:00Z", alert()) == "2036-11-20"


def test_a_batch_is_kept_until_its_last_alert_is_due_for_review() -> None:
    body = {"alerts": [alert("2027-03-01"), alert("2029-01-31"), alert("2026-12-24")]}
    assert retention.retain_until("alert.document.batch", "2026-12-01T10:00:00Z", body) == "2029-01-31"


def test_an_alert_without_its_body_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        retention.retain_until("alert.document", "2026-12-01T10:00:00Z", None)


@pytest.mark.parametrize("type, days, last_day", [
    ("note", 730, "2028-01-01"), ("receipt", 730, "2028-01-01"), ("alert.hit", 365, "2027-01-01"),
    ("case.message", 1095, "2028-12-31"), ("mla.request", 3650, "2035-12-30"), ("case.share", 1825, "2030-12-31")])
def test_other_classes_have_a_federation_wide_maximum_after_creation(type: str, days: int, last_day: str) -> None:
    assert retention.MAXIMUM_DAYS[type] == days
    assert retention.retain_until(type, "2026-01-01T23:59:59.999999Z", None) == last_day


def test_every_registered_message_type_has_a_rule_of_its_own() -> None:
    ruled = set(retention.MAXIMUM_DAYS) | retention.ALERT_TYPES
    assert set(messages.REGISTRY) <= ruled, set(messages.REGISTRY) - ruled


def test_a_message_is_gone_the_day_after_its_last_day() -> None:
    assert not retention.expired("2027-03-01", "2027-03-01")
    assert retention.expired("2027-03-01", "2027-03-02")


def test_a_hostile_review_date_does_not_keep_an_alert_beyond_ten_years_after_it_was_sent() -> None:
    """A member writing review_date 9999-12-31 (or a far future `reported`) would otherwise keep its
    alert in every replica and message store forever."""
    far = alert("9999-12-31", reported="9990-01-01")
    assert retention.alert_kept_until(far, "2026-12-01T10:00:00Z") == "2036-12-01"
    assert retention.retain_until("alert.document", "2026-12-01T10:00:00Z", far) == "2036-12-01"
    assert retention.retain_until("alert.document.batch", "2026-12-01T10:00:00Z",
                                  {"alerts": [far, alert("2027-03-01")]}) == "2036-12-01"
    assert retention.alert_kept_until(alert("2027-03-01"), "2026-12-01T10:00:00Z") == "2027-03-01"


@pytest.mark.parametrize("reviews, created, last_day", [
    (["2027-03-01", "2029-01-31"], "2026-12-01T10:00:00Z", "2029-01-31"),  # under the bound: the latest
    (["2037-05-01", "2027-03-01"], "2026-12-01T10:00:00Z", "2036-12-01"),  # one beyond: the bound
    (["2037-05-01", "2038-01-01"], "2026-12-01T10:00:00Z", "2036-12-01"),  # all beyond: the bound
    (["2036-11-30", "2036-12-02"], "2026-12-01T23:59:59Z", "2036-12-01"),  # the bound counts from `created`'s day
])
def test_a_batch_is_kept_as_long_as_its_longest_kept_alert(reviews: list[str], created: str, last_day: str) -> None:
    body = {"alerts": [alert(r) for r in reviews]}
    assert retention.retain_until("alert.document.batch", created, body) == last_day
    assert last_day == max(retention.alert_kept_until(a, created) for a in body["alerts"])
