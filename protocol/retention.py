"""How long a node keeps each stored message (issue 20): one rule per message class, pure.

A node stores every message it sends or receives (`messages`: the signed envelope and, for clear
types, the body). Personal data must not outlive its purpose there either, so each class has a
rule giving the date after which the stored message is deleted:

- document alerts: the latest review date of the alerts the message carries (what the replica
  keeps them for; the replica drops them on that date too), but never more than
  DEFAULT_REVIEW_YEARS after the message was sent, whatever review date a sender writes;
- a held case's carriers (`case.share`) go with the held copy (nodes/national/cases.py); the
  rule below bounds only the messages that carry no held case;
- everything else: a federation-wide maximum per class, in days after the message was created.

The hub's audit log keeps digests, never contents, so deleting a stored message loses nothing an
auditor needs. docs/cases.md has the table of every kind of stored data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from protocol.alerts import alert_kept_until
from protocol.catalog import REGISTRY
from protocol.message_class import DEFAULT_RETENTION_DAYS
from protocol.timefmt import parse_time

# Each class declares its types' retention (protocol/catalog.py). Federation-wide: every node runs
# the same protocol package.
# Types whose date depends on their body (document alerts: their review dates).
ALERT_TYPES = frozenset(name for name, t in REGISTRY.items() if t.kept_until is not None)
# The others: days after `created`.
MAXIMUM_DAYS: Mapping[str, int] = {
    name: t.retention_days for name, t in REGISTRY.items() if t.retention_days is not None
}
DEFAULT_DAYS = DEFAULT_RETENTION_DAYS  # a stored row of a type not (or no longer) registered


def retain_until(type: str, created: str, body: Mapping[str, Any] | None) -> str:
    """The last day (YYYY-MM-DD, UTC) a stored message of `type` is kept; `body`: its clear
    payload, needed for the types whose date depends on it (ALERT_TYPES) only."""
    spec = REGISTRY.get(type)
    if spec is not None and spec.kept_until is not None:
        if body is None:
            raise ValueError(f"the retention of {type} depends on its body")
        return spec.kept_until(created, body)
    days = MAXIMUM_DAYS.get(type, DEFAULT_DAYS)
    return (parse_time(created) + timedelta(days=days)).date().isoformat()


def expired(until: str, today: str) -> bool:
    """Whether a message kept until `until` is gone on `today` (both YYYY-MM-DD)."""
    return until < today


__all__ = ["ALERT_TYPES", "DEFAULT_DAYS", "MAXIMUM_DAYS", "alert_kept_until", "expired", "retain_until"]
