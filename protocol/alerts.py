"""Lost and stolen document alerts (SLTD-like): the payloads, number normalisation, the rules that
only the issuing country alerts on its documents and hears of hits on them, and the replica's
merge rule (docs/alerts.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from protocol.errors import DecodeError, PolicyError
from protocol.message_class import EnvelopeView, MessageClass, MessageType, MiB
from protocol.schema import NODE_ID, TIMESTAMP, Enum, Obj, Schema, Str
from protocol.timefmt import format_time, parse_time

DOCUMENT_TYPES = ("passport", "identity_card", "visa", "residence_permit", "travel_document",
                  "seafarer_identity_document", "other")
STATUSES = ("stolen", "lost", "revoked", "invalid", "stolen_blank")
ACTIONS = ("create", "update", "withdraw")
CHECK_KINDS = ("border", "visa", "police", "other")
DEFAULT_REVIEW_YEARS = 10
MAX_BATCH_ALERTS = 1000  # the most alerts one `alert.document.batch` may carry
MAX_NUMBER_CHARS = 64
MAX_REFERENCE_CHARS = 128

REQUIRED_FIELDS = ("document_number", "document_type", "issuing_country", "status", "action", "reported")
DATE_FIELDS = ("event_date", "issue_date", "expiry_date", "review_date")
OPTIONAL_FIELDS = (*DATE_FIELDS, "national_reference")
FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)

_REQUIRED = frozenset(REQUIRED_FIELDS)
_KNOWN = frozenset(FIELDS)
_DOCUMENT_TYPES = frozenset(DOCUMENT_TYPES)
_STATUSES = frozenset(STATUSES)
_ACTIONS = frozenset(ACTIONS)
_COUNTRY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SEPARATORS = re.compile(r"[\s\-./_<]+")


def normalise_document_number(number: str) -> str:
    """Upper case, no spaces or separators: 'ya 123-456.7' and 'YA1234567' are one document."""
    if number.isascii() and number.isalnum():  # most numbers: nothing to fold or remove
        return number.upper()
    folded = unicodedata.normalize("NFKC", number).upper()
    return _SEPARATORS.sub("", folded)


@dataclass(frozen=True, slots=True)
class AlertProblem:
    """Why one alert record is refused: the field, a reason code, and what is wrong."""

    field: str
    reason: str
    detail: str


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and _is_date_text(value)


@functools.lru_cache(maxsize=4096)  # a feed's dates repeat: a few thousand distinct in a million alerts
def _is_date_text(value: str) -> bool:
    if len(value) != 10 or _DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def alert_problem(record: Any) -> AlertProblem | None:
    """None if `record` is a valid alert, else the first thing wrong with it.

    One tight pass over a record (a feed or a batch checks a million of them): the exact rules of
    the payload table in docs/alerts.md.
    """
    if not isinstance(record, dict):
        return AlertProblem("$", "bad_field", "an alert is a JSON object")
    names = record.keys()
    if not names <= _KNOWN:  # set comparisons decide; the first culprit is named in record order
        return next(AlertProblem(str(name)[:64], "unknown_field", "not a field of an alert")
                    for name in record if name not in _KNOWN)
    if not names >= _REQUIRED:  # ... and in field order
        return next(AlertProblem(name, "missing_field", "required") for name in REQUIRED_FIELDS if name not in record)
    number = record["document_number"]
    if not isinstance(number, str) or not 1 <= len(number) <= MAX_NUMBER_CHARS:
        return AlertProblem("document_number", "bad_field", f"a string of 1..{MAX_NUMBER_CHARS} characters")
    if not normalise_document_number(number):
        return AlertProblem("document_number", "bad_field", "nothing left after removing spaces and separators")
    kind = record["document_type"]
    if not isinstance(kind, str) or kind not in _DOCUMENT_TYPES:  # a list is not one of them (nor unhashable)
        return AlertProblem("document_type", "bad_field", f"one of {', '.join(DOCUMENT_TYPES)}")
    country = record["issuing_country"]
    if not isinstance(country, str) or _COUNTRY.fullmatch(country) is None:
        return AlertProblem("issuing_country", "bad_field", "ISO 3166-1 alpha-3, upper case")
    status = record["status"]
    if not isinstance(status, str) or status not in _STATUSES:  # a list is not one of them (nor unhashable)
        return AlertProblem("status", "bad_field", f"one of {', '.join(STATUSES)}")
    action = record["action"]
    if not isinstance(action, str) or action not in _ACTIONS:  # a list is not one of them (nor unhashable)
        return AlertProblem("action", "bad_field", f"one of {', '.join(ACTIONS)}")
    if not _is_date(record["reported"]):
        return AlertProblem("reported", "bad_field", "a date YYYY-MM-DD")
    for name in DATE_FIELDS:
        if name in record and not _is_date(record[name]):
            return AlertProblem(name, "bad_field", "a date YYYY-MM-DD")
    if "national_reference" in record:
        ref = record["national_reference"]
        if not isinstance(ref, str) or len(ref) > MAX_REFERENCE_CHARS:
            return AlertProblem("national_reference", "bad_field", f"a string of at most {MAX_REFERENCE_CHARS} characters")
    return None


@dataclass(frozen=True)
class AlertSchema(Schema):
    """The `alert.document` payload, checked by `alert_problem`."""

    def check(self, value: Any, path: str, reason: str) -> None:
        problem = alert_problem(value)
        if problem is not None:
            where = path if problem.field == "$" else f"{path}.{problem.field}"
            raise DecodeError(reason, f"{where}: {problem.detail}")


@dataclass(frozen=True)
class AlertBatchSchema(Schema):
    """The `alert.document.batch` payload: {"alerts": [alert, ...]}, 1..MAX_BATCH_ALERTS of them."""

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, dict) or value.keys() != {"alerts"}:
            raise DecodeError(reason, f"{path}: a batch is exactly {{\"alerts\": [...]}}")
        alerts = value["alerts"]
        if not isinstance(alerts, list) or not 1 <= len(alerts) <= MAX_BATCH_ALERTS:
            raise DecodeError(reason, f"{path}.alerts: a list of 1..{MAX_BATCH_ALERTS} alerts")
        for i, record in enumerate(alerts):
            problem = alert_problem(record)
            if problem is not None:
                where = f"{path}.alerts[{i}]" + ("" if problem.field == "$" else f".{problem.field}")
                raise DecodeError(reason, f"{where}: {problem.detail}")


ALERT = AlertSchema()
ALERT_BATCH = AlertBatchSchema()

# A hit is reported to the issuing country only: which alert, when, where, which kind of check.
# The checking country is the sender; nothing about the traveller is carried.
HIT = Obj(
    required={
        "issuing_country": NODE_ID,
        "document_type": Enum(*DOCUMENT_TYPES),
        "document_number": Str(min_len=1, max_len=MAX_NUMBER_CHARS),  # normalised
        "status": Enum(*STATUSES),  # the alert's status as the checking node held it
        "checked_at": TIMESTAMP,
        "check": Enum(*CHECK_KINDS),
        "point": Str(max_len=120),  # e.g. "Soekarno-Hatta airport, gate 3"
    },
)


# -- policy -------------------------------------------------------------------------------------

def only_the_issuing_country_alerts(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    if body["issuing_country"] != env.sender:
        raise PolicyError("not_issuing_country",
                          f"{env.sender} may not alert on a document issued by {body['issuing_country']}")


def only_the_issuing_country_alerts_in_batches(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """The whole batch is refused if any one alert is on another country's document."""
    sender = env.sender
    for i, record in enumerate(body["alerts"]):
        if record["issuing_country"] != sender:
            raise PolicyError("not_issuing_country",
                              f"alerts[{i}]: {sender} may not alert on a document issued by "
                              f"{record['issuing_country']}")


