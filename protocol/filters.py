"""Search filters as users type them (audit trails, exports): checked and normalised, or refused with
`bad_filter` naming the expected format, so a typo never silently selects nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from protocol.errors import ProtocolError
from protocol.timefmt import format_time, parse_time

TIME_FORMAT = "an RFC 3339 UTC time like 2026-11-22T17:20:00Z, or a date like 2026-11-22"
COUNTRY_FORMAT = "an ISO 3166-1 alpha-3 code like MEX (any case), or HUB"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NODE_ID = re.compile(r"[A-Za-z]{3}")


class FilterError(ProtocolError):
    """A filter value that is not in its expected format (reason `bad_filter`)."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__("bad_filter", f"{name}={value[:40]!r} is not {expected}")
        self.name = name


def time_bound(name: str, value: str) -> str:
    """`value` as the audit log stores times (microseconds, `Z`), so that comparing the strings
    compares the instants; a date alone is its midnight UTC."""
    text = value.strip()
    if _DATE.fullmatch(text):
        try:
            return format_time(datetime.fromisoformat(text).replace(tzinfo=UTC))
        except ValueError:
            raise FilterError(name, value, TIME_FORMAT) from None
    try:
        return format_time(parse_time(text.replace("z", "Z").replace("t", "T")))
    except ProtocolError:
        raise FilterError(name, value, TIME_FORMAT) from None


def node_id(name: str, value: str) -> str:
    """A country code (or HUB) in upper case, whatever case it was typed in."""
    text = value.strip()
    if not _NODE_ID.fullmatch(text):
        raise FilterError(name, value, COUNTRY_FORMAT)
    return text.upper()


def trail_filters(query: dict[str, str]) -> dict[str, str]:
    """The audit-trail filters present in `query`, checked and normalised (others passed as they are)."""
    checked = {k: v for k, v in query.items() if v}
    for name in ("since", "until"):
        if name in checked:
            checked[name] = time_bound(name, checked[name])
    for name in ("sender", "recipient"):
        if name in checked:
            checked[name] = node_id(name, checked[name])
    return checked
