"""Issue 24 (mut24): protocol/person.py's boundaries, its issuer-only rule as the catalog runs it, and
the words a focal point reads when an alert is refused (each asserted whole)."""

from __future__ import annotations

import copy
import itertools
import string
from types import SimpleNamespace

import pytest

from protocol import person
from protocol.errors import DecodeError, FieldProblem, PolicyError


def _alert(**changes) -> dict:  # noqa: ANN003
    record = {
        "action": "create", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-03-01",
        "subject": {"family_name": {"text": "Papadopoulos", "script": "Latn", "latin": "PAPADOPOULOS"},
                    "date_of_birth": "1974-08", "nationality": "GRC", "sex": "M"},
        "basis": "suspected", "legal_basis": "Law 4251/2014 art. 29", "handling_code": "H2", "recipients": "all",
    }
    record.update(changes)
    return record


def _subject(**changes) -> dict:  # noqa: ANN003
    record = _alert()
    record["subject"] = {**record["subject"], **changes}
    return record


def _name(**changes) -> dict:  # noqa: ANN003
    return _subject(family_name={"text": "Papadopoulos", "script": "Latn", "latin": "PAPADOPOULOS", **changes})


WITHDRAWAL = {"action": "withdraw", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-03-01"}
CODES = ["".join(c) for c in itertools.product(string.ascii_uppercase, repeat=3) if "".join(c) != "GRC"]


@pytest.mark.parametrize(("record", "expected"), [
    ([], ("$", "bad_field", "a person alert is a JSON object")),
    ({"issuer": "GRC"}, ("action", "missing_field", "required")),
    (_alert(action="delete"), ("action", "bad_field", "one of create, update, withdraw")),
    (_alert(subject=5), ("subject", "bad_field", "expected an object")),
    (_subject(**{"x" * 70: 1}), ("subject." + "x" * 64, "unknown_field", "not a field of a person alert")),
    ({k: v for k, v in _alert().items() if k != "basis"}, ("basis", "missing_field", "required")),
    (_alert(legal_basis=" "), ("legal_basis", "bad_field", "a non-empty string")),
    (_alert(legal_basis="x" * 501), ("legal_basis", "field_too_long", "at most 500 characters, not 501")),
    (_alert(issuer="grc"), ("issuer", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    (_subject(date_of_birth="1974/08"), ("subject.date_of_birth", "bad_field", "YYYY, YYYY-MM or YYYY-MM-DD")),
    (_subject(date_of_birth="1974-13"), ("subject.date_of_birth", "bad_field", "no month 13")),
    (_subject(date_of_birth="1974-02-30"), ("subject.date_of_birth", "bad_field", "no such day 1974-02-30")),
    (_subject(date_of_birth="1879"), ("subject.date_of_birth", "bad_field", "a birth date between 1880 and the alert's date")),
    (_subject(date_of_birth="2026-03-02"), ("subject.date_of_birth", "bad_field", "a birth date between 1880 and the alert's date")),
    (_subject(smuggled_migrant="no"), ("subject.smuggled_migrant", "bad_field", "expected true or false")),
    (_subject(smuggled_migrant=True), ("subject.smuggled_migrant", "smuggled_migrant_as_subject",
                                       "a smuggled migrant is never the subject of a person alert (Protocol article 5)")),
    (_subject(nationality="Grc"), ("subject.nationality", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    (_subject(sex="U"), ("subject.sex", "bad_field", "one of M, F, X")),
    (_subject(given_names={"text": "Sokratis", "script": "Latn", "latin": "SOCRATES"}),
     ("subject.given_names.latin", "latin_mismatch", "ICAO 9303 transliteration of the name is 'SOKRATIS'")),
    (_name(script="latn"), ("subject.family_name.script", "bad_field", "an ISO 15924 code (Cyrl)")),
    (_name(script="Latin"), ("subject.family_name.script", "field_too_long", "at most 4 characters, not 5")),
    (_name(script="Cyrl"), ("subject.family_name.script", "script_mismatch", "the name is written in Latn, not Cyrl")),
    (_name(latin="PAPADOPOULOS  X"), ("subject.family_name.latin", "bad_field",
                                      "MRZ Latin: A-Z, name parts separated by one space")),
    (_name(language="EL"), ("subject.family_name.language", "bad_field", "a BCP 47 tag (ru, uk, zh-Hans)")),
    (_name(language="el-" + "x" * 33), ("subject.family_name.language", "field_too_long", "at most 35 characters, not 36")),
    (_name(text="Papadopoulos3"), ("subject.family_name.text", "untransliterable",
                                   "'3' (U+0033) has no ICAO transliteration: give the Latin form printed in the document")),
    (_alert(issuer="GRCX"), ("issuer", "field_too_long", "at most 3 characters, not 4")),
    (_alert(national_reference="GR 2026"), ("national_reference", "bad_field", "letters, digits and . _ / -")),
    (_alert(reported="2026-3-1"), ("reported", "bad_field", "a date YYYY-MM-DD")),
    (_alert(basis="accused"), ("basis", "bad_field", "one of convicted, suspected, wanted_for_extradition")),
    (_alert(handling_code="H9"), ("handling_code", "bad_field", "one of H0, H1, H2, H3")),
    (_alert(review_date="2027/01/01"), ("review_date", "bad_field", "a date YYYY-MM-DD")),
    (_alert(review_date="2031-03-02"), ("review_date", "review_too_late",
                                        "after the alert's date and at most 5 years after it (2031-03-01)")),
    (dict(WITHDRAWAL, reason=" "), ("reason", "bad_field", "a non-empty string")),
    (_alert(recipients=[]), ("recipients", "bad_field", '"all", or a list of 1..250 countries')),
    (_alert(recipients=CODES[:251]), ("recipients", "bad_field", '"all", or a list of 1..250 countries')),
    (_alert(recipients=["ITA", "it"]), ("recipients[1]", "bad_field", "ISO 3166-1 alpha-3, upper case")),
    (_alert(recipients=["ITA", "ITA"]), ("recipients", "bad_recipients", "a country twice, or the issuer itself")),
])
def test_each_fault_is_named_whole(record: object, expected: tuple[str, str, str]) -> None:
    assert person.person_alert_problem(record) == FieldProblem(*expected)


@pytest.mark.parametrize("char", ["\x07", "\u200b", "\ud800", "\ue000", "\u0378"])  # Cc, Cf, Cs, Co, Cn
def test_control_format_surrogate_private_and_unassigned_characters_are_refused(char: str) -> None:
    assert person.person_alert_problem(_alert(legal_basis=f"Law{char}4251")) == FieldProblem(
        "legal_basis", "bad_field", "control, format or unassigned characters")


@pytest.mark.parametrize("record", [
    _subject(date_of_birth="1880"), _subject(date_of_birth="1974-01"), _subject(date_of_birth="1974-12"),
    _subject(date_of_birth="2026-03-01"), _subject(date_of_birth="2026-03"), _alert(recipients=CODES[:250]),
    WITHDRAWAL, dict(WITHDRAWAL, reason="sentence served"),
    _name(language="el-aaaaaaaa-bbbbbbbb-cccccccc-ddddd"),  # 35 characters
    _subject(given_names={"text": "Григорій", "script": "Cyrl", "latin": "HRYHORII", "language": "uk"}),
])
def test_values_at_the_boundaries_pass(record: dict) -> None:
    assert person.person_alert_problem(record) is None


def test_the_body_check_names_the_path_of_the_fault() -> None:
    with pytest.raises(DecodeError) as caught:
        person.PERSON_ALERT.check(_subject(sex="U"), "$", "bad_body")
    assert (caught.value.reason, caught.value.detail) == ("bad_field", "$.subject.sex: one of M, F, X")
    with pytest.raises(DecodeError) as caught:
        person.PERSON_ALERT.check([], "$", "bad_body")
    assert (caught.value.reason, caught.value.detail) == ("bad_field", "$: a person alert is a JSON object")


def test_name_entry_transliterates_in_the_language_given() -> None:
    assert person.name_entry("Григорій", language="uk") == {"text": "Григорій", "script": "Cyrl",
                                                             "latin": "HRYHORII", "language": "uk"}


def test_review_dates_on_29_february_and_the_alerts_own() -> None:
    assert person.latest_review_date("2024-02-29") == "2029-02-28"
    assert person.latest_review_date("2020-02-29") == "2025-02-28"
    assert person.review_date(_alert(review_date="2027-01-01")) == "2027-01-01"


@pytest.mark.parametrize(("reported", "years", "review"), [
    ("2024-02-29", 4, "2028-02-29"),  # a leap year four years on keeps 29 February
    ("2024-02-29", 1, "2025-02-28"),
    ("2096-02-29", 4, "2100-02-28"),  # a century is a common year ...
    ("2396-02-29", 4, "2400-02-29"),  # ... unless it divides by 400
    ("2024-03-01", 4, "2028-03-01"),
])
def test_an_issuers_own_review_default_follows_the_gregorian_calendar(reported: str, years: int, review: str) -> None:
    # issuing.issue states the country's own default (review_default_years, 1..5) in the alert: 4 years
    # after a 29 February is a 29 February again, and every recipient checks the date it gets.
    assert person.review_date_after(reported, years) == review


def test_a_withdrawal_is_kept_as_long_as_the_alert_it_ends_could_be() -> None:
    withdrawal = {"action": "withdraw", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-03-01"}
    assert person.person_alert_kept_until("2026-03-01T10:00:00.000000Z", withdrawal) == "2031-03-01"
    assert person.person_alert_kept_until("2026-03-01T10:00:00.000000Z", _alert()) == "2029-03-01"


# -- the rules the catalog runs --------------------------------------------------------------------

def test_the_alert_rule_refuses_another_countrys_alert_saying_whose_it_is() -> None:
    assert person.MESSAGE_CLASS.types[0].body_rule is person.person_alert_rule
    person.person_alert_rule(SimpleNamespace(sender="GRC", recipients=("*",)), _alert())
    with pytest.raises(PolicyError) as caught:
        person.person_alert_rule(SimpleNamespace(sender="ITA", recipients=("*",)), _alert())
    assert (caught.value.reason, caught.value.detail) == ("not_issuer",
                                                          "ITA may not send a person alert issued by GRC")


def test_the_alert_rule_refuses_other_recipients_than_the_body_names() -> None:
    with pytest.raises(PolicyError) as caught:
        person.person_alert_rule(SimpleNamespace(sender="GRC", recipients=("ITA",)), _alert())
    assert (caught.value.reason, caught.value.detail) == (
        "bad_recipients", "the envelope's recipients differ from the alert's recipients")
    withdrawal = {"action": "withdraw", "issuer": "GRC", "national_reference": "GR-2026/17", "reported": "2026-03-01"}
    person.person_alert_rule(SimpleNamespace(sender="GRC", recipients=("ITA",)), withdrawal)


def test_a_hit_told_to_anyone_but_the_issuer_is_refused_saying_why() -> None:
    hit = {"issuer": "GRC"}
    person.hits_go_to_the_issuer(SimpleNamespace(recipients=("GRC",)), hit)
    with pytest.raises(PolicyError) as caught:
        person.hits_go_to_the_issuer(SimpleNamespace(recipients=("GRC", "ITA")), hit)
    assert (caught.value.reason, caught.value.detail) == (
        "hit_not_to_issuer", "a person hit is reported to the issuing country alone")


def test_a_copy_is_not_changed_by_the_check() -> None:
    record = _alert()
    before = copy.deepcopy(record)
    person.person_alert_problem(record)
    assert record == before
