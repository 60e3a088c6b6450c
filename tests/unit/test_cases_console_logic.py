"""The case pages' own decisions: the share form's arguments under the handling-code rules, the
add-information form, refusals explained, and the lines of a case's sharing history."""

from __future__ import annotations

import pytest

from nodes.national.features.cases.console import (
    FormError, Share, addition_from_form, case_from_form, refusal, share_arguments,
)
from protocol.cases import CASE
from tests.support.console_render import render_node_template

OWN = {"reference": "MEX-1", "handling": None}
RECEIVED_H2 = {"reference": "MEX-1", "handling": {"code": "H2", "retention_days": 30}}
RECEIVED_H3 = {"reference": "MEX-1", "handling": {"code": "H3", "retention_days": 30, "condition": "no asylum use"}}


def test_our_own_case_is_shared_under_the_handling_the_focal_point_chooses() -> None:
    assert share_arguments(OWN, ["IDN", ""], "", "H3", "90", " not for immigration ", False) == Share(
        ["IDN"], {"code": "H3", "retention_days": 90, "condition": "not for immigration"}, None)
    assert share_arguments(OWN, [], "jit:x", "H0", "1", "", False) == Share(
        None, {"code": "H0", "retention_days": 1}, "jit:x")


@pytest.mark.parametrize(("code", "retention", "reason"), [
    ("", "90", "bad_handling"), ("H4", "90", "bad_handling"), ("H1", "", "retention_required"),
    ("H1", "ninety", "retention_required"),
    ("H1", "0", "retention_required"), ("H1", "36501", "retention_required")])
def test_a_bad_handling_is_refused_with_its_reason(code: str, retention: str, reason: str) -> None:
    with pytest.raises(FormError) as refused:
        share_arguments(OWN, ["IDN"], "", code, retention, "", False)
    assert refused.value.reason == reason


def test_a_share_needs_countries_or_a_joint_investigation_but_not_both() -> None:
    with pytest.raises(FormError, match="choose the countries") as refused:
        share_arguments(OWN, [], " ", "H0", "90", "", False)
    assert refused.value.reason == "no_recipients"
    with pytest.raises(FormError, match="not both"):
        share_arguments(OWN, ["IDN"], "jit:x", "H0", "90", "", False)


def test_a_received_case_keeps_the_providers_handling_whatever_the_form_says() -> None:
    assert share_arguments(RECEIVED_H2, ["ITA"], "", "H0", "9999", "free", False) == Share(["ITA"], None, None)


def test_an_h3_onward_share_needs_the_focal_points_confirmation_of_the_condition() -> None:
    with pytest.raises(FormError, match="no asylum use") as refused:
        share_arguments(RECEIVED_H3, ["ITA"], "", "", "", "", False)
    assert refused.value.reason == "condition_not_confirmed"
    assert share_arguments(RECEIVED_H3, ["ITA"], "", "", "", "", True) == Share(["ITA"], None, None)


def test_a_new_case_from_the_form_is_a_valid_case_without_empty_fields() -> None:
    case = case_from_form({"reference": " MEX-7 ", "title": "", "summary": " boat ", "offence": ["6.1.a", "6.2.c"],
                           "source": "B", "information": "3"})
    assert case == {"reference": "MEX-7", "summary": "boat", "evaluation": {"source": "B", "information": 3},
                    "offences": [{"article": "6.1.a"}, {"article": "6.2.c"}]}
    CASE.check(case, "$", "bad_body")
    assert case_from_form({"information": "x"})["evaluation"] == {"source": "", "information": "x"}  # refused later


