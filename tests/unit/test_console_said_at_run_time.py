"""What the national console says about values known only at run time (issue 17: every word in
the reader's language): the flash after a case action, the H3 condition notice, a filter the
inbox cannot take. The words are catalogued; the values (codes, countries, the provider's condition) are put in."""

from __future__ import annotations

import jinja2
import pytest

from nodes.national.console_messages import FilterError, parse_day
from nodes.plumbing import i18n
from protocol.cases import handling_notices
from tests.support.console_render import render_node_template


def _flash(lang: str, ok: str, **done: str) -> str:
    return render_node_template("node/case_flash.html", lang, macro="done_flash", args=(ok, done), text=True)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "shared with IDN, ITA under H2"),
    ("fr", "partagée avec IDN, ITA sous H2"),
    ("zh", "已按 H2 共享给 IDN, ITA"),
])
def test_a_case_action_is_said_in_the_readers_language(lang, expected):
    assert _flash(lang, "shared", to="IDN, ITA", code="H2") == expected


def test_every_case_action_code_has_its_words_and_an_unknown_one_is_shown_as_it_came():
    assert _flash("es", "permitted", recipient="IDN", to="ITA") == "IDN puede transmitir el caso a ITA"
    assert _flash("ru", "withdrawn", to="IDN") == "отозвано у IDN: они удаляют свои копии"
    for code in ("case_recorded", "information_added", "jit_opened", "jit_sent"):
        assert _flash("ar", code) != code
    html = render_node_template("node/case_flash.html", "fr", macro="done_flash", args=("<b>done</b>", {}))
    assert '<span lang="en">&lt;b&gt;done&lt;/b&gt;</span>' in html


@pytest.mark.parametrize(("lang", "label"), [("en", "Provider's condition:"), ("fr", "Condition du fournisseur :"),
                                             ("ar", "شرط المزوّد:")])
def test_the_providers_condition_is_labelled_in_the_readers_language_and_shown_as_written(lang, label):
    notices = handling_notices({"code": "H3", "retention_days": 5, "condition": "nicht für <Asyl>"})
    html = render_node_template("node/notices.html", lang, macro="notices", args=(notices,))
    assert html == f'<p class="notice">{label} <bdi dir="auto" class="condition">nicht für &lt;Asyl&gt;</bdi></p>'
    rule = render_node_template("node/notices.html", "fr", macro="notices",
                                args=(handling_notices({"code": "H1", "retention_days": 5}),), text=True)
    assert rule == "Ne pas utiliser dans une procédure judiciaire sans l'autorisation du fournisseur."


def test_a_filter_the_inbox_cannot_take_is_explained_in_the_readers_language():
    """nodes/national/console_messages.py: the English stays the error's str(); the page says it
    in the reader's language with the value as typed."""
    with pytest.raises(FilterError) as caught:
        parse_day("23.11.2026", "until")
    assert str(caught.value) == "until: a date like 2026-11-23 (year-month-day), not '23.11.2026'"
    page = i18n.environment(jinja2.DictLoader({"t": "{{ error | say }}"}), "fr").get_template("t")
    said = page.render(error=caught.value.said)
    assert said == "until : une date comme 2026-11-23 (année-mois-jour), et non &#39;23.11.2026&#39;"
