"""Times, sizes and countries in English for words the Python side writes itself (error details).
The consoles' templates use the locale-aware filters of nodes/plumbing/i18n.py instead."""

from __future__ import annotations

from datetime import datetime, timezone

from markupsafe import Markup, escape

from nodes.plumbing.countries import country_name


def when(value: str | datetime | None) -> Markup:
    """A stored time as `<time datetime="…">2026-11-23 14:05 UTC</time>`: minutes for people, the
    exact value for machines (and a tooltip). A value that is not a time is shown as it is."""
    if value is None or value == "":
        return Markup("")
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return escape(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    exact = value.isoformat() if isinstance(value, datetime) else str(value)
    return Markup('<time datetime="{0}" title="{0}">{1} UTC</time>').format(exact, moment.strftime("%Y-%m-%d %H:%M"))


_UNITS = ("KiB", "MiB", "GiB", "TiB")


def size(count: int) -> str:
    """A byte count as people read it: 812 bytes, 48 KiB, 1.5 MiB, 100 MiB."""
    if count < 1024:
        return f"{count} byte{'' if count == 1 else 's'}"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def country(code: str | None) -> str:
    """A node id as a country name (Mexico for MEX); codes outside ISO 3166 stay as they are."""
    return country_name(code) if code else ""