def hits_go_to_the_issuing_country(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    if env.recipients != (body["issuing_country"],):
        raise PolicyError("hit_not_to_issuer", "a hit is reported to the issuing country alone")


# -- the replica's merge rule -------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)  # per alert at every node; a feed's dates repeat
def default_review_date(reported: str) -> str:
    """`reported` (a valid date) plus DEFAULT_REVIEW_YEARS; 29 February becomes 28 February in a
    common year. String arithmetic: a feed computes this a million times."""
    year = int(reported[:4]) + DEFAULT_REVIEW_YEARS
    month_day = reported[4:]
    if month_day == "-02-29" and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        month_day = "-02-28"
    return f"{year:04d}{month_day}"


def review_date(record: Mapping[str, Any]) -> str:
    return record.get("review_date") or default_review_date(record["reported"])


# -- how long a stored alert message is kept (protocol/retention.py) ------------------------------

def alert_kept_until(record: Mapping[str, Any], created: str) -> str:
    """The last day an alert sent at `created` is kept (replica and message store): its review date,
    at most DEFAULT_REVIEW_YEARS after it was sent. The bound counts from the envelope's `created`,
    which the hub holds to its clock, not from `reported`, which the sender writes freely."""
    return min(review_date(record), sent_bound(created))


def sent_bound(created: str) -> str:
    """The last day any alert sent at `created` may be kept: DEFAULT_REVIEW_YEARS after it (the
    same for every alert of a message, so a batch computes it once)."""
    return default_review_date(parse_time(created).date().isoformat())


def alert_message_kept_until(created: str, body: Mapping[str, Any]) -> str:
    return alert_kept_until(body, created)


def batch_kept_until(created: str, body: Mapping[str, Any]) -> str:
    """A batch is kept as long as its longest-kept alert (alert_kept_until of each: the bound from
    `created` is the same for all, so it is applied once, to the latest review date)."""
    latest = max(review_date(record) for record in body["alerts"])
    return min(latest, sent_bound(created))


def version_key(created: str, message_id: str, index: int) -> str:
    """The order of alert versions: envelope `created`, then message id, then index in a batch.

    `created` is re-formatted with six fraction digits so that the keys compare as strings.
    """
    return f"{format_time(parse_time(created))}~{message_id}~{index:04d}"


def document_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """(issuing country, document type, normalised number): one replica entry per document."""
    return (record["issuing_country"], record["document_type"],
            normalise_document_number(record["document_number"]))


def content_hash(record: Mapping[str, Any]) -> str:
    """The same alert submitted twice has one hash: every field, the number normalised."""
    values = [normalise_document_number(record["document_number"])]
    values += [record.get(name, "") for name in FIELDS[1:]]
    try:  # the bytes json.dumps(values, ensure_ascii=False) writes for a list of strings
        text = "[" + ", ".join(map(_JSON_STRING, values)) + "]"
    except TypeError:
        if all(isinstance(value, str) for value in values):
            raise
        text = _HASHED_JSON(values)  # a value that is not a string (a record not checked by alert_problem)
    return hashlib.sha256(text.encode()).hexdigest()


_HASHED_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), made once
_JSON_STRING = json.encoder.encode_basestring  # that encoder's quoting of one string (C)


