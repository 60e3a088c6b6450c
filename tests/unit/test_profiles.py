"""Competent-authority profiles and the templates per measure (issue 17 part 2), pure rules: a
profile is its own country's and names real languages; the newest serial wins; a request is checked
against the requested State's profile; each measure names the fields it needs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from protocol import mla, profiles
from protocol.errors import DecodeError, PolicyError
from protocol.schema import validate


def profile(**extra) -> dict:  # noqa: ANN003
    return {"country": "MEX", "serial": 3, "languages": ["es", "en"], "convention_basis_for_extradition": False,
            "mla_authority": {"name": "Fiscalía General de la República", "contact": "mla@fgr.example"},
            "extradition_authority": {"name": "Secretaría de Relaciones Exteriores", "contact": "ext@sre.example"},
            "urgent_channels": ["interpol"], **extra}


def published(sender: str = "MEX", recipients: tuple = ("*",)) -> SimpleNamespace:
    return SimpleNamespace(sender=sender, recipients=recipients)


def request(**extra) -> dict:  # noqa: ANN003
    return {"requested": "MEX", "kind": "mutual_legal_assistance", "legal_basis": ["untoc_article_18"],
            "language": "es", **extra}


def test_a_valid_profile_passes_its_schema_and_rule() -> None:
    validate(profiles.PROFILE, profile(), "bad_body")
    profiles.publish_rule(published(), profile())


def test_a_profile_signed_by_another_country_is_refused() -> None:
    with pytest.raises(PolicyError) as caught:
        profiles.publish_rule(published(sender="ITA"), profile())
    assert caught.value.reason == "profile_not_own"
    assert "ITA cannot publish MEX" in caught.value.detail


def test_a_profile_goes_to_every_member() -> None:
    with pytest.raises(PolicyError) as caught:
        profiles.publish_rule(published(recipients=("ITA",)), profile())
    assert caught.value.reason == "bad_recipients"


@pytest.mark.parametrize("code", ["xx", "qq", "zz"])
def test_an_unknown_language_code_is_refused_naming_it(code: str) -> None:
    with pytest.raises(PolicyError) as caught:
        profiles.publish_rule(published(), profile(languages=["es", code]))
    assert caught.value.reason == "unknown_language"
    assert f"languages[1]: '{code}'" in caught.value.detail


def test_language_codes_are_two_lowercase_letters_and_not_repeated() -> None:
    for bad in (["ES"], ["spa"], ["e"], []):
        with pytest.raises(DecodeError):
            validate(profiles.PROFILE, profile(languages=bad), "bad_body")
    with pytest.raises(PolicyError) as caught:
        profiles.publish_rule(published(), profile(languages=["es", "es"]))
    assert caught.value.reason == "bad_body"


def test_the_six_un_languages_and_others_are_iso_639_1() -> None:
    assert {"ar", "zh", "en", "fr", "ru", "es", "pt", "sw", "id"} <= profiles.LANGUAGES
    assert len(profiles.LANGUAGES) == 184 and all(len(c) == 2 for c in profiles.LANGUAGES)


@pytest.mark.parametrize(("current", "serial", "ok"), [(None, 1, True), (3, 4, True), (3, 3, False), (3, 2, False)])
def test_the_newest_serial_wins(current: int | None, serial: int, ok: bool) -> None:
    if ok:
        profiles.check_serial(current, serial)
    else:
        with pytest.raises(PolicyError) as caught:
            profiles.check_serial(current, serial)
        assert caught.value.reason == "profile_serial_not_newer"


def test_no_profile_allows_the_request_with_a_warning() -> None:
    assert profiles.check_request(request(language="it"), None) == ["no_profile"]


def test_a_language_the_requested_state_does_not_accept_is_refused_with_the_accepted_list() -> None:
    assert profiles.check_request(request(language="es"), profile()) == []
    with pytest.raises(PolicyError) as caught:
        profiles.check_request(request(language="it"), profile())
    assert caught.value.reason == "language_not_accepted"
    assert "es, en" in caught.value.detail


def test_extradition_on_the_convention_to_a_state_requiring_a_treaty_needs_an_override() -> None:
    extradition = request(kind="extradition", legal_basis=["untoc_article_16"])
    with pytest.raises(PolicyError) as caught:
        profiles.check_request(extradition, profile())
    assert caught.value.reason == "treaty_required"
    with pytest.raises(PolicyError):
        profiles.check_request({**extradition, "treaty_override": "   "}, profile())  # blank is no reason
    assert profiles.check_request({**extradition, "treaty_override": "urgent: the person leaves on Friday"},
                                  profile()) == []
    # A treaty named as a basis, a State that takes the Convention, or MLA: no override needed.
    assert profiles.check_request({**extradition, "legal_basis": ["untoc_article_16", "bilateral_treaty"]},
                                  profile()) == []
    assert profiles.check_request(extradition, profile(convention_basis_for_extradition=True)) == []
    assert profiles.check_request(request(legal_basis=["untoc_article_18"]), profile()) == []


# -- templates per measure ----------------------------------------------------------------------

def composed(measures: list[str], details: dict, **extra) -> dict:  # noqa: ANN003
    return {"measures": measures, "measure_details": details, "language": "en", **extra}


def test_every_measure_has_a_template_with_required_fields() -> None:
    assert set(mla.MEASURE_TEMPLATES) == set(mla.MEASURES)
    assert all(groups for groups, _ in mla.MEASURE_TEMPLATES.values())
    assert mla.MEASURE_TEMPLATES["asset_tracing"][0] == (("institution",), ("account", "holder"))
    assert mla.MEASURE_TEMPLATES["witness_hearing"][0] == (("person",), ("questions",))
    assert mla.MEASURE_TEMPLATES["search_and_seizure"][0] == (("place",), ("items",))
    assert mla.MEASURE_TEMPLATES["service_of_documents"][0] == (("addressee",),)


@pytest.mark.parametrize("measure", mla.MEASURES)
def test_a_measure_missing_a_required_field_is_refused_naming_it(measure: str) -> None:
    groups, _ = mla.MEASURE_TEMPLATES[measure]
    full = {name: "x" for group in groups for name in group[:1]}
    mla.check_composition(composed([measure], {measure: full}))
    validate(mla.MEASURE_DETAILS, {measure: full}, "bad_body")
    for group in groups:
        partial = {k: v for k, v in full.items() if k != group[0]}
        with pytest.raises(PolicyError) as caught:
            mla.check_composition(composed([measure], {measure: partial}))
        assert caught.value.reason == "measure_field_missing"
        assert f"{measure}: {' or '.join(group)} is required" in caught.value.detail


def test_asset_tracing_takes_the_account_or_the_holder() -> None:
    for either in ({"account": "MX-0042"}, {"holder": "R. Ficticio"}):
        mla.check_composition(composed(["asset_tracing"], {"asset_tracing": {"institution": "Banco", **either}}))
    with pytest.raises(PolicyError) as caught:
        mla.check_composition(composed(["asset_tracing"], {"asset_tracing": {"institution": "Banco",
                                                                             "account": "  "}}))
    assert "account or holder" in caught.value.detail


def test_composition_needs_a_known_language_and_no_details_for_measures_not_asked() -> None:
    details = {"surrender": {"person": "R. Ficticio", "warrant": "17/2026"}}
    with pytest.raises(PolicyError) as caught:
        mla.check_composition({"measures": ["surrender"], "measure_details": details})
    assert caught.value.reason == "bad_body" and "language" in caught.value.detail
    with pytest.raises(PolicyError) as caught:
        mla.check_composition(composed(["surrender"], details, language="xx"))
    assert caught.value.reason == "unknown_language"
    with pytest.raises(PolicyError) as caught:
        mla.check_composition(composed(["surrender"], {**details, "freezing": {"assets": "a"}}))
    assert caught.value.reason == "bad_body" and "freezing" in caught.value.detail
    with pytest.raises(DecodeError):  # a field the template does not have
        validate(mla.MEASURE_DETAILS, {"surrender": {"person": "x", "colour": "red"}}, "bad_body")


def test_a_request_of_the_previous_release_is_still_valid_on_the_wire() -> None:
    """No language, no measure_details: the receiver's schema takes it (the rule is at composition)."""
    old = {"reference": "ITA-1", "requesting": "ITA", "requested": "MEX", "kind": "mutual_legal_assistance",
           "legal_basis": ["untoc_article_18"], "offences": ["art6_1_a_smuggling"], "measures": ["witness_hearing"],
           "urgency": "routine", "summary": "s"}
    validate(mla.REQUEST, old, "bad_body")
    validate(mla.REQUEST, {**old, "language": "es", "treaty_override": "why",
                           "measure_details": {"witness_hearing": {"person": "p", "questions": "q"}}}, "bad_body")
