"""Which language a console answers in, and the locale filters its templates use (nodes/plumbing/i18n.py)."""

from __future__ import annotations

import jinja2
import pytest

from nodes.plumbing import i18n
from nodes.plumbing.console import _page_to_return_to


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "en"),
    (None, "fr-CA,fr;q=0.9,en;q=0.8", "fr"),
    (None, "de-DE,de;q=0.9,es;q=0.5", "es"),  # the first supported one, by quality
    (None, "en;q=0.2, zh-Hant-TW;q=0.9", "zh"),
    (None, "ar;q=0, ru", "ru"),  # q=0 means "not this one"
    (None, "*", "en"),
    (None, "xx;q=banana, ar", "ar"),  # a malformed quality counts as 0, not a crash
    ("ar", "fr", "ar"),  # the person's choice beats the browser's default
    ("de", "ru", "ru"),  # a cookie naming no console language is ignored
    ("../../../etc/passwd", None, "en"),  # nor is one naming a path: only the six codes reach the catalogs
])
def test_the_console_language_is_the_choice_then_the_browser_then_english(cookie, header, expected):
    assert i18n.negotiate(cookie, header) == expected


def test_arabic_alone_is_right_to_left():
    assert [lang for lang in i18n.LANGUAGES if i18n.direction(lang) == "rtl"] == ["ar"]


def _render(lang: str, source: str, **context) -> str:
    env = i18n.environment(jinja2.DictLoader({"t": source}), lang)
    return env.get_template("t").render(**context)


def test_codes_read_in_the_readers_language_and_unknown_codes_as_themselves():
    source = '{{ "extradition" | label("mla_kind") }}|{{ ["untoc_article_18"] | labels("legal_basis") }}|' \
             '{{ "no_such_code" | label("mla_kind") }}'
    assert _render("es", source) == "extradición|UNTOC, artículo 18 (asistencia judicial recíproca)|no_such_code"
    assert _render("ar", source).startswith("تسليم المطلوبين|")
    assert _render("en", source) == "extradition|UNTOC, article 18 (mutual legal assistance)|no_such_code"


def test_a_list_of_codes_is_joined_the_way_the_language_joins_lists():
    source = '{{ ["evidence_taking", "freezing", "confiscation"] | labels("measure") }}'
    assert _render("en", source) == "taking evidence or statements, freezing and confiscation"
    assert _render("ar", source) == "الحصول على أدلة أو أقوال والتجميد والمصادرة"
    assert _render("zh", source) == "获取证据或陈述、冻结和没收"


def test_a_code_a_peer_sent_is_looked_up_in_our_catalog_and_escaped_if_unknown():
    """A hostile member State controls the codes in its messages, never the words: an unknown
    code is shown as itself, autoescaped like any other value."""
    shown = _render("fr", '{{ code | label("mla_kind") }}', code='<img src=x onerror="alert(1)">')
    assert shown == "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


def test_dates_and_numbers_follow_the_locale():
    source = '{{ "2026-11-23T17:55:23Z" | when }}|{{ "2026-12-01" | day }}|{{ 1234567 | number }}|{{ 1536 | size }}'
    assert _render("es", source) == ('<time datetime="2026-11-23T17:55:23Z" title="2026-11-23T17:55:23Z">'
                                     '23 nov 2026, 17:55 UTC</time>|<time datetime="2026-12-01">1 dic 2026</time>|'
                                     '1.234.567|1,5\u00a0KiB')
    assert "23 Nov 2026, 17:55 UTC" in _render("en", source)  # the UN's English: day month year, 24 hours
    assert "2026年11月23日 17:55 UTC" in _render("zh", source)
    assert _render("fr", "{{ 5 | size }}") == "5 octets"


def test_a_value_that_is_not_a_time_is_shown_as_it_is_escaped():
    assert _render("fr", '{{ "<b>soon</b>" | when }}') == "&lt;b&gt;soon&lt;/b&gt;"


def test_words_a_handler_chose_are_never_percent_formatted():
    """A heading or error detail may quote the visitor's input: "100%" or "%(x)s" must come out as
    they went in, not raise (gettext's newstyle formatting applies to `_()` calls only)."""
    assert _render("fr", "{{ detail | say }}", detail="'100%' is not an entry number; %(x)s") == \
        "&#39;100%&#39; is not an entry number; %(x)s"
    assert _render("fr", "{{ heading | say }}", heading="Audit log") == "Journal d&#39;audit"


def test_words_with_values_are_translated_then_filled_and_escaped():
    """i18n.words: the msgid is catalogued, the values (the visitor's input too) are put in after
    translation, as they are, and escaped on output."""
    said = i18n.words("%(value)s is not an entry number.", value="'1%(x)s<b>'")
    assert _render("fr", "{{ detail | say }}", detail=said) == "&#39;1%(x)s&lt;b&gt;&#39; n&#39;est pas un numéro d&#39;entrée."
    assert _render("zh", "{{ heading | say }}", heading=i18n.words("Entry %(seq)s", seq=7)) == "条目 7"


def test_free_text_is_shown_as_written_and_marked_with_its_language_or_its_absence():
    source = '{% import "console/fields.html" as f %}{{ f.free_text(text, lang) }}'
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"t": source}),
                                  jinja2.FileSystemLoader(str(i18n.LOCALE_DIR.parent / "templates"))])
    env = i18n.environment(loader, "ar")
    stated = env.get_template("t").render(text="Solicitamos registros bancarios", lang="es")
    assert 'lang="es"' in stated and "Solicitamos registros bancarios" in stated and "الإسبانية" in stated
    unstated = env.get_template("t").render(text="Solicitamos registros bancarios", lang=None)
    assert "اللغة غير مذكورة" in unstated and 'data-language=""' in unstated


@pytest.mark.parametrize(("back", "expected"), [
    ("/console/mla/abc?partial=1", "/console/mla/abc?partial=1"),
    ("/console/login", "/console/login"),
    ("/console/login?next=/console/mla", "/console/login?next=%2Fconsole%2Fmla"),
    ("/console/login?next=//evil.example", "/console/login"),  # the inner next is checked too
    ("https://evil.example/console/", None),
    ("/console/%0d%0aX-Injected:1", None),
    (None, None),
])
def test_the_language_selector_returns_only_to_a_page_of_this_console(back, expected):
    assert _page_to_return_to(back) == expected


def test_a_refusal_reads_by_its_code_and_keeps_the_apis_english_detail():
    source = '{% import "console/reasons.html" as r %}{{ r.refusal(text) }}'
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"t": source}),
                                  jinja2.FileSystemLoader(str(i18n.LOCALE_DIR.parent / "templates"))])
    template = i18n.environment(loader, "es").get_template("t")
    assert template.render(text="urgency_without_reason: say why it is urgent") == \
        'urgente sin motivo · <span lang="en"><code>urgency_without_reason</code>: say why it is urgent</span>'
    # Words that do not start with a reason code are shown as they came (escaped).
    assert template.render(text="since: a date like 2026-11-23 <b>") == \
        '<span lang="en">since: a date like 2026-11-23 &lt;b&gt;</span>'
