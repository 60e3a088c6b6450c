"""Alerts (issue 24): each field's refusal and its words, the issuer-only rules' refusals, the
replica's keys and hashes, and the merge rule's edges."""

from __future__ import annotations

import pytest

from protocol import alerts
from protocol.alerts import ALERT, ALERT_BATCH, AlertProblem, AlertVersion, ReplicaEntry, alert_problem, merge
from protocol.errors import DecodeError, PolicyError

ALERT_ITA = {"document_number": "YA 123-4567", "document_type": "passport", "issuing_country": "ITA",
             "status": "stolen", "action": "create", "reported": "2026-11-20"}


class Env:
    def __init__(self, sender: str, recipients: tuple[str, ...] = ("*",)) -> None:
        self.sender, self.recipients = sender, recipients


@pytest.mark.parametrize(("change", "problem"), [
    ({"document_number": ""}, ("document_number", "bad_field", "a string of 1..64 characters")),
    ({"document_number": "Y" * 65}, ("document_number", "bad_field", "a string of 1..64 characters")),
    ({"document_number": 1234}, ("document_number", "bad_field", "a string of 1..64 characters")),
    ({"document_number": " <_/ "}, ("document_number", "bad_field",
                                    "nothing left after removing spaces and separators")),
    ({"document_type": "driving_licence"}, ("document_type", "bad_field",
                                           "one of " + ", ".join(alerts.DOCUMENT_TYPES))),
    ({"issuing_country": "ita"}, ("issuing_country", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    ({"issuing_country": "ITAL"}, ("issuing_country", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    ({"issuing_country": None}, ("issuing_country", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    ({"status": "misplaced"}, ("status", "bad_field", "one of " + ", ".join(alerts.STATUSES))),
    ({"action": "delete"}, ("action", "bad_field", "one of create, update, withdraw")),
    ({"reported": "2026-11-20T00:00"}, ("reported", "bad_field", "a date YYYY-MM-DD")),
    ({"reported": 20261120}, ("reported", "bad_field", "a date YYYY-MM-DD")),
    ({"reported": "2026-1-200"}, ("reported", "bad_field", "a date YYYY-MM-DD")),
    ({"reported": "2026-W47-5"}, ("reported", "bad_field", "a date YYYY-MM-DD")),  # an ISO week date Python reads
    ({"expiry_date": "2030-13-01"}, ("expiry_date", "bad_field", "a date YYYY-MM-DD")),
    ({"review_date": None}, ("review_date", "bad_field", "a date YYYY-MM-DD")),
    ({"national_reference": "R" * 129}, ("national_reference", "bad_field", "a string of at most 128 characters")),
    ({"national_reference": 7}, ("national_reference", "bad_field", "a string of at most 128 characters")),
    ({"z" * 100: 1}, ("z" * 64, "unknown_field", "not a field of an alert")),
])
def test_each_bad_field_is_named_with_what_it_must_be(change: dict, problem: tuple) -> None:
    assert alert_problem({**ALERT_ITA, **change}) == AlertProblem(*problem)


@pytest.mark.parametrize("change", [
    {"document_number": "Y"}, {"document_number": "Y" * 64}, {"national_reference": "R" * 128},
    {"national_reference": ""}, {"event_date": "2024-02-29", "issue_date": "2020-01-01", "expiry_date": "2030-12-31",
                                 "review_date": "2036-11-20"},
])
def test_the_bounds_themselves_are_valid(change: dict) -> None:
    assert alert_problem({**ALERT_ITA, **change}) is None


def test_a_record_that_is_not_an_object_or_lacks_a_field() -> None:
    assert alert_problem(["not", "an", "object"]) == AlertProblem("$", "bad_field", "an alert is a JSON object")
    for name in alerts.REQUIRED_FIELDS:
        record = {k: v for k, v in ALERT_ITA.items() if k != name}
        assert alert_problem(record) == AlertProblem(name, "missing_field", "required")


def test_the_payload_schemas_report_the_path_of_the_problem() -> None:
    with pytest.raises(DecodeError) as caught:
        ALERT.check({**ALERT_ITA, "status": "gone"}, "$", "bad_body")
    assert (caught.value.reason, caught.value.detail) == ("bad_body", "$.status: one of " + ", ".join(alerts.STATUSES))
    with pytest.raises(DecodeError) as caught:
        ALERT.check("text", "$", "bad_body")
    assert caught.value.detail == "$: an alert is a JSON object"
    ALERT.check(ALERT_ITA, "$", "bad_body")


@pytest.mark.parametrize(("batch", "detail"), [
    ([], "$: a batch is exactly {\"alerts\": [...]}"),
    ({"alerts": [ALERT_ITA], "more": 1}, "$: a batch is exactly {\"alerts\": [...]}"),
    ({"alerts": ALERT_ITA}, "$.alerts: a list of 1..1000 alerts"),
    ({"alerts": []}, "$.alerts: a list of 1..1000 alerts"),
    ({"alerts": [ALERT_ITA, 5]}, "$.alerts[1]: an alert is a JSON object"),
    ({"alerts": [ALERT_ITA, {**ALERT_ITA, "action": "x"}]}, "$.alerts[1].action: one of create, update, withdraw"),
])
def test_a_bad_batch_says_what_and_where(batch: object, detail: str) -> None:
    with pytest.raises(DecodeError) as caught:
        ALERT_BATCH.check(batch, "$", "bad_body")
    assert (caught.value.reason, caught.value.detail) == ("bad_body", detail)


def test_a_batch_of_one_is_valid() -> None:
    ALERT_BATCH.check({"alerts": [ALERT_ITA]}, "$", "bad_body")


# -- issuer-only rules --------------------------------------------------------------------------

def test_only_the_issuing_country_alerts_on_its_documents() -> None:
    alerts.only_the_issuing_country_alerts(Env("ITA"), ALERT_ITA)
    with pytest.raises(PolicyError) as caught:
        alerts.only_the_issuing_country_alerts(Env("MEX"), ALERT_ITA)
    assert (caught.value.reason, caught.value.detail) == ("not_issuing_country",
                                                          "MEX may not alert on a document issued by ITA")


def test_a_batch_is_refused_whole_naming_the_first_foreign_alert() -> None:
    mex = {**ALERT_ITA, "issuing_country": "MEX"}
    alerts.only_the_issuing_country_alerts_in_batches(Env("ITA"), {"alerts": [ALERT_ITA, ALERT_ITA]})
    for batch, index in (([mex, ALERT_ITA], 0), ([ALERT_ITA, ALERT_ITA, mex, mex], 2)):
        with pytest.raises(PolicyError) as caught:
            alerts.only_the_issuing_country_alerts_in_batches(Env("ITA"), {"alerts": batch})
        assert (caught.value.reason, caught.value.detail) == (
            "not_issuing_country", f"alerts[{index}]: ITA may not alert on a document issued by MEX")


def test_a_hit_goes_to_the_issuing_country_alone() -> None:
    alerts.hits_go_to_the_issuing_country(Env("IDN", ("ITA",)), ALERT_ITA)
    for recipients in (("IDN",), ("ITA", "IDN"), ("*",)):
        with pytest.raises(PolicyError) as caught:
            alerts.hits_go_to_the_issuing_country(Env("IDN", recipients), ALERT_ITA)
        assert (caught.value.reason, caught.value.detail) == ("hit_not_to_issuer",
                                                              "a hit is reported to the issuing country alone")


# -- the replica's keys -------------------------------------------------------------------------

def test_document_numbers_fold_width_case_and_separators() -> None:
    assert alerts.normalise_document_number("ｙａ 123-456.7/8_9<0") == "YA1234567890"
    assert alerts.normalise_document_number("p\t1\n2") == "P12"
    assert alerts.document_key({**ALERT_ITA, "document_number": "ya-1234567"}) == ("ITA", "passport", "YA1234567")


@pytest.mark.parametrize(("number", "normalised"), [
    ("ya1234567", "YA1234567"),  # ASCII letters and digits only: upper-cased, nothing removed
    ("P000000001", "P000000001"),
    ("YA-1234567", "YA1234567"), ("YA 1234567", "YA1234567"), ("ya.12/3_4<5", "YA12345"),  # ASCII separators
    ("\uff39\uff21\uff11\uff12", "YA12"),  # fullwidth letters and digits are alphanumeric but not ASCII: NFKC
    ("\u00b2\u00b3", "23"),  # superscript digits (non-ASCII, alphanumeric): folded too
    ("\u00e9a1", "\u00c9A1"),  # a non-ASCII letter stays, upper-cased
])
def test_document_numbers_fold_alike_on_the_ascii_fast_path_and_off_it(number: str, normalised: str) -> None:
    assert alerts.normalise_document_number(number) == normalised


@pytest.mark.parametrize("field", ["document_type", "status", "action"])
@pytest.mark.parametrize("value", [["passport"], {"a": 1}, 1, None])
def test_a_choice_field_holding_a_list_an_object_or_a_number_is_named_not_a_crash(field: str, value: object) -> None:
    problem = alert_problem({**ALERT_ITA, field: value})
    assert problem is not None and (problem.field, problem.reason) == (field, "bad_field")


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "2026-1-01", "2026-01-01 ", 20260101, None])
def test_a_bad_date_is_refused_each_time_it_is_checked(value: object) -> None:
    for _ in range(2):  # the second check may come from the cache of checked dates
        assert alert_problem({**ALERT_ITA, "reported": value}) == AlertProblem("reported", "bad_field",
                                                                               "a date YYYY-MM-DD")
    assert alert_problem({**ALERT_ITA, "reported": "2024-02-29"}) is None


def test_a_record_with_every_field_and_one_with_only_the_required_ones_are_valid() -> None:
    full = {**ALERT_ITA, "event_date": "2026-11-01", "issue_date": "2020-01-01", "expiry_date": "2030-01-01",
            "review_date": "2031-01-01", "national_reference": "NR-1"}
    assert set(full) == set(alerts.FIELDS)
    assert alert_problem(full) is None
    assert set(ALERT_ITA) == set(alerts.REQUIRED_FIELDS) and alert_problem(ALERT_ITA) is None


def test_an_unknown_field_is_named_first_then_a_missing_one_in_field_order() -> None:
    record = {"zeta": 1, **ALERT_ITA, "alpha": 2}
    assert alert_problem(record) == AlertProblem("zeta", "unknown_field", "not a field of an alert")
    missing = {k: v for k, v in ALERT_ITA.items() if k not in ("status", "document_type")}
    assert alert_problem(missing) == AlertProblem("document_type", "missing_field", "required")


def test_the_review_date_is_the_records_own_or_ten_years_after_the_report() -> None:
    assert alerts.review_date({**ALERT_ITA, "review_date": "2027-01-01"}) == "2027-01-01"
    assert alerts.review_date(ALERT_ITA) == "2036-11-20"
    assert alerts.default_review_date("0996-02-29") == "1006-02-28"
    assert alerts.default_review_date("2026-02-28") == "2036-02-28"
    assert alerts.default_review_date("2027-06-30") == "2037-06-30"  # a common year: only 29 February moves
    # 29 February of a leap year whose year ten years on divides by 5 (2030, 2010): still a common year
    assert alerts.default_review_date("2020-02-29") == "2030-02-28"
    assert alerts.default_review_date("2000-02-29") == "2010-02-28"


def test_the_version_key_is_time_id_and_index() -> None:
    key = alerts.version_key("2026-01-01T00:00:00.5Z", "m-1", 7)
    assert key == "2026-01-01T00:00:00.500000Z~m-1~0007"


@pytest.mark.parametrize("change", [
    {"document_type": "visa"}, {"issuing_country": "MEX"}, {"status": "lost"}, {"action": "update"},
    {"reported": "2026-11-21"}, {"event_date": "2026-11-01"}, {"issue_date": "2020-01-01"},
    {"expiry_date": "2030-01-01"}, {"review_date": "2030-01-01"}, {"national_reference": "N-1"},
    {"document_number": "YA1234568"},
])
def test_every_field_is_in_the_content_hash(change: dict) -> None:
    assert alerts.content_hash({**ALERT_ITA, **change}) != alerts.content_hash(ALERT_ITA)


def test_the_content_hash_is_the_sha256_of_the_fields_in_order() -> None:
    import hashlib
    import json

    values = ["YA1234567", "passport", "ITA", "stolen", "create", "2026-11-20", "", "", "", "", "é"]
    expected = hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()
    assert alerts.content_hash({**ALERT_ITA, "national_reference": "é"}) == expected


@pytest.mark.parametrize("reference", ['"', "\\", "a\nb", "\x00\x1f\x7f", "\u2028", "😀", 'q"\\"', 7, None, ["x"]])
def test_the_content_hash_is_json_dumps_of_the_fields_whatever_they_hold(reference: object) -> None:
    import hashlib
    import json

    record = {**ALERT_ITA, "national_reference": reference}
    values = ["YA1234567", "passport", "ITA", "stolen", "create", "2026-11-20", "", "", "", "", reference]
    assert alerts.content_hash(record) == hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()


def test_a_batchs_alerts_are_kept_no_longer_than_ten_years_after_it_was_sent() -> None:
    created = "2026-11-20T10:00:00.000000Z"
    assert alerts.sent_bound(created) == "2036-11-20"
    assert alerts.sent_bound("2028-02-29T23:59:59Z") == "2038-02-28"
    late = {**ALERT_ITA, "review_date": "2040-01-01"}
    assert alerts.alert_kept_until(late, created) == "2036-11-20"
    assert alerts.alert_kept_until({**ALERT_ITA, "review_date": "2030-01-01"}, created) == "2030-01-01"
    assert alerts.batch_kept_until(created, {"alerts": [ALERT_ITA, late]}) == "2036-11-20"
    assert alerts.batch_kept_until(created, {"alerts": [{**ALERT_ITA, "reported": "2020-01-01"}]}) == "2030-01-01"


# -- the merge rule's edges ---------------------------------------------------------------------

def v(key: str, action: str) -> AlertVersion:
    return AlertVersion(key, action, f"{action}@{key}")


def test_an_update_of_an_unknown_alert_stands_and_shows() -> None:
    entry = merge(None, v("k5", "update"))
    assert entry == ReplicaEntry(None, False, "k5", "update@k5") and entry.active


def test_updates_apply_only_when_newer_than_both_the_lifecycle_and_the_last_update() -> None:
    created = merge(None, v("k5", "create"))
    assert created == ReplicaEntry("k5", False, None, "create@k5")
    assert merge(created, v("k5", "update")) is None and merge(created, v("k4", "update")) is None
    updated = merge(created, v("k7", "update"))
    assert updated == ReplicaEntry("k5", False, "k7", "update@k7")
    assert merge(updated, v("k7", "update")) is None and merge(updated, v("k6", "update")) is None
    assert merge(updated, v("k8", "update")) == ReplicaEntry("k5", False, "k8", "update@k8")


def test_a_lifecycle_version_replaces_older_ones_and_keeps_a_newer_pending_update() -> None:
    pending = merge(None, v("k7", "update"))
    assert merge(pending, v("k5", "withdraw")) == ReplicaEntry("k5", True, "k7", "update@k7")
    assert merge(pending, v("k8", "create")) == ReplicaEntry("k8", False, None, "create@k8")
    withdrawn = merge(None, v("k5", "withdraw"))
    assert not withdrawn.active
    assert merge(withdrawn, v("k5", "withdraw")) is None and merge(withdrawn, v("k3", "create")) is None
    assert merge(withdrawn, v("k6", "create")) == ReplicaEntry("k6", False, None, "create@k6")
    assert merge(withdrawn, v("k6", "update")) == ReplicaEntry("k5", True, "k6", "update@k6")
