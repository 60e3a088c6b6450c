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


def test_the_language_tag_may_carry_a_region_and_variants_use_it() -> None:
    assert tr.transliterate("Григорій", "uk-UA") == "HRYHORII"
    assert tr.variants("Григорій", "uk")[0] == "HRYHORII"


def test_a_name_that_is_not_text_is_refused_with_a_reason() -> None:
    with pytest.raises(tr.TransliterationError) as caught:
        tr.transliterate(5)  # type: ignore[arg-type]
    assert (caught.value.reason, caught.value.detail) == ("untransliterable", "a name is text")


def test_variants_examine_a_bounded_number_of_combinations() -> None:
    # nine Å (AA or A each) have 512 combinations; only the first MAX_VARIANTS * 4 = 256 are examined
    # (a cost bound: a long name of such letters must not take 2**n steps), so the spelling with
    # every Å as a single A is not reached
    spellings = tr.variants("Å" * 9)
    assert len(spellings) == 9 and "A" * 9 not in spellings
