"""Render one of the national console's templates (or one macro of it) in a language, without a
node: for unit tests of what a page says."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import jinja2

from nodes.plumbing import i18n

ROOT = Path(__file__).resolve().parents[2]
_TAG = re.compile(r"<[^>]*>")


def render_node_template(name: str, lang: str, macro: str | None = None, args: tuple[Any, ...] = (),
                         text: bool = False, **context: Any) -> str:
    """`name` rendered with `context`, or its macro `macro` called with `args`; with text=True the
    words a reader sees (tags left out, entities read, spaces joined)."""
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(ROOT / "nodes/national/templates")),
                                  jinja2.FileSystemLoader(str(ROOT / "nodes/plumbing/templates"))])
    env = i18n.environment(loader, lang)
    template = env.get_template(name)
    if macro is None:
        html = template.render(**context)
    else:
        html = str(getattr(template.make_module(context), macro)(*args))
    return " ".join(unescape(_TAG.sub("", html)).split()) if text else html
