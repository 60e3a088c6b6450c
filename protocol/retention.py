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

from protocol.alerts import default_review_date, review_date
from protocol.timefmt import parse_time

ALERT_TYPES = frozenset({"alert.document", "alert.document.batch"})

# Days after `created`. Federation-wide: every node runs the same protocol package.
MAXIMUM_DAYS: Mapping[str, int] = {
    "note": 730,
    "receipt": 730,
    "alert.hit": 365,
    "person.alert": 1825,  # a person alert is reviewed within 5 years at most (protocol/person.py)
    "person.hit": 365,
    "mla.request": 3650,  # legal records: a request may stay open for years
    "mla.status": 3650,
    "mla.response": 3650,
    "case.share": 1825,  # carriers of a held case go with the case, not by this rule
    "case.withdraw": 1825,
    "case.permission": 1825,
    "case.jit": 1095,  # joint investigations: three years after each message
    "case.message": 1095,
    "hub.rejection": 730,
    "hub.checkpoint": 730,
    "hub.directory": 730,
    "hub.revocations": 730,
    "witness.cosign": 730,
}
DEFAULT_DAYS = 730  # a type added without a rule of its own


def alert_kept_until(record: Mapping[str, Any], created: str) -> str:
    """The last day an alert sent at `created` is kept (replica and message store): its review date,
    at most DEFAULT_REVIEW_YEARS after it was sent. The bound counts from the envelope's `created`,
    which the hub holds to its clock, not from `reported`, which the sender writes freely."""
    return min(review_date(record), default_review_date(parse_time(created).date().isoformat()))


def retain_until(type: str, created: str, body: Mapping[str, Any] | None) -> str:
    """The last day (YYYY-MM-DD, UTC) a stored message of `type` is kept; `body`: its clear
    payload, needed for alerts only."""
    if type in ALERT_TYPES:
        if body is None:
            raise ValueError(f"the retention of {type} depends on its body")
        alerts = body["alerts"] if type == "alert.document.batch" else [body]
        return max(alert_kept_until(a, created) for a in alerts)
    days = MAXIMUM_DAYS.get(type, DEFAULT_DAYS)
    return (parse_time(created) + timedelta(days=days)).date().isoformat()


def expired(until: str, today: str) -> bool:
    """Whether a message kept until `until` is gone on `today` (both YYYY-MM-DD)."""
    return until < today
