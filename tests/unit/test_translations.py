"""The six catalogs of the consoles (nodes/plumbing/locale): the message template is extracted
afresh from the sources (babel.cfg) in this test, and every catalog must translate every msgid of
it and every structured code, keep its placeholders, say that it is machine-drafted, and hold
nothing the sources no longer say. A silent fallback to English is a failure here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.support import code_words
from nodes.plumbing import i18n

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def template() -> Catalog:
    """The .pot the sources give today (what `pybabel extract -F babel.cfg` writes)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    pot = Catalog(domain=i18n.DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2),
                                                        "pgettext": ((1, "c"), 2)}):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    found = {}
    for lang in i18n.LANGUAGES:
        with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as source:
            found[lang] = read_po(source, locale=lang)
    return found


def _key(message) -> tuple[str | None, str]:
    return message.context, message.id[0] if isinstance(message.id, (list, tuple)) else message.id


def test_the_catalogs_are_the_six_un_languages_and_nothing_else():
    assert sorted(i18n.LANGUAGES) == ["ar", "en", "es", "fr", "ru", "zh"]
    assert sorted(p.name for p in i18n.LOCALE_DIR.iterdir() if p.is_dir()) == sorted(i18n.LANGUAGES)


def test_the_extracted_template_holds_the_pages_the_handlers_and_every_code(template):
    keys = {_key(m) for m in template if m.id}
    assert (None, "Legal basis:") in keys  # a template (nodes/national/templates/node/mla_request.html)
    assert (None, "MLA requests") in keys  # a heading chosen by a handler (console_mla.py)
    assert (None, "Inbox") in keys  # a menu label (NAV)
    assert (None, "%(num)s byte") in keys  # said by the Python side (i18n.size)
    for family, codes in code_words.all_codes().items():
        for code in codes:
            assert (family, code) in keys, (family, code)
    for sentence in code_words.sentences():  # the handling notices shown next to shared data
        assert (None, sentence) in keys


def test_every_consoles_menu_labels_are_extracted(template):
    """The menu: the national console's own entries, each feature's (ConsolePages) and the hub's."""
    from nodes.hub.console import NAV
    from nodes.national import feature
    from nodes.national.console import CORE_NAV

    keys = {_key(m) for m in template if m.id}
    menu = [*NAV, *CORE_NAV, *(f.console.nav for f in feature.discover() if f.console is not None)]
    assert [label for label, _ in menu if (None, label) not in keys] == []


def test_every_template_folder_is_extracted(template):
    """A template anywhere under nodes/ (a feature's own templates/ folder too) is read by babel.cfg,
    so a string a feature's page adds without a translation fails the test above."""
    extracted = {location for m in template for location, _ in m.locations}
    calling = {p.relative_to(ROOT).as_posix() for p in _templates() if "_(" in p.read_text()}
    assert calling and calling <= extracted, sorted(calling - extracted)
    assert "nodes/national/features/person/templates/node/border_check.html" in calling


def _templates() -> list[Path]:
    """Every console template: nodes/<part>/templates and each feature's own templates folder."""
    return sorted(ROOT.glob("nodes/**/templates/**/*.html"))


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_msgid_and_code_is_translated_in_each_catalog(template, catalogs, lang):
    catalog = catalogs[lang]
    untranslated = []
    for wanted in template:
        if not wanted.id:
            continue
        held = catalog.get(wanted.id, context=wanted.context)
        strings = held.string if held is not None and isinstance(held.string, (list, tuple)) else \
            [held.string] if held is not None else []
        if held is None or held.fuzzy or not strings or not all(strings):
            untranslated.append(_key(wanted))
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_no_catalog_holds_words_the_sources_no_longer_say(template, catalogs, lang):
    wanted = {_key(m) for m in template if m.id}
    stale = [_key(m) for m in catalogs[lang] if m.id and _key(m) not in wanted]
    assert not stale, f"{lang}: stale entries (pybabel update --ignore-obsolete): {stale[:5]}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_each_catalog_says_it_is_machine_drafted_and_has_the_languages_plural_rule(catalogs, lang):
    catalog = catalogs[lang]
    assert "Machine-drafted translation" in catalog.header_comment
    assert str(catalog.locale) == lang
    assert catalog.plural_forms == Catalog(locale=lang).plural_forms  # CLDR's rule for the language
    assert all(len(m.string) == catalog.num_plurals for m in catalog if isinstance(m.id, (list, tuple)))


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_a_translation_keeps_the_placeholders_of_its_msgid(catalogs, lang):
    wrong = []
    for message in catalogs[lang]:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            allowed = set(PLACEHOLDER.findall(message.id[1]))
            # A plural form may leave the count out ("one day left"), never add a name.
            if any(not set(PLACEHOLDER.findall(form)) <= allowed for form in message.string):
                wrong.append(message.id[0])
        elif set(PLACEHOLDER.findall(message.id)) != set(PLACEHOLDER.findall(message.string)):
            wrong.append(message.id)
    assert not wrong, f"{lang}: {wrong[:5]}"


