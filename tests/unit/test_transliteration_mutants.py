"""Issue 24 (mut24): protocol/transliteration.py's script detection for letters of scripts it has no
table for, which the person-alert check must name as such (Zzzz), never crash on or call Latin."""

from __future__ import annotations

import pytest

from protocol import transliteration as tr


@pytest.mark.parametrize(("text", "script"), [
    ("김민수", "Zzzz"),  # Hangul: a named script without an ICAO table
    ("\U00017000", "Zzzz"),  # a Tangut ideograph: a letter Python's unicodedata has no name for
    ("Ivan 김", "Zmix"),
])
def test_letters_of_other_scripts_are_zzzz(text: str, script: str) -> None:
    assert tr.script_of(text) == script
