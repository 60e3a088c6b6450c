"""protocol/person.py: the `person.alert` body rule and its issuer-only policy."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import person
from protocol.errors import DecodeError, PolicyError


def _alert(**changes) -> dict:  # noqa: ANN003
    record = {
        "action": "create", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-03-01",
        "subject": {
            "family_name": person.name_entry("Παπαδόπουλος", language="el"),
            "given_names": person.name_entry("Σωκράτης", language="el"),
            "date_of_birth": "1974-08", "nationality": "GRC", "sex": "M",
        },
        "basis": "suspected", "legal_basis": "Law 4251/2014 art. 29", "handling_code": "H2", "recipients": "all",
    }
    record.update(changes)
    return record


def _with(path: str, value: object, record: dict | None = None) -> dict:
    out = copy.deepcopy(record or _alert())
    *parents, last = path.split(".")
    target = out
    for name in parents:
        target = target[name]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return out


_DELETE = object()


def _problem(record: object) -> tuple[str, str]:
    problem = person.person_alert_problem(record)
    assert problem is not None
    return problem.field, problem.reason


def test_a_complete_alert_passes_and_carries_the_icao_latin() -> None:
    record = _alert()
    assert person.person_alert_problem(record) is None
    assert record["subject"]["family_name"] == {"text": "Παπαδόπουλος", "script": "Grek", "latin": "PAPADOPOULOS",
                                                "language": "el"}
    person.PERSON_ALERT.check(record, "$", "bad_body")


@pytest.mark.parametrize("basis", person.BASES)
def test_every_basis_and_partial_birth_dates(basis: str) -> None:
    for dob in ("1974", "1974-08", "1974-08-12"):
        assert person.person_alert_problem(_with("subject.date_of_birth", dob, _alert(basis=basis))) is None


def test_han_name_carries_the_latin_printed_in_the_document() -> None:
    record = _with("subject.family_name", {"text": "王", "script": "Hani", "language": "zh-Hans", "latin": "WANG"})
    assert person.person_alert_problem(record) is None


def test_a_withdrawal_is_short() -> None:
    withdraw = {"action": "withdraw", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-05-01",
                "reason": "acquitted"}
    assert person.person_alert_problem(withdraw) is None
    assert _problem({**withdraw, "subject": {}}) == ("subject", "unknown_field")


def test_a_smuggled_migrant_is_never_the_subject() -> None:
    record = _with("subject.smuggled_migrant", True)
    assert _problem(record) == ("subject.smuggled_migrant", "smuggled_migrant_as_subject")
    with pytest.raises(DecodeError) as caught:
        person.PERSON_ALERT.check(record, "$", "bad_body")
    assert caught.value.reason == "smuggled_migrant_as_subject"
    assert person.person_alert_problem(_with("subject.smuggled_migrant", False)) is None
    assert _problem(_with("subject.smuggled_migrant", 1)) == ("subject.smuggled_migrant", "bad_field")


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("subject.family_name.latin", "PAPADOPOULOU", ("subject.family_name.latin", "latin_mismatch")),
    ("subject.family_name.script", "Cyrl", ("subject.family_name.script", "script_mismatch")),
    ("subject.family_name.latin", "Papadopoulos", ("subject.family_name.latin", "bad_field")),
    ("subject.family_name.text", "Π" * 201, ("subject.family_name.text", "field_too_long")),
    ("subject.family_name.text", "Παπα\u202eδόπουλος", ("subject.family_name.text", "bad_field")),
    ("subject.family_name.text", "   ", ("subject.family_name.text", "bad_field")),
    ("subject.family_name.language", "Greek!", ("subject.family_name.language", "bad_field")),
    ("subject.family_name.nickname", "x", ("subject.family_name.nickname", "unknown_field")),
    ("subject.family_name", _DELETE, ("subject.family_name", "missing_field")),
    ("subject.date_of_birth", "1974-13", ("subject.date_of_birth", "bad_field")),
    ("subject.date_of_birth", "1974-02-30", ("subject.date_of_birth", "bad_field")),
    ("subject.date_of_birth", "2027", ("subject.date_of_birth", "bad_field")),
    ("subject.date_of_birth", "74-08-12", ("subject.date_of_birth", "bad_field")),
    ("subject.nationality", "GR", ("subject.nationality", "bad_field")),
    ("subject.sex", "male", ("subject.sex", "bad_field")),
    ("subject.eye_colour", "brown", ("subject.eye_colour", "unknown_field")),
    ("basis", "rumoured", ("basis", "bad_field")),
    ("basis", ["suspected"], ("basis", "bad_field")),
    ("handling_code", "H4", ("handling_code", "bad_field")),
    ("legal_basis", "x" * 501, ("legal_basis", "field_too_long")),
    ("legal_basis", _DELETE, ("legal_basis", "missing_field")),
    ("national_reference", "GR 17", ("national_reference", "bad_field")),
    ("issuer", "Greece", ("issuer", "field_too_long")),
    ("reported", "2026-02-30", ("reported", "bad_field")),
    ("recipients", ["ITA", "ITA"], ("recipients", "bad_recipients")),
    ("recipients", ["ITA", "GRC"], ("recipients", "bad_recipients")),
    ("recipients", ["it"], ("recipients[0]", "bad_field")),
    ("recipients", [], ("recipients", "bad_field")),
    ("review_date", "2031-03-02", ("review_date", "review_too_late")),
    ("review_date", "2026-03-01", ("review_date", "review_too_late")),
    ("review_date", "2028-02-30", ("review_date", "bad_field")),
    ("action", "delete", ("action", "bad_field")),
    ("action", _DELETE, ("action", "missing_field")),
])
def test_each_fault_is_named_with_its_reason(path: str, value: object, expected: tuple[str, str]) -> None:
    assert _problem(_with(path, value)) == expected


def test_name_in_a_script_without_a_table_and_a_digit_is_untransliterable() -> None:
    record = _with("subject.family_name", {"text": "Иван3", "script": "Cyrl", "latin": "IVAN"})
    assert _problem(record) == ("subject.family_name.text", "untransliterable")


def test_not_an_object_is_refused() -> None:
    assert _problem([]) == ("$", "bad_field")
    assert _problem(_with("subject", "Papadopoulos")) == ("subject", "bad_field")


def test_review_date_defaults_to_three_years_and_may_be_five() -> None:
    assert person.review_date(_alert()) == "2029-03-01"
    assert person.review_date(_alert(reported="2024-02-29")) == "2027-02-28"
    assert person.person_alert_problem(_alert(review_date="2031-03-01")) is None


def test_only_the_issuer_sends_its_alert() -> None:
    person.only_the_issuer_alerts(SimpleNamespace(sender="GRC"), _alert())
    with pytest.raises(PolicyError) as caught:
        person.only_the_issuer_alerts(SimpleNamespace(sender="ITA"), _alert())
    assert caught.value.reason == "not_issuer"


def test_the_envelope_goes_where_the_issuer_chose() -> None:
    person.addressed_as_the_body_says(SimpleNamespace(recipients=("*",)), _alert())
    person.addressed_as_the_body_says(SimpleNamespace(recipients=("MLT", "ITA")), _alert(recipients=["ITA", "MLT"]))
    with pytest.raises(PolicyError):
        person.addressed_as_the_body_says(SimpleNamespace(recipients=("ITA",)), _alert())
    with pytest.raises(PolicyError):
        person.addressed_as_the_body_says(SimpleNamespace(recipients=("*",)), _alert(recipients=["ITA"]))


def test_alert_key_is_issuer_and_reference() -> None:
    assert person.alert_key(_alert()) == ("GRC", "GR-2026/17")


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["subject", "subject.family_name", "subject.family_name.text", "recipients", "reported",
                        "subject.date_of_birth", "review_date", "action", "basis"]), _JSON)
def test_any_value_anywhere_is_accepted_or_refused_with_a_reason(path: str, value: object) -> None:
    problem = person.person_alert_problem(_with(path, value))
    assert problem is None or (problem.reason and problem.field)
