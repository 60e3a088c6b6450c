"""protocol/transliteration.py: ICAO Doc 9303 part 3 tables into MRZ Latin."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import transliteration as tr
from protocol.errors import ProtocolError


@pytest.mark.parametrize(("name", "language", "latin"), [
    ("Jürgen Weiß", None, "JUERGEN WEISS"),
    ("Björn Åström", "sv", "BJOERN AASTROEM"),
    ("Søren Kierkegaard", "da", "SOEREN KIERKEGAARD"),
    ("Łukasz Żółć", "pl", "LUKASZ ZOLC"),
    ("José Álvarez-López", "es", "JOSE ALVAREZ LOPEZ"),
    ("Peña", "es", "PENA"),
    ("Þórunn Guðmundsdóttir", "is", "THORUNN GUDMUNDSDOTTIR"),
    ("Yılmaz İnönü", "tr", "YILMAZ INOENUE"),
    ("Nguyễn Văn Thắng", "vi", "NGUYEN VAN THANG"),
    ("O’Brien", "en", "OBRIEN"),
    ("Щукин Дмитрий", "ru", "SHCHUKIN DMITRII"),
    ("Хрущёв", "ru", "KHRUSHCHEV"),
    ("Юлия Ефимовна Объедкова", "ru", "IULIIA EFIMOVNA OBIEEDKOVA"),  # Ъ IE, then Е E
    ("Ольга Гнатюк", "uk", "OLHA HNATIUK"),
    ("Ольга Гнатюк", "ru", "OLGA GNATIUK"),
    ("Євгенія Їжакевич", "uk", "IEVHENIIA IZHAKEVYCH"),
    ("Щерев Ъгълов", "bg", "SHTEREV AGALOV"),
    ("Ђорђе Љубичић", "sr", "DORDE LJUBICHIC"),
    ("Παπαδόπουλος Σωκράτης", "el", "PAPADOPOULOS SOKRATIS"),
    ("Χρυσάνθη Ψαρρού", "el", "CHRYSANTHI PSARROU"),
    ("محمد عبد الله", "ar", "MXHMD EBD ALLH"),
    ("خالد الشريف", "ar", "XKHALD ALXSHRYF"),
    ("فاطمة", "ar", "FAXTTMXTA"),
])
def test_icao_first_choice(name: str, language: str | None, latin: str) -> None:
    assert tr.transliterate(name, language) == latin


def test_alternatives_of_the_table_are_listed_first_choice_first() -> None:
    assert tr.variants("Müller") == ["MUELLER", "MUXXLLER", "MULLER"]
    assert tr.variants("Peña") == ["PENA", "PENXXA"]
    assert set(tr.variants("Ängström")) == {"AENGSTROEM", "AENGSTROM", "ANGSTROEM", "ANGSTROM"}


def test_variants_are_bounded() -> None:
    assert len(tr.variants("Ä" * 20)) == tr.MAX_VARIANTS


@pytest.mark.parametrize("name", ["王小明", "Иван 3", "山田", "☃"])
def test_a_character_without_a_table_is_a_typed_error(name: str) -> None:
    with pytest.raises(tr.TransliterationError) as caught:
        tr.transliterate(name)
    assert caught.value.reason == "untransliterable"
    assert isinstance(caught.value, ProtocolError)


def test_a_name_that_is_not_text_is_a_typed_error() -> None:
    with pytest.raises(tr.TransliterationError):
        tr.transliterate(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "script"), [
    ("Anna", "Latn"), ("Jürgen", "Latn"), ("Иван", "Cyrl"), ("Σωκράτης", "Grek"), ("محمد", "Arab"),
    ("王小明", "Hani"), ("Ivan Иван", "Zmix"), ("- -", "Zyyy"),
])
def test_script_of(text: str, script: str) -> None:
    assert tr.script_of(text) == script


def test_mrz_name_field_fills_and_truncates() -> None:
    assert tr.mrz_name_field("Eriksson", "Anna Maria", 39) == "ERIKSSON<<ANNA<MARIA" + "<" * 19
    assert tr.mrz_name_field("Papadopoulou-Konstantinopoulou", "Alexandra", 30) == "PAPADOPOULOU<KONSTANTINOPOULOU"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_mrz_latin_or_a_reason(text: str) -> None:
    try:
        latin = tr.transliterate(text)
    except tr.TransliterationError as error:
        assert error.reason == "untransliterable"
    else:
        assert re.fullmatch(r"([A-Z]+( [A-Z]+)*)?", latin)
