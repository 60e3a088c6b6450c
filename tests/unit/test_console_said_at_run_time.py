"""What the national console says about values known only at run time (issue 17: every word in
the reader's language): the flash after a case action and the H3 condition notice. The words are catalogued; the values (codes, countries, the provider's condition) are put in."""

from __future__ import annotations

import pytest

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
