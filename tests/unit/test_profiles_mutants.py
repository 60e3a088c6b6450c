"""protocol/profiles.py (issue 24): the words and bounds of each refusal a publisher, a receiving node
or a focal point composing a request reads: the reason code, the field named, the values quoted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from protocol import profiles
from protocol.errors import PolicyError


def profile(**extra) -> dict:  # noqa: ANN003
    return {"country": "MEX", "serial": 3, "languages": ["es", "en"], "convention_basis_for_extradition": False,
            "mla_authority": {"name": "Fiscalía General de la República", "contact": "mla@fgr.example"},
            "extradition_authority": {"name": "Secretaría de Relaciones Exteriores", "contact": "ext@sre.example"},
            **extra}


def published(sender: str = "MEX", recipients: tuple = ("*",)) -> SimpleNamespace:
    return SimpleNamespace(sender=sender, recipients=recipients)


def refusal(check, *args) -> PolicyError:  # noqa: ANN001, ANN002
    with pytest.raises(PolicyError) as caught:
        check(*args)
    return caught.value


def test_an_unknown_language_is_named_by_its_place_and_its_first_eight_characters() -> None:
    err = refusal(profiles.check_languages, ["es", "klingonese"], "language")
    assert (err.reason, err.detail) == ("unknown_language",
                                        "language[1]: 'klingone' is not an ISO 639-1 language code")
    err = refusal(profiles.check_languages, ["xx", "es"])
    assert err.detail == "languages[0]: 'xx' is not an ISO 639-1 language code"  # the profile's field by default
    profiles.check_languages(["es", "en", "zh"])
    profiles.check_languages([])


def test_each_publication_refusal_says_what_to_do() -> None:
    err = refusal(profiles.publish_rule, published(sender="ITA"), profile())
    assert (err.reason, err.detail) == ("profile_not_own", "ITA cannot publish MEX's profile: a State publishes its "
                                                           "own profile, signed by its own node key")
    err = refusal(profiles.publish_rule, published(recipients=("ITA", "IDN")), profile())
    assert (err.reason, err.detail) == ("bad_recipients", "a profile goes to every member ('*')")
    err = refusal(profiles.publish_rule, published(), profile(languages=["es", "xx"]))
    assert (err.reason, err.detail) == ("unknown_language", "languages[1]: 'xx' is not an ISO 639-1 language code")
    err = refusal(profiles.publish_rule, published(), profile(languages=["en", "es", "en"]))
    assert (err.reason, err.detail) == ("bad_body", "a language is listed twice")


def test_languages_may_be_given_as_any_sequence() -> None:
    """The rule reads the languages as a sequence: a tuple is checked like a list."""
    profiles.publish_rule(published(), profile(languages=("es", "en")))
    err = refusal(profiles.publish_rule, published(), profile(languages=("es", "xx")))
    assert err.reason == "unknown_language"


def test_an_older_or_equal_serial_is_refused_naming_both_serials() -> None:
    err = refusal(profiles.check_serial, 7, 7)
    assert (err.reason, err.detail) == ("profile_serial_not_newer",
                                        "serial 7 is not newer than the profile in force (serial 7)")
    err = refusal(profiles.check_serial, 7, 2)
    assert err.detail == "serial 2 is not newer than the profile in force (serial 7)"
    profiles.check_serial(7, 8)
    profiles.check_serial(None, 1)


def request(**extra) -> dict:  # noqa: ANN003
    return {"requested": "MEX", "kind": "mutual_legal_assistance", "legal_basis": ["untoc_article_18"], **extra}


def test_a_language_not_accepted_names_the_state_its_languages_and_eight_characters_of_the_one_given() -> None:
    err = refusal(profiles.check_request, request(language="it"), profile())
    assert (err.reason, err.detail) == ("language_not_accepted", "MEX accepts requests in es, en, not 'it'")
    err = refusal(profiles.check_request, request(language="italianissimo"), profile(languages=["es"]))
    assert err.detail == "MEX accepts requests in es, not 'italiani'"
    assert profiles.check_request(request(), profile()) == []  # no language given: nothing to check
    assert profiles.check_request(request(language="en"), profile()) == []


def test_treaty_required_names_the_state_and_the_way_out() -> None:
    extradition = request(kind="extradition", legal_basis=["untoc_article_16", "smuggling_of_migrants_protocol"])
    err = refusal(profiles.check_request, extradition, profile())
    assert (err.reason, err.detail) == (
        "treaty_required", "MEX does not take the Convention as the legal basis for extradition (art. 16(5)): "
                           "name a treaty, or give a treaty_override reason, recorded in the request")
    every_convention_basis = ["untoc_article_16", "untoc_article_18", "smuggling_of_migrants_protocol"]
    for basis in (["untoc_article_18"], ["smuggling_of_migrants_protocol"], every_convention_basis):
        assert refusal(profiles.check_request, {**extradition, "legal_basis": basis}, profile()).reason == \
            "treaty_required"
    assert refusal(profiles.check_request, {**extradition, "treaty_override": None}, profile()).reason == \
        "treaty_required"


@pytest.mark.parametrize("basis", [None, []])
def test_an_extradition_that_names_no_legal_basis_is_not_refused_as_convention_only(basis: list | None) -> None:
    """No basis is not "the Convention alone": the request's schema refuses a missing basis, not this check."""
    extradition = request(kind="extradition", legal_basis=basis)
    assert profiles.check_request(extradition, profile()) == []


def test_reciprocity_or_a_treaty_is_not_the_convention() -> None:
    for basis in (["reciprocity"], ["bilateral_treaty"], ["untoc_article_16", "reciprocity"]):
        assert profiles.check_request(request(kind="extradition", legal_basis=basis), profile()) == []
    assert profiles.check_request(request(kind="transfer_of_proceedings", legal_basis=["untoc_article_16"]),
                                  profile()) == []