@dataclass(frozen=True, slots=True)
class AlertVersion:
    key: str  # version_key(...)
    action: str  # create | update | withdraw
    record: Any  # what the replica shows for this version (opaque here)


@dataclass(frozen=True, slots=True)
class ReplicaEntry:
    """One document in a replica, tombstones included.

    `lifecycle_key`: the newest create or withdraw; `withdrawn`: that one was a withdraw.
    `update_key`: the newest update, kept only while it is newer than the lifecycle version.
    `record`: the record of the newest of those two.
    """

    lifecycle_key: str | None
    withdrawn: bool
    update_key: str | None
    record: Any

    @property
    def active(self) -> bool:
        return not self.withdrawn


def merge(current: ReplicaEntry | None, incoming: AlertVersion) -> ReplicaEntry | None:
    """The replica entry after `incoming`, or None when it changes nothing.

    Equal to applying every version received so far in key order, where an update of a withdrawn
    alert is ignored (a withdraw is final until a later create) and an update of an unknown alert
    stands on its own. That state depends only on the newest create-or-withdraw and the newest
    update after it, two maximums: so redelivery and any arrival order give the same entry.
    """
    if incoming.action == "update":
        if current is None:
            return ReplicaEntry(None, False, incoming.key, incoming.record)
        if current.lifecycle_key is not None and incoming.key <= current.lifecycle_key:
            return None
        if current.update_key is not None and incoming.key <= current.update_key:
            return None
        # On a tombstone the update stays pending: it shows only if a create older than it comes.
        return ReplicaEntry(current.lifecycle_key, current.withdrawn, incoming.key, incoming.record)
    withdrawn = incoming.action == "withdraw"
    if current is None:
        return ReplicaEntry(incoming.key, withdrawn, None, incoming.record)
    if current.lifecycle_key is not None and incoming.key <= current.lifecycle_key:
        return None
    if current.update_key is not None and current.update_key > incoming.key:
        # A newer update stays pending over this lifecycle version, with its record.
        return ReplicaEntry(incoming.key, withdrawn, current.update_key, current.record)
    return ReplicaEntry(incoming.key, withdrawn, None, incoming.record)


MESSAGE_CLASS = MessageClass("alerts", (
    MessageType("alert.document", "node", header=Obj(), broadcast=True, body=ALERT,
                body_rule=only_the_issuing_country_alerts, kept_until=alert_message_kept_until),
    # Up to 1,000 alerts (<= ~2.5 KiB each on the wire, worst case) under one signature.
    MessageType("alert.document.batch", "node", header=Obj(), broadcast=True, body=ALERT_BATCH,
                max_bytes=4 * MiB, body_rule=only_the_issuing_country_alerts_in_batches,
                kept_until=batch_kept_until),
    MessageType("alert.hit", "node", header=Obj(), body=HIT, body_rule=hits_go_to_the_issuing_country,
                retention_days=365),
))