def test_the_hubs_code_families_are_the_hubs_own_tables():
    """code_words lists the audit log's verdicts and entry fields without importing the hub (it is
    plumbing below the hub); this keeps the two equal."""
    from nodes.hub import audit

    families = code_words.families()
    assert set(families["verdict"]) == {audit.ACCEPTED, audit.REJECTED, audit.ISSUED, audit.DEAD_LETTERED,
                                        audit.UNROUTABLE, audit.REQUEUED}
    assert families["entry_field"] == audit.LEAF_FIELDS


def test_reason_codes_are_read_from_the_documentation_table():
    codes = code_words.reason_codes()
    assert {"sender_mismatch", "bad_signature", "illegal_transition", "not_witnessed"} <= set(codes)
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_template_compiles_in_every_language(lang):
    import jinja2

    folders = sorted(ROOT.glob("nodes/**/templates"))
    assert ROOT / "nodes/national/features/person/templates" in folders
    for folder in folders:  # each with the common templates it extends
        loader = jinja2.FileSystemLoader([str(folder), str(ROOT / "nodes/plumbing/templates")])
        env = i18n.environment(loader, lang)
        for name in jinja2.FileSystemLoader(str(folder)).list_templates():
            env.get_template(name)


# What a template may show outside the catalog: standard names (IMO number, SHA-256), the
# `checked` attribute a macro writes, machine codes in <code>, and ISO country codes as examples.
_TAG = re.compile(r"<[^>]*>", re.S)
_CODE = re.compile(r"<code>[^<]*</code>")
_SHOWN_ATTRIBUTE = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"')
_NOT_WORDS = {"IMO", "SHA-", "checked"}


def test_no_template_shows_english_words_outside_the_catalog():
    """Every word a template writes itself is a gettext call: text between tags, and the
    attributes people read (title, placeholder, aria-label, alt). Template code is left out."""
    import jinja2

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    found = {}
    for path in _templates():
        # Template code ({{ }}, {% %}) becomes a NUL: only what the template writes literally stays.
        literal = "".join(value if kind == "data" else "\0" for _, kind, value in env.lex(path.read_text()))
        literal = _CODE.sub(" ", literal)
        shown = [a for a in _SHOWN_ATTRIBUTE.findall(literal) if re.search(r"[a-z]{2,}", a.replace("\0", ""))]
        words = set(re.findall(r"[A-Za-z][A-Za-z'’-]+", re.sub(r"&#?\w+;", " ", _TAG.sub(" ", literal))))
        if shown or words - _NOT_WORDS:
            found[path.relative_to(ROOT).as_posix()] = sorted(words - _NOT_WORDS) + shown
    assert not found, f"words outside the catalog (wrap them in _()): {found}"


def _runtime_words(path: Path, root: Path = ROOT) -> list[str]:
    """Where a handler hands a page words built at run time (an f-string, a `str(exc)`, a
    concatenation) as a heading (`render(heading=...)`) or an error page's heading or detail
    (`error_page`, `refusal_page`'s heading): those are not catalogued and would stay English.
    Catalogued are a literal, `words("... %(name)s ...", name=value)` with a literal msgid, and a
    parameter named heading/detail/refused handed on from a caller."""
    import ast

    def catalogued(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return True
        if isinstance(node, ast.Name) and node.id in ("heading", "detail", "refused"):
            return True  # handed on from the caller, who is checked here too
        return (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "words"
                and bool(node.args) and isinstance(node.args[0], ast.Constant))

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        said = [kw.value for kw in node.keywords if kw.arg == "heading"] if name in ("render", "error_page",
                                                                                     "refusal_page") else []
        said += node.args[2:4] if name == "error_page" else node.args[2:3] if name == "refusal_page" else []
        found += [f"{path.relative_to(root)}:{n.lineno}" for n in said if not catalogued(n)]
    return found


def test_no_handler_hands_a_page_words_built_at_run_time():
    found = [where for path in sorted(ROOT.glob("nodes/**/*.py")) for where in _runtime_words(path)]
    assert not found, f"words built at run time (use i18n.words or refusal_page): {found}"


def test_the_check_for_run_time_words_sees_an_f_string_and_lets_words_pass(tmp_path):
    source = tmp_path / "handler.py"
    source.write_text('def h(request, n):\n'
                      '    console.error_page(request, 404, "No such entry", f"no {n}")\n'
                      '    console.render(request, "t.html", heading="Entry " + str(n))\n'
                      '    console.refusal_page(request, 400, "Refused", f"{n}: detail")\n'
                      '    console.error_page(request, 404, "No such entry", words("No entry %(n)s", n=n))\n')
    assert _runtime_words(source, tmp_path) == ["handler.py:2", "handler.py:3"]
