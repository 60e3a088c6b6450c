"""ICAO Doc 9303 part 3 (section 6) transliteration of names into the machine-readable zone's
Latin: A-Z, name parts separated by one space. Latin with diacritics, Cyrillic (with the Ukrainian,
Belarusian and Bulgarian readings), Greek and Arabic. Pure, standard library only.

Han and the other scripts have no ICAO table: `transliterate` refuses them with a reason code and
the caller supplies the Latin form printed in the document (docs/person-alerts.md).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping

from protocol.errors import ProtocolError

MAX_VARIANTS = 64  # `variants` stops there: a name of many umlauts has 2**n spellings

# Latin characters the ICAO table writes as more than one letter or as another letter; the first
# form is the table's first choice, the others its alternatives ('Ä: AE or A').
_LATIN: Mapping[str, tuple[str, ...]] = {
    "Ä": ("AE", "A"), "Å": ("AA", "A"), "Æ": ("AE",), "Ö": ("OE", "O"), "Ø": ("OE", "O"), "Œ": ("OE",),
    "Ü": ("UE", "UXX", "U"), "Ñ": ("N", "NXX"), "ß": ("SS",), "ẞ": ("SS",), "Þ": ("TH",), "Ð": ("D",),
    "Đ": ("D",), "Ħ": ("H",), "Ŧ": ("T",), "Ł": ("L",), "Ŀ": ("L",), "Ĳ": ("IJ",), "Ŋ": ("N",),
    "I": ("I",), "İ": ("I",), "ı": ("I",), "ĸ": ("K",),
}

# Doc 9303 part 3, the Cyrillic table; `_CYRILLIC_BY_LANGUAGE` its language notes.
_CYRILLIC: Mapping[str, str] = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Ґ": "G", "Д": "D", "Ђ": "D", "Ѓ": "G", "Е": "E", "Ё": "E",
    "Є": "IE", "Ж": "ZH", "З": "Z", "Ѕ": "DZ", "И": "I", "І": "I", "Ї": "I", "Й": "I", "Ј": "J", "К": "K",
    "Л": "L", "Љ": "LJ", "М": "M", "Н": "N", "Њ": "NJ", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T",
    "Ћ": "C", "Ќ": "K", "У": "U", "Ў": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Џ": "DZ",
    "Ш": "SH", "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "IU", "Я": "IA",
}
_CYRILLIC_BY_LANGUAGE: Mapping[str, Mapping[str, str]] = {
    "uk": {"Г": "H", "И": "Y"},
    "be": {"Г": "H"},
    "bg": {"Щ": "SHT", "Ъ": "A"},
}

# Doc 9303 part 3, the Greek table (tonos and dialytika dropped first).
_GREEK: Mapping[str, str] = {
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "TH", "Ι": "I", "Κ": "K",
    "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
    "Φ": "F", "Χ": "CH", "Ψ": "PS", "Ω": "O",
}
_GREEK_DIGRAPHS: Mapping[str, str] = {"ΟΥ": "OU"}

# Doc 9303 part 3, the Arabic table: reversible, so the letters without a one-letter Latin
# counterpart are written with an X prefix (ح XH, ص XSS ...). Short vowels are written when present.
_ARABIC: Mapping[str, str] = {
    "ء": "XE", "آ": "XAA", "أ": "XAE", "ؤ": "U", "إ": "I", "ئ": "XI", "ا": "A", "ب": "B", "ة": "XTA",
    "ت": "T", "ث": "XTH", "ج": "J", "ح": "XH", "خ": "XKH", "د": "D", "ذ": "XDH", "ر": "R", "ز": "Z",
    "س": "S", "ش": "XSH", "ص": "XSS", "ض": "XDZ", "ط": "XTT", "ظ": "XZZ", "ع": "E", "غ": "G", "ف": "F",
    "ق": "Q", "ك": "K", "ل": "L", "م": "M", "ن": "N", "ه": "H", "و": "W", "ى": "XAY", "ي": "Y",
    "ٱ": "XXA", "پ": "P", "چ": "XC", "ژ": "XJ", "ک": "XKK", "گ": "XGG", "ی": "XYA",
    "\u064b": "F", "\u064c": "N", "\u064d": "K", "\u064e": "A", "\u064f": "U", "\u0650": "I", "\u0652": "O",
    "\u0651": "", "\u0640": "", "\u0670": "",  # shadda, tatweel, superscript alef: not written
}

_SEPARATORS = frozenset(" -‐‑–—,.<_/\t")
_DROPPED = frozenset("'’ʼ‘`´ʻ")

SCRIPTS = ("Latn", "Cyrl", "Grek", "Arab", "Hani")  # ISO 15924 codes this module recognises
_SCRIPT_PREFIXES = (("LATIN", "Latn"), ("CYRILLIC", "Cyrl"), ("GREEK", "Grek"), ("ARABIC", "Arab"),
                    ("CJK", "Hani"))


class TransliterationError(ProtocolError):
    """A name with characters that no ICAO table covers (reason `untransliterable`)."""


def script_of(text: str) -> str:
    """The ISO 15924 code of the letters of `text`: one of SCRIPTS, 'Zyyy' when there are none
    (only separators) and 'Zmix' when letters of two scripts are mixed."""
    if text.isascii():  # an MRZ's name zone, a name typed in Latin: no character needs its Unicode name
        return "Latn" if any(char.isalpha() for char in text) else "Zyyy"
    found = set()
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        found.add(next((code for prefix, code in _SCRIPT_PREFIXES if name.startswith(prefix)), "Zzzz"))
    if not found:
        return "Zyyy"
    return found.pop() if len(found) == 1 else "Zmix"


_PLAIN_LATIN = re.compile(r"[A-Za-z\s\-,.<_/'`]*")  # ASCII letters, separators and dropped marks only


def _pieces(text: str, language: str | None) -> Iterator[tuple[str, ...]]:
    """Each character's ICAO forms (first = the table's first choice); ' ' between name parts."""
    if text.isascii() and _PLAIN_LATIN.fullmatch(text):  # one form each, no table: what any script gives them
        return iter([(" ",) if char in _SEPARATORS or char.isspace() else (char.upper(),)
                     for char in text if char not in _DROPPED])
    return _pieces_in_any_script(text, language)


def _pieces_in_any_script(text: str, language: str | None) -> Iterator[tuple[str, ...]]:
    cyrillic = {**_CYRILLIC, **_CYRILLIC_BY_LANGUAGE.get((language or "").split("-")[0].lower(), {})}
    text = unicodedata.normalize("NFC", text)
    i = 0
    while i < len(text):
        char = text[i]
        upper = char.upper() if char not in ("ß", "ı", "ĸ") else char
        pair = text[i:i + 2].upper()
        if pair in _GREEK_DIGRAPHS or _strip_marks(pair) in _GREEK_DIGRAPHS:
            yield (_GREEK_DIGRAPHS[_strip_marks(pair)],)
            i += 2
            continue
        i += 1
        if char in _SEPARATORS or char.isspace():
            yield (" ",)
        elif char in _DROPPED:
            continue
        elif "A" <= upper <= "Z" and len(upper) == 1:
            yield (upper,)
        elif upper in _LATIN:
            yield _LATIN[upper]
        elif upper in cyrillic:
            yield (cyrillic[upper],)
        elif _strip_marks(upper) in _GREEK:
            yield (_GREEK[_strip_marks(upper)],)
        elif char in _ARABIC:
            yield (_ARABIC[char],)
        elif unicodedata.combining(char):
            continue
        else:
            base = _strip_marks(upper)
            if len(base) >= 1 and all("A" <= c <= "Z" for c in base):
                yield (base,)
            elif base in _LATIN:
                yield _LATIN[base]
            else:
                raise TransliterationError("untransliterable",
                                           f"{char!r} (U+{ord(char):04X}) has no ICAO transliteration: "
                                           f"give the Latin form printed in the document")


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).upper()


def _join(parts: tuple[str, ...]) -> str:
    return " ".join("".join(parts).split())


def transliterate(text: str, language: str | None = None) -> str:
    """The name in MRZ Latin, the table's first choices: 'Jürgen Weiß' -> 'JUERGEN WEISS',
    'Щукин' -> 'SHCHUKIN', 'Ольга' (uk) -> 'OLHA'. `language` is a BCP 47 tag ('uk', 'bg')."""
    if not isinstance(text, str):
        raise TransliterationError("untransliterable", "a name is text")
    return _join(tuple(forms[0] for forms in _pieces(text, language)))


def variants(text: str, language: str | None = None) -> list[str]:
    """Every spelling the ICAO table allows ('Müller' -> MUELLER, MUXXLLER, MULLER), the first
    choice first, at most MAX_VARIANTS."""
    pieces = list(_pieces(text, language))
    out: list[str] = []
    for combination in itertools.islice(itertools.product(*pieces), MAX_VARIANTS * 4):
        spelling = _join(combination)
        if spelling not in out:
            out.append(spelling)
        if len(out) == MAX_VARIANTS:
            break
    return out


def mrz_name_field(primary: str, secondary: str, width: int) -> str:
    """The name zone of `width` characters: 'ERIKSSON<<ANNA<MARIA<<<...', truncated to fit."""
    field = transliterate(primary).replace(" ", "<")
    given = transliterate(secondary).replace(" ", "<")
    if given:
        field += "<<" + given
    return field[:width].ljust(width, "<")
