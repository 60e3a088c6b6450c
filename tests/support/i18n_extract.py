"""Babel extractors for what is not a gettext call in a template (babel.cfg): the structured codes
of code_words.py, and the headings and error words the console handlers pass to their templates."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any, BinaryIO

from tests.support import code_words

Extracted = Iterator[tuple[int, str, Any, list[str]]]


def extract_codes(fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: dict[str, Any]) -> Extracted:
    """One `pgettext(family, code)` per code of every family (code_words.all_codes), and the
    protocol's sentences for people (code_words.sentences)."""
    for family, codes in code_words.all_codes().items():
        for code in codes:
            yield 1, "pgettext", (family, code), [f"code of family {family}"]
    for sentence in code_words.sentences():
        yield 1, "gettext", sentence, ["a notice the protocol shows with data"]


# The handlers' words: render(..., heading="Cases"), error_page(request, status, heading, detail),
# refusal_page(request, status, heading, refusal) and words("... %(name)s ...", name=value).
_RENDERERS = {"render", "error_page", "refusal_page"}
_WORDS = "words"
# A feature's menu entry: ConsolePages(("Cases", "/console/cases"), ...) or ConsolePages(nav=(...)).
_MENU_ENTRY = "ConsolePages"


def extract_console_words(fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: dict[str, Any]) -> Extracted:
    """The string literals a console handler shows: `heading=` of render(), the heading and detail
    of error_page() (the heading of refusal_page()), the msgid of every `words(...)` (nodes/plumbing/
    i18n.py: words with values put in after translation), the labels of a console's menu (any
    `...NAV = ((label, href), ...)`, e.g. CORE_NAV, and each feature's `ConsolePages((label, href),
    ...)`). An f-string is not catalogued: tests/unit/test_translations.py refuses one there."""
    try:
        tree = ast.parse(fileobj.read())
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(str(getattr(t, "id", "")).endswith("NAV") for t in node.targets):
            yield from _nav_labels(node.value)
            continue
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name == _WORDS:
            texts = node.args[:1]
        elif name == _MENU_ENTRY:
            entry = [kw.value for kw in node.keywords if kw.arg == "nav"] or node.args[:1]
            yield from _nav_labels(ast.Tuple(elts=entry))
            continue
        elif name in _RENDERERS:
            texts = [kw.value for kw in node.keywords if kw.arg == "heading"]
            texts += node.args[2:4] if name == "error_page" else node.args[2:3]
        else:
            continue
        for text in texts:
            if isinstance(text, ast.Constant) and isinstance(text.value, str) and text.value:
                yield text.lineno, "gettext", text.value, []


def _nav_labels(value: ast.expr) -> Extracted:
    for item in getattr(value, "elts", ()):
        label = item.elts[0] if isinstance(item, ast.Tuple) and item.elts else None
        if isinstance(label, ast.Constant) and isinstance(label.value, str):
            yield label.lineno, "gettext", label.value, []
