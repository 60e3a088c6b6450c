"""Person alerts (COP resolution 6/3 paragraph 16: persons convicted or suspected of smuggling
offences): the `person.alert` body for create / update / withdraw, its rules, and the issuer-only
policy. Pure: no I/O, no clock reads (the review date counts from the body's `reported`).

Also the `person.hit` body (a border check matched an alert: told to its issuer alone, with nothing
about any other traveller) and its rule. docs/person-alerts.md explains the decisions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from protocol.errors import DecodeError, FieldProblem, PolicyError
from protocol.message_class import EnvelopeView, MessageClass, MessageType
from protocol.schema import NODE_ID, TIMESTAMP, Enum, Int, Obj, Schema, Str
from protocol.transliteration import TransliterationError, script_of, transliterate

ACTIONS = ("create", "update", "withdraw")
BASES = ("convicted", "suspected", "wanted_for_extradition")
SEXES = ("M", "F", "X")  # X: unspecified, as in Doc 9303
HANDLING_CODES = ("H0", "H1", "H2", "H3")
SCRIPTS_WITH_A_TABLE = frozenset({"Latn", "Cyrl", "Grek", "Arab"})  # protocol/transliteration.py
DEFAULT_REVIEW_YEARS = 3
MAX_REVIEW_YEARS = 5
MAX_NAME_CHARS = 200
MAX_LATIN_CHARS = 200
MAX_REFERENCE_CHARS = 100
MAX_LEGAL_BASIS_CHARS = 500
MAX_REASON_CHARS = 500
MAX_RECIPIENTS = 250
CHECK_KINDS = ("border", "visa", "police", "carrier", "other")
DATE_OF_BIRTH_AGREEMENTS = ("agrees", "agrees at month", "agrees at year", "differs", "unknown")

RECORD_FIELDS = {  # create and update carry the whole record
    "required": ("action", "issuer", "national_reference", "reported", "subject", "basis", "legal_basis",
                 "handling_code", "recipients"),
    "optional": ("review_date",),
}
WITHDRAW_FIELDS = {"required": ("action", "issuer", "national_reference", "reported"), "optional": ("reason",)}
SUBJECT_FIELDS = {"required": ("family_name",),
                  "optional": ("given_names", "date_of_birth", "nationality", "sex", "smuggled_migrant")}
NAME_FIELDS = {"required": ("text", "script", "latin"), "optional": ("language",)}

_COUNTRY = re.compile(r"[A-Z]{3}")
_REFERENCE = re.compile(r"[A-Za-z0-9._/-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_SCRIPT = re.compile(r"[A-Z][a-z]{3}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_LATIN = re.compile(r"[A-Z]+( [A-Z]+)*")


def _fields(value: Any, where: str, spec: Mapping[str, tuple[str, ...]]) -> FieldProblem | None:
    if not isinstance(value, dict):
        return FieldProblem(where, "bad_field", "expected an object")
    known = set(spec["required"]) | set(spec["optional"])
    for name in value:
        if name not in known:
            return FieldProblem(f"{where}.{str(name)[:64]}", "unknown_field", "not a field of a person alert")
    for name in spec["required"]:
        if name not in value:
            return FieldProblem(f"{where}.{name}", "missing_field", "required")
    return None


def _text(value: Any, where: str, limit: int, *, pattern: re.Pattern[str] | None = None,
          what: str = "") -> FieldProblem | None:
    if not isinstance(value, str) or not value.strip():
        return FieldProblem(where, "bad_field", "a non-empty string")
    if len(value) > limit:
        return FieldProblem(where, "field_too_long", f"at most {limit} characters, not {len(value)}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in value):
        return FieldProblem(where, "bad_field", "control, format or unassigned characters")
    if pattern is not None and not pattern.fullmatch(value):
        return FieldProblem(where, "bad_field", what)
    return None


def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _partial_date_problem(value: Any, where: str, reported: str) -> FieldProblem | None:
    if not isinstance(value, str) or not _PARTIAL_DATE.fullmatch(value):
        return FieldProblem(where, "bad_field", "YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (value.split("-") + [None, None])[:3]
    if month is not None and not 1 <= int(month) <= 12:
        return FieldProblem(where, "bad_field", f"no month {month}")
    if day is not None and not _real_date(value):
        return FieldProblem(where, "bad_field", f"no such day {value}")
    if value > reported[:len(value)] or int(year) < 1880:
        return FieldProblem(where, "bad_field", "a birth date between 1880 and the alert's date")
    return None


def _name_problem(value: Any, where: str) -> FieldProblem | None:
    """The name as written in its script, the script's ISO 15924 code, the language (BCP 47), and
    the MRZ Latin form: computed by ICAO's table where there is one (and then it must agree),
    else the form printed in the document."""
    problem = _fields(value, where, NAME_FIELDS)
    if problem is None:
        problem = (_text(value["text"], f"{where}.text", MAX_NAME_CHARS)
                   or _text(value["script"], f"{where}.script", 4, pattern=_SCRIPT, what="an ISO 15924 code (Cyrl)")
                   or _text(value["latin"], f"{where}.latin", MAX_LATIN_CHARS, pattern=_LATIN,
                            what="MRZ Latin: A-Z, name parts separated by one space")
                   or ("language" in value and _text(value["language"], f"{where}.language", 35,
                                                     pattern=_LANGUAGE, what="a BCP 47 tag (ru, uk, zh-Hans)"))
                   or None)
    if problem is not None:
        return problem
    actual = script_of(value["text"])
    if actual != value["script"]:
        return FieldProblem(f"{where}.script", "script_mismatch",
                             f"the name is written in {actual}, not {value['script']}")
    if value["script"] in SCRIPTS_WITH_A_TABLE:
        try:
            computed = transliterate(value["text"], value.get("language"))
        except TransliterationError as error:
            return FieldProblem(f"{where}.text", error.reason, error.detail)
        if value["latin"] != computed:
            return FieldProblem(f"{where}.latin", "latin_mismatch",
                                 f"ICAO 9303 transliteration of the name is {computed!r}")
    return None


def _subject_problem(value: Any, reported: str) -> FieldProblem | None:
    problem = _fields(value, "subject", SUBJECT_FIELDS)
    if problem is not None:
        return problem
    if "smuggled_migrant" in value:
        if not isinstance(value["smuggled_migrant"], bool):
            return FieldProblem("subject.smuggled_migrant", "bad_field", "expected true or false")
        if value["smuggled_migrant"]:
            return FieldProblem("subject.smuggled_migrant", "smuggled_migrant_as_subject",
                                 "a smuggled migrant is never the subject of a person alert (Protocol article 5)")
    for name in ("family_name", "given_names"):
        if name in value:
            problem = _name_problem(value[name], f"subject.{name}")
            if problem is not None:
                return problem
    if "date_of_birth" in value:
        problem = _partial_date_problem(value["date_of_birth"], "subject.date_of_birth", reported)
        if problem is not None:
            return problem
    if "nationality" in value and (not isinstance(value["nationality"], str)
                                   or not _COUNTRY.fullmatch(value["nationality"])):
        return FieldProblem("subject.nationality", "bad_field", "ISO 3166-1 alpha-3, upper case")
    if "sex" in value and value["sex"] not in SEXES:
        return FieldProblem("subject.sex", "bad_field", f"one of {', '.join(SEXES)}")
    return None


def _recipients_problem(value: Any, issuer: str) -> FieldProblem | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        return FieldProblem("recipients", "bad_field", f'"all", or a list of 1..{MAX_RECIPIENTS} countries')
    for i, country in enumerate(value):
        if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
            return FieldProblem(f"recipients[{i}]", "bad_field", "ISO 3166-1 alpha-3, upper case")
    if len(set(value)) != len(value) or issuer in value:
        return FieldProblem("recipients", "bad_recipients", "a country twice, or the issuer itself")
    return None


def person_alert_problem(record: Any) -> FieldProblem | None:
    """None if `record` is a valid `person.alert` body, else the first thing wrong with it."""
    if not isinstance(record, dict):
        return FieldProblem("$", "bad_field", "a person alert is a JSON object")
    if "action" not in record:
        return FieldProblem("action", "missing_field", "required")
    if record["action"] not in ACTIONS:
        return FieldProblem("action", "bad_field", f"one of {', '.join(ACTIONS)}")
    problem = _fields(record, "$", WITHDRAW_FIELDS if record["action"] == "withdraw" else RECORD_FIELDS)
    if problem is not None:
        return FieldProblem(problem.field.removeprefix("$."), problem.reason, problem.detail)
    problem = (_text(record["issuer"], "issuer", 3, pattern=_COUNTRY, what="ISO 3166-1 alpha-3, upper case")
               or _text(record["national_reference"], "national_reference", MAX_REFERENCE_CHARS,
                        pattern=_REFERENCE, what="letters, digits and . _ / -"))
    if problem is not None:
        return problem
    reported = record["reported"]
    if not isinstance(reported, str) or not _DATE.fullmatch(reported) or not _real_date(reported):
        return FieldProblem("reported", "bad_field", "a date YYYY-MM-DD")
    if record["action"] == "withdraw":
        if "reason" in record:
            return _text(record["reason"], "reason", MAX_REASON_CHARS)
        return None
    if record["basis"] not in BASES:
        return FieldProblem("basis", "bad_field", f"one of {', '.join(BASES)}")
    if record["handling_code"] not in HANDLING_CODES:
        return FieldProblem("handling_code", "bad_field", f"one of {', '.join(HANDLING_CODES)}")
    problem = (_text(record["legal_basis"], "legal_basis", MAX_LEGAL_BASIS_CHARS)
               or _subject_problem(record["subject"], reported)
               or _recipients_problem(record["recipients"], record["issuer"]))
    if problem is not None:
        return problem
    if "review_date" in record:
        review = record["review_date"]
        if not isinstance(review, str) or not _DATE.fullmatch(review) or not _real_date(review):
            return FieldProblem("review_date", "bad_field", "a date YYYY-MM-DD")
        if not reported < review <= _years_after(reported, MAX_REVIEW_YEARS):
            return FieldProblem("review_date", "review_too_late",
                                 f"after the alert's date and at most {MAX_REVIEW_YEARS} years after it "
                                 f"({_years_after(reported, MAX_REVIEW_YEARS)})")
    return None


@dataclass(frozen=True)
class PersonAlertSchema(Schema):
    """The `person.alert` body, checked by `person_alert_problem`; refusals carry its reason code."""

    def check(self, value: Any, path: str, reason: str) -> None:
        problem = person_alert_problem(value)
        if problem is not None:
            where = path if problem.field == "$" else f"{path}.{problem.field}"
            raise DecodeError(problem.reason, f"{where}: {problem.detail}")


PERSON_ALERT = PersonAlertSchema()


def name_entry(text: str, script: str | None = None, language: str | None = None) -> dict[str, str]:
    """A name object with its computed Latin form, for a sender building a body. Raises
    TransliterationError for a script without an ICAO table (give `latin` yourself then)."""
    entry = {"text": text, "script": script or script_of(text), "latin": transliterate(text, language)}
    if language is not None:
        entry["language"] = language
    return entry


# -- dates -------------------------------------------------------------------------------------------

def _years_after(day: str, years: int) -> str:
    """`day` plus `years`; 29 February becomes 28 February in a common year."""
    year = int(day[:4]) + years
    month_day = day[4:]
    if month_day == "-02-29" and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        month_day = "-02-28"
    return f"{year:04d}{month_day}"


def review_date_after(reported: str, years: int) -> str:
    """The review date `years` after an alert's date (an issuer's own default, 1..MAX_REVIEW_YEARS)."""
    return _years_after(reported, years)


def latest_review_date(reported: str) -> str:
    """The latest review date an alert reported on `reported` may carry (reported + 5 years)."""
    return _years_after(reported, MAX_REVIEW_YEARS)


def review_date(record: Mapping[str, Any]) -> str:
    """The date by which the issuer reviews the alert: its own, else `reported` + 3 years."""
    return record.get("review_date") or _years_after(record["reported"], DEFAULT_REVIEW_YEARS)


# -- policy -----------------------------------------------------------------------------------------

def only_the_issuer_alerts(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """A person alert, its update and its withdrawal come from the issuing country itself."""
    if body["issuer"] != env.sender:
        raise PolicyError("not_issuer", f"{env.sender} may not send a person alert issued by {body['issuer']}")


def addressed_as_the_body_says(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """The envelope goes to the recipients the issuer chose: `*` for "all", else exactly the list.
    A withdrawal carries no list: it goes wherever the alert went (the issuer's outbox knows)."""
    if body["action"] == "withdraw":
        return
    wanted = ("*",) if body["recipients"] == "all" else tuple(sorted(body["recipients"]))
    if tuple(sorted(env.recipients)) != wanted:
        raise PolicyError("bad_recipients", "the envelope's recipients differ from the alert's recipients")


def alert_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """(issuer, national reference): one replica entry per alert."""
    return (record["issuer"], record["national_reference"])


# -- person.hit -------------------------------------------------------------------------------------

# Which alert, when, where, how strong: nothing about the traveller (no name, no document) and nothing
# about anyone else checked. The issuer calls the checking country's focal point for the rest.
PERSON_HIT = Obj(
    required={
        "issuer": NODE_ID,
        "national_reference": Str(min_len=1, max_len=MAX_REFERENCE_CHARS, pattern=r"[A-Za-z0-9._/-]+"),
        "checked_at": TIMESTAMP,
        "check": Enum(*CHECK_KINDS),
        "point": Str(max_len=120),
        "score": Int(minimum=0, maximum=100),  # the name match, in per cent (86 and more is a match)
        "date_of_birth": Enum(*DATE_OF_BIRTH_AGREEMENTS),
    },
)


def hits_go_to_the_issuer(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """A person hit is told to the country that issued the alert, and to nobody else."""
    if env.recipients != (body["issuer"],):
        raise PolicyError("hit_not_to_issuer", "a person hit is reported to the issuing country alone")


def person_alert_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """The body rules of `person.alert`: the issuer sends it, to the recipients it names."""
    only_the_issuer_alerts(env, body)
    addressed_as_the_body_says(env, body)


def person_alert_kept_until(created: str, body: Mapping[str, Any]) -> str:
    """The last day a person alert (and a stored copy of its message) is kept: its review date,
    and never more than MAX_REVIEW_YEARS after the message was sent, whatever `reported` says.
    A withdrawal carries no person data; it is kept as long as the alert it ends could be."""
    until = review_date(body) if body["action"] != "withdraw" else latest_review_date(body["reported"])
    return min(until, _years_after(created[:10], MAX_REVIEW_YEARS))


MESSAGE_CLASS = MessageClass("person", (
    # In clear like document alerts: the hub checks the issuer rule on the body (docs/person-alerts.md).
    MessageType("person.alert", "node", header=Obj(), broadcast=True, body=PERSON_ALERT, body_rule=person_alert_rule,
                kept_until=person_alert_kept_until, personal_data=True),
    MessageType("person.hit", "node", header=Obj(), body=PERSON_HIT, body_rule=hits_go_to_the_issuer,
                retention_days=365),
))
