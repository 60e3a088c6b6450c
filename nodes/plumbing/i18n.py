"""The consoles in the six UN official languages: which language a request is answered in, the
gettext catalogs (nodes/plumbing/locale/<lang>/LC_MESSAGES/messages.po), and the jinja2 filters that
say codes, dates and numbers in that language.

- **Choice:** the `somex_lang` cookie (set by the selector on every page, `/console/language`),
  else the browser's `Accept-Language`, else English.
- **Catalogs** are read from the .po files when a console starts (Babel compiles them in memory):
  no build step, no committed binaries that could disagree with their sources.
- **Codes** (message types, MLA kinds, states, reason codes ...) are translated by
  `pgettext(family, code)`; tests/support/code_words.py lists the families.
"""

from __future__ import annotations

import functools
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
from babel import Locale
from babel.core import UnknownLocaleError, get_global
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.lists import format_list
from babel.support import Translations
from markupsafe import Markup, escape

from nodes.plumbing.countries import country_name

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# The six UN official languages, in the order of the selector (each named in its own language).
LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
DEFAULT = "en"
COOKIE = "somex_lang"
RTL = frozenset({"ar"})
# The CLDR locale whose dates and numbers each language uses: English as the UN writes it (day
# month year, a 24-hour clock), the others as CLDR has them.
_FORMATS = {"en": "en_GB"}


class Words(NamedTuple):
    """Words a handler says with values only known at run time ("The log has no entry %(seq)s."):
    the msgid is catalogued (the `words(...)` call is extracted, babel.cfg) and the values are put
    in after translation, by the `say` filter."""

    msgid: str
    params: dict[str, Any]


def words(msgid: str, **params: Any) -> Words:
    """A heading or an error detail with `%(name)s` placeholders, said in the reader's language."""
    return Words(msgid, params)


class WordsError(ValueError):
    """A mistake the page explains in the reader's language (a filter it cannot take): `said` is
    the catalogued words with their values; str() is the English, for logs and tests."""

    def __init__(self, said: Words) -> None:
        super().__init__(said.msgid % said.params)
        self.said = said