def test_the_addition_holds_only_what_was_filled_in() -> None:
    assert addition_from_form({"summary": " new ", "modus_operandi": "", "person_name": ""}) == {"summary": "new"}
    assert addition_from_form({"person_name": "ROSSI, Anna", "person_role": "victim", "person_legal_basis": "art 10",
                               "person_dob": "1990", "person_nationalities": "eri, ETH ,",
                               "person_smuggled_migrant": "1", "modus_operandi": "night crossing"}) == {
        "modus_operandi": ["night crossing"],
        "persons": [{"name": "ROSSI, Anna", "role": "victim", "legal_basis": "art 10", "date_of_birth": "1990",
                     "nationalities": ["ERI", "ETH"], "smuggled_migrant": True}]}
    with pytest.raises(FormError) as refused:
        addition_from_form({"summary": "  "})
    assert refused.value.reason == "nothing_to_add"


def _refusal_shown(text: str, lang: str) -> str:
    return render_node_template("node/case_flash.html", lang, macro="case_refusal", args=(text,), text=True)


def test_refusals_carry_their_reason_and_what_it_means() -> None:
    text = refusal("onward_transfer_not_permitted", "H2: no permission from the provider on file for ITA")
    assert text == "onward_transfer_not_permitted: H2: no permission from the provider on file for ITA"
    shown = _refusal_shown(text, "en")
    assert "onward_transfer_not_permitted: H2: no permission from the provider on file for ITA — " in shown
    assert "Ask the provider for permission" in shown
    assert refusal("something_new", "detail") == "something_new: detail"
    assert _refusal_shown("something_new: detail", "en") == "something_new: detail"


def test_what_a_refusal_means_reads_in_the_readers_language() -> None:
    shown = _refusal_shown(refusal("condition_required", "H3 needs a condition"), "es")
    assert shown.endswith("— H3 significa que el proveedor fija una condición: escríbala en el campo de condición.")
    assert "condition_required: H3 needs a condition" in shown


def describe(entry: dict, lang: str = "en") -> str:
    """The history line node/case_history.html writes for `entry`, as text (tags left out)."""
    return render_node_template("node/case_history.html", lang, macro="describe", args=(entry,), text=True, history=[])


def test_history_lines_say_who_did_what_under_which_terms() -> None:
    share = {"type": "case.share", "direction": "out", "sender": "MEX", "recipients": ["IDN", "ITA"],
             "thread": "case:MEX:MEX-1", "handling": {"code": "H3", "retention_days": 90, "condition": "c"},
             "permission": None}
    assert describe(share) == "MEX shared it with IDN, ITA (H3, 90 days, condition: c)"
    assert describe({**share, "thread": "jit:1", "handling": {"code": "H0", "retention_days": 5}}) == \
        "MEX shared it with IDN, ITA in a joint investigation (H0, 5 days)"
    permission = {"type": "case.permission", "direction": "in", "sender": "MEX", "recipients": ["IDN"],
                  "thread": "case:MEX:MEX-1", "handling": None,
                  "permission": {"reference": "MEX-1", "recipient": "IDN", "to": ["ITA"]}}
    assert describe(permission) == "MEX let IDN pass it on to ITA"
    withdrawal = {"type": "case.withdraw", "direction": "out", "sender": "MEX", "recipients": ["IDN"],
                  "thread": "case:MEX:MEX-1", "handling": None, "permission": None}
    assert describe(withdrawal) == "MEX withdrew it from IDN"
    assert describe({**withdrawal, "direction": "in"}) == "MEX withdrew it"


def test_history_lines_read_in_the_readers_language_with_the_condition_as_written() -> None:
    share = {"type": "case.share", "direction": "out", "sender": "MEX", "recipients": ["IDN"],
             "thread": "case:MEX:MEX-1", "handling": {"code": "H3", "retention_days": 1, "condition": "no <asylum> use"},
             "permission": None}
    assert describe(share, "fr") == "MEX l'a partagée avec IDN (H3, 1 jour, condition : no <asylum> use)"
    assert describe(share, "ru") == "MEX передал его IDN (H3, 1 день, условие: no <asylum> use)"
    html = render_node_template("node/case_history.html", "ar", macro="describe", args=(share,), history=[])
    assert '<bdi dir="auto">no &lt;asylum&gt; use</bdi>' in html and "شاركها MEX مع IDN" in html