@functools.cache
def translations(lang: str) -> Translations:
    """`lang`'s catalog, compiled in memory from its .po file (fuzzy entries left out)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The console's language: a supported cookie value, else the best of `Accept-Language`
    (q-values honoured, `fr-CA` counts as `fr`, `zh-Hant` as `zh`), else English."""
    if cookie in LANGUAGES:
        return cookie
    for tag in _accepted(accept_language or ""):
        primary = tag.split("-", 1)[0].split("_", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def _accepted(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def direction(lang: str) -> str:
    return "rtl" if lang in RTL else "ltr"


def language_name(lang: str) -> str:
    """A language in its own words (العربية, 中文, English, français, русский, español)."""
    try:
        return Locale.parse(lang).get_display_name(lang) or lang
    except (ValueError, UnknownLocaleError):
        return lang


def environment(loader: jinja2.BaseLoader, lang: str) -> jinja2.Environment:
    """A jinja2 environment whose gettext, filters and code labels speak `lang`."""
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    # Names such as KOVAČ are shown as written, not as \u escapes (tojson still escapes <>&').
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    catalog = translations(lang)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(filters(lang, catalog))
    env.globals.update(lang=lang, dir=direction(lang), languages=[(code, language_name(code)) for code in LANGUAGES])
    return env


def filters(lang: str, catalog: Translations) -> dict[str, Any]:
    """The locale's `when`, `day`, `number`, `size`, `country`, `language`, `say`, `label` and `labels` filters."""
    cldr = _FORMATS.get(lang, lang)

    def when(value: str | datetime | None) -> Markup:
        """A stored time as `<time datetime="…">` with the date and minute in the reader's
        language (UTC), the exact value for machines and a tooltip. Not a time: shown as it is."""
        moment = _moment(value)
        if moment is None:
            return escape("" if value is None else str(value))
        exact = value.isoformat() if isinstance(value, datetime) else str(value)
        shown = _date_and_minute(moment.astimezone(timezone.utc), cldr)
        return Markup('<time datetime="{0}" title="{0}">{1} UTC</time>').format(exact, shown)

    def day(value: str | None) -> Markup:
        """A calendar date (2026-12-01) in the reader's language."""
        if not value:
            return Markup("")
        try:
            parsed = datetime.strptime(str(value)[:10], "%Y-%m-%d").date()
        except ValueError:
            return escape(str(value))
        return Markup('<time datetime="{0}">{1}</time>').format(value, format_date(parsed, "medium", locale=cldr))

    def number(value: float | int) -> str:
        return format_decimal(value, locale=cldr)

    def size(count: int) -> str:
        """A byte count as people read it: 812 bytes, 48 KiB, 1.5 MiB (digits of the locale)."""
        if count < 1024:
            return catalog.ngettext("%(num)s byte", "%(num)s bytes", count) % {"num": number(count)}
        value = float(count)
        for unit in ("KiB", "MiB", "GiB", "TiB"):
            value /= 1024
            if value < 1024 or unit == "TiB":
                shown = format_decimal(value, "#,##0" if value >= 10 or value == int(value) else "#,##0.0", locale=cldr)
                return f"{shown}\u00a0{unit}"
        raise AssertionError("unreachable")

    def country(code: str | None) -> str:
        """A node id as a country name in the reader's language (Mexico, México, Mexique, المكسيك)."""
        if not code:
            return ""
        territory = _territory(code)
        if territory is not None:
            named = Locale.parse(lang).territories.get(territory)
            if named:
                return named
        return country_name(code)

    def language(code: str | None) -> str:
        """A language code (es, pt-BR) named in the reader's language (espagnol, 西班牙语)."""
        if not code:
            return ""
        try:
            return Locale.parse(code.replace("-", "_")).get_display_name(lang) or code
        except (ValueError, UnknownLocaleError):
            return code

    def say(text: str | Words | None) -> str:
        """Words the handler chose (a heading, a menu label, an error detail) in the reader's
        language when the catalog has them: plain gettext, never %-formatted, so a detail that
        quotes the visitor's input ("100%", "%(x)s") is shown as it is. `Words` (words(...)) are
        translated first, then their values put in (escaped on output like any text)."""
        if isinstance(text, Words):
            return catalog.gettext(text.msgid) % text.params
        return catalog.gettext(text) if text else ""

    def label(code: Any, family: str) -> str:
        """A structured code in the reader's language; a code without a label is shown as itself."""
        text = "" if code is None else str(code)
        return catalog.pgettext(family, text) if text else ""

    def labels(codes: Any, family: str) -> str:
        """Several codes as one list in the reader's language ("A, B and C", "A وB وC", "A、B和C")."""
        return format_list([label(code, family) for code in (codes or ())], locale=cldr) if codes else ""

    return {"when": when, "day": day, "number": number, "size": size, "country": country, "language": language, "say": say, "label": label,
            "labels": labels}


def _date_and_minute(moment: datetime, lang: str) -> str:
    """The date (medium) and the minute (short) joined the way the locale joins them (CLDR's
    medium date-time pattern: "Nov 23, 2026, 2:05 PM", "23 nov 2026, 14:05", "2026年11月23日 14:05")."""
    joined = str(Locale.parse(lang).datetime_formats["medium"])
    return joined.replace("{1}", format_date(moment, "medium", locale=lang)).replace(
        "{0}", format_time(moment, "short", tzinfo=timezone.utc, locale=lang))


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _territory(code: str) -> str | None:
    """The CLDR territory (alpha-2) of an ISO 3166 alpha-3 node id, from CLDR's own alias table."""
    aliases = get_global("territory_aliases").get(code.upper())
    return aliases[0] if aliases and len(aliases[0]) == 2 and aliases[0].isalpha() else None
