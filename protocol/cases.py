"""Migrant-smuggling case information (Protocol articles 6, 10; COP resolution 6/3 paragraphs 14,
16, 17): the `case.*` payloads, the article-5 rule, handling-code rules (SIENA H0–H3), search keys
and the statistics of paragraph 17. Pure: no I/O, no clock reads (callers pass times in).

docs/cases.md explains the decisions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from protocol.errors import DecodeError, PolicyError
from protocol.message_class import EnvelopeView, MessageClass, MessageType, MiB
from protocol.schema import (
    DATE, UUID, Bool, Enum, Int, List, Num, Obj, Schema, Str,
)

COUNTRY = Str(min_len=3, max_len=3, pattern=r"[A-Z]{3}")
REFERENCE = Str(min_len=1, max_len=100, pattern=r"[A-Za-z0-9._/-]+")
TEXT = Str(max_len=4000)

# Protocol article 6: paragraph 1 (a), (b)(i), (b)(ii), (c); paragraph 2 (a)-(c); paragraph 3 (a), (b).
OFFENCES = ("6.1.a", "6.1.b.i", "6.1.b.ii", "6.1.c", "6.2.a", "6.2.b", "6.2.c")
AGGRAVATING = ("6.3.a", "6.3.b")
SUSPECT_ROLES = ("suspected", "convicted", "organiser", "facilitator", "financier")
ROLES = (*SUSPECT_ROLES, "witness", "victim")
MIGRANT_ROLES = frozenset({"witness", "victim"})  # Protocol article 5: migrants are not prosecuted for being smuggled
SOURCE_RELIABILITY = ("A", "B", "C", "X")
EVENT_KINDS = ("interception", "rescue", "departure", "landing", "arrest", "seizure", "other")
HANDLING_CODES = ("H0", "H1", "H2", "H3")

PARTIAL_DATE = Str(min_len=4, max_len=10, pattern=r"\d{4}(-\d{2}(-\d{2})?)?")
DOCUMENT = Obj(
    required={"number": Str(min_len=1, max_len=64)},
    optional={"type": Str(max_len=64), "issuing_country": COUNTRY, "expiry_date": DATE},
)
PERSON = Obj(
    required={"role": Enum(*ROLES), "name": Str(min_len=1, max_len=200), "legal_basis": Str(min_len=1, max_len=500)},
    optional={
        "aliases": List(Str(min_len=1, max_len=200), max_items=50),
        "date_of_birth": PARTIAL_DATE,
        "nationalities": List(COUNTRY, max_items=10),
        "documents": List(DOCUMENT, max_items=50),
        "smuggled_migrant": Bool(),
        "notes": TEXT,
    },
)
MARITIME = Obj(optional={
    "vessel_name": Str(max_len=200), "vessel_type": Str(max_len=100), "flag": COUNTRY,
    "imo": Str(min_len=7, max_len=7, pattern=r"\d{7}"), "mmsi": Str(min_len=9, max_len=9, pattern=r"\d{9}"),
    "position": Obj(required={"lat": Num(-90, 90), "lon": Num(-180, 180)}),
    "persons_on_board": Int(maximum=100000), "deaths": Int(maximum=100000), "missing": Int(maximum=100000),
    "departure_place": Str(max_len=200), "destination": Str(max_len=200),
})
EVENT = Obj(
    required={"kind": Enum(*EVENT_KINDS), "date": DATE},
    optional={"country": COUNTRY, "place": Str(max_len=200), "authority": Str(max_len=200),
              "maritime": MARITIME, "description": TEXT},
)
ROUTE = Obj(
    required={"countries": List(COUNTRY, min_items=1, max_items=30)},
    optional={"legs": List(Obj(required={"from": COUNTRY, "to": COUNTRY, "mode": Enum("sea", "land", "air")},
                               optional={"via": Str(max_len=200)}), max_items=30)},
)
MONEY = Obj(required={"amount": Num(0, 1e15), "currency": Str(min_len=3, max_len=3, pattern=r"[A-Z]{3}")})
FINANCIAL = Obj(optional={
    "accounts": List(Obj(required={"id": Str(min_len=1, max_len=64)},
                         optional={"institution": Str(max_len=200), "country": COUNTRY, "number": Str(max_len=64),
                                   "holder": Str(max_len=200)}), max_items=200),
    "flows": List(Obj(required={"kind": Enum("payment", "transfer", "proceeds", "seizure"), **MONEY.required},
                      optional={"date": DATE, "from_account": Str(max_len=64), "to_account": Str(max_len=64),
                                "description": Str(max_len=1000)}), max_items=1000),
    "proceeds_estimate": MONEY,
})
EVALUATION = Obj(required={"source": Enum(*SOURCE_RELIABILITY), "information": Int(minimum=1, maximum=4)})
PROVENANCE = Obj(required={"provider": COUNTRY, "reference": REFERENCE, "message_id": UUID},
                 optional={"permissions": List(Str(max_len=65536), max_items=20)})

_CASE_FIELDS = {
    "required": {"reference": REFERENCE, "offences": List(
        Obj(required={"article": Enum(*OFFENCES)}, optional={"aggravating": List(Enum(*AGGRAVATING), max_items=2)}),
        min_items=1, max_items=20), "evaluation": EVALUATION},
    "optional": {"title": Str(max_len=200), "summary": TEXT, "persons": List(PERSON, max_items=2000),
                 "events": List(EVENT, max_items=2000), "routes": List(ROUTE, max_items=50),
                 "modus_operandi": List(TEXT, max_items=50), "financial": FINANCIAL},
}


@dataclass(frozen=True)
class CaseSchema(Schema):
    """The case object, plus the rules a structural schema cannot say (article 5, IMO check digit)."""

    with_provenance: bool = False

    def check(self, value: Any, path: str, reason: str) -> None:
        optional = dict(_CASE_FIELDS["optional"])
        if self.with_provenance:
            optional["provenance"] = PROVENANCE
        Obj(required=_CASE_FIELDS["required"], optional=optional).check(value, path, reason)
        for i, person in enumerate(value.get("persons", ())):
            if person.get("smuggled_migrant") and person["role"] not in MIGRANT_ROLES:
                raise DecodeError("smuggled_migrant_as_suspect",
                                  f"{path}.persons[{i}]: a smuggled migrant may appear only as a victim or "
                                  f"witness, not as {person['role']} (Protocol article 5)")
        for i, event in enumerate(value.get("events", ())):
            imo = event.get("maritime", {}).get("imo")
            if imo is not None and not imo_is_valid(imo):
                raise DecodeError(reason, f"{path}.events[{i}].maritime.imo: check digit does not match")


CASE = CaseSchema()
CASE_SHARE = CaseSchema(with_provenance=True)  # the body of `case.share`
CASE_WITHDRAW = Obj(required={"provider": COUNTRY, "reference": REFERENCE}, optional={"reason": Str(max_len=500)})
CASE_PERMISSION = Obj(  # clear: a third country must be able to verify it (docs/cases.md)
    required={"reference": REFERENCE, "recipient": COUNTRY, "to": List(COUNTRY, min_items=1, max_items=50)},
    optional={"condition": Str(max_len=1000)},
)
CASE_JIT = Obj(required={"members": List(COUNTRY, min_items=2, max_items=50)},
               optional={"title": Str(max_len=200), "reference": REFERENCE})
CASE_MESSAGE = Obj(required={"text": Str(min_len=1, max_len=20000)}, optional={"reference": REFERENCE})
ADDITION = Obj(optional={**_CASE_FIELDS["optional"], "offences": _CASE_FIELDS["required"]["offences"],
                         "evaluation": EVALUATION})


def imo_is_valid(imo: str) -> bool:
    """IMO ship number: seven digits, the last = sum(digit_i * (7 - i) for the first six) mod 10."""
    if not re.fullmatch(r"\d{7}", imo):
        return False
    return sum(int(d) * w for d, w in zip(imo[:6], range(7, 1, -1))) % 10 == int(imo[6])


def normalise_imo(text: str) -> str:
    """'IMO 9074729' and '9074729' are one ship."""
    return re.sub(r"\D", "", text)


# -- handling codes -----------------------------------------------------------------------------

NOTICES = {
    "H0": "No restriction beyond the purpose of preventing and combating crime.",
    "H1": "Not to be used in judicial proceedings without the provider's permission.",
    "H2": "Not to be disseminated (no onward transfer) without the provider's permission.",
}


def handling_notices(handling: Mapping[str, Any]) -> list[str]:
    """What a user must see next to the data: the code's rule, and an H3 condition verbatim."""
    code = handling["code"]
    notices = [NOTICES[code]] if code in NOTICES else []
    if handling.get("condition"):
        notices.append(f"Provider's condition: {handling['condition']}")
    return notices


def usable_in_judicial_proceedings(handling: Mapping[str, Any]) -> bool:
    return handling["code"] != "H1"


def check_onward_transfer(handling: Mapping[str, Any], targets: Iterable[str], permitted: Iterable[str]) -> None:
    """PolicyError `onward_transfer_not_permitted` unless every target may receive this case.

    `permitted` is every country named by a permission of the provider on file; only H2 needs one.
    """
    if handling["code"] != "H2":
        return
    missing = sorted(set(targets) - set(permitted))
    if missing:
        raise PolicyError("onward_transfer_not_permitted",
                          f"H2: no permission from the provider on file for {', '.join(missing)}")


def retention_until(created: datetime, retention_days: int) -> datetime:
    return created + timedelta(days=retention_days)


def onward_handling(handling: Mapping[str, Any], until: datetime, now: datetime) -> dict[str, Any]:
    """The handling of an onward share: the provider's code and condition, its remaining retention."""
    remaining = max(1, -(-(until - now) // timedelta(days=1)))
    return {**dict(handling), "retention_days": remaining}


def check_case_share(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """Body rule (at sender and recipient): a retention period, H3's condition, honest provenance."""
    handling = env.handling
    if "retention_days" not in handling:
        raise PolicyError("retention_required", "case.share needs handling.retention_days")
    if handling["code"] == "H3" and not handling.get("condition"):
        raise PolicyError("condition_required", "H3 needs its condition in handling.condition")
    provenance = body.get("provenance")
    if provenance is not None and provenance["provider"] == env.sender:
        raise PolicyError("bad_provenance", "provenance names the sender itself: that is a plain share")


def check_case_permission(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    if list(env.recipients) != [body["recipient"]]:
        raise PolicyError("bad_recipients", "a case.permission goes to the country it permits, alone")
    if env.sender in body["to"] or body["recipient"] in body["to"]:
        raise PolicyError("bad_permission", "a permission names third countries, not the provider or recipient")


def check_forwarded_permission(permission: EnvelopeView, body: Mapping[str, Any], provenance: Mapping[str, Any],
                               resharer: str, me: str) -> None:
    """A verified `case.permission` carried by an onward share: does it let `resharer` send to `me`?"""
    if permission.type != "case.permission" or permission.sender != provenance["provider"]:
        raise PolicyError("onward_transfer_not_permitted", "the permission is not the provider's")
    if body["reference"] != provenance["reference"]:
        raise PolicyError("onward_transfer_not_permitted", "the permission is for another case")
    if body["recipient"] != resharer or me not in body["to"]:
        raise PolicyError("onward_transfer_not_permitted", f"the permission does not let {resharer} pass it to {me}")


# -- joint investigation threads ------------------------------------------------------------------

def jit_recipients(members: Sequence[str], me: str) -> list[str]:
    """Every later message of a joint investigation goes to every other member."""
    if me not in members:
        raise PolicyError("not_a_jit_member", f"{me} is not a member of this joint investigation")
    return [m for m in members if m != me]


JIT_THREAD_PREFIX = "jit:"


def jit_thread(message_id: str) -> str:
    """The thread a joint investigation opened by message `message_id` lives in."""
    return f"{JIT_THREAD_PREFIX}{message_id}"


def check_jit_opening(env: EnvelopeView) -> None:
    """A `case.jit` opens a thread of its own, named after its own id: no member can claim a thread
    another country's traffic already uses (e.g. the predictable `case:<provider>:<reference>`) and
    so make that country's later messages in it fail the membership check."""
    if env.thread != jit_thread(env.id):
        raise PolicyError("bad_jit_thread",
                          f"a case.jit opens the thread {jit_thread(env.id)} (its own id), not {env.thread!r}")


def check_jit_message(members: Sequence[str], sender: str, recipients: Sequence[str]) -> None:
    if sender not in members:
        raise PolicyError("not_a_jit_member", f"{sender} is not a member of this joint investigation")
    if set(recipients) | {sender} != set(members):
        raise PolicyError("jit_not_addressed_to_all", "a joint-investigation message goes to every member")


# -- adding information ----------------------------------------------------------------------------

def add_information(case: Mapping[str, Any], addition: Mapping[str, Any]) -> dict[str, Any]:
    """Lists are appended to, objects and texts replaced; the result is checked as a case."""
    merged = dict(case)
    for name, value in addition.items():
        if isinstance(value, list):
            merged[name] = [*merged.get(name, []), *value]
        elif name == "financial":
            fin = dict(merged.get("financial", {}))
            for key, part in value.items():
                fin[key] = [*fin.get(key, []), *part] if isinstance(part, list) else part
            merged["financial"] = fin
        else:
            merged[name] = value
    CASE.check(merged, "$", "bad_body")
    return merged


# -- search keys -------------------------------------------------------------------------------------

_LATIN = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i",
          "ħ": "h", "ŀ": "l", "'": "", "’": "", "ʼ": "", "`": ""}
# ICAO Doc 9303 transliteration, lower case (the text is case-folded first).
_CYRILLIC = dict(zip("абвгдезийклмнопрстуфыэіїґ", "abvgdeziiklmnoprstufyeiig")) | {
    "ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ь": "", "ю": "iu",
    "я": "ia", "є": "ie", "ё": "e"}
_GREEK = dict(zip("αβγδεζηικλμνξοπρστυφω", "avgdeziiklmnxoprstyfo")) | {"θ": "th", "χ": "ch", "ψ": "ps", "ς": "s"}
_FOLD = str.maketrans(_LATIN | _CYRILLIC | _GREEK)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def fold_name(text: str) -> str:
    """A search key: 'José ÁLVAREZ-López' → 'jose alvarez lopez'; Cyrillic and Greek transliterated."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ου", "ou")
    return " ".join(_NOT_ALNUM.sub(" ", stripped.translate(_FOLD)).split())


def name_tokens(text: str) -> list[str]:
    return sorted(set(fold_name(text).split()))


# -- statistics (paragraph 17) ---------------------------------------------------------------------

STAT_COLUMNS = ("period", "country", "route", "cases", "persons", "suspects", "interceptions",
                "persons_on_board", "deaths", "missing")


def route_label(case: Mapping[str, Any]) -> str:
    routes = case.get("routes") or []
    return ">".join(routes[0]["countries"]) if routes else "unknown"


def case_period(case: Mapping[str, Any], fallback: str) -> str:
    """The month (YYYY-MM) of the case's earliest event, else of `fallback` (a date or time text)."""
    dates = sorted(e["date"] for e in case.get("events", ()))
    return (dates[0] if dates else fallback)[:7]


def case_statistics(cases: Iterable[tuple[str, Mapping[str, Any], str]]) -> list[dict[str, Any]]:
    """Counts by period, country (the provider) and route, from (provider, case, stored_at) records.

    A case held twice (from its provider and through an onward share) counts once.
    """
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    seen: set[tuple[str, str]] = set()
    for provider, case, stored_at in cases:
        if (provider, case["reference"]) in seen:
            continue
        seen.add((provider, case["reference"]))
        key = (case_period(case, stored_at), provider, route_label(case))
        row = rows.setdefault(key, dict(zip(STAT_COLUMNS, (*key, 0, 0, 0, 0, 0, 0, 0))))
        persons = case.get("persons", ())
        row["cases"] += 1
        row["persons"] += len(persons)
        row["suspects"] += sum(1 for p in persons if p["role"] in SUSPECT_ROLES)
        for event in case.get("events", ()):
            sea = event.get("maritime", {})
            row["interceptions"] += event["kind"] == "interception"
            row["persons_on_board"] += sea.get("persons_on_board", 0)
            row["deaths"] += sea.get("deaths", 0)
            row["missing"] += sea.get("missing", 0)
    return [rows[k] for k in sorted(rows)]


MESSAGE_CLASS = MessageClass("cases", (
    MessageType("case.share", "node", sealed=True, receipted=True, max_bytes=8 * MiB,
                header=Obj(optional={"reference": Str(max_len=128)}), body=CASE_SHARE,
                body_rule=check_case_share, retention_days=1825),  # a held case's carriers go with the case
    MessageType("case.withdraw", "node", sealed=True, receipted=True,
                header=Obj(optional={"reference": Str(max_len=128)}), body=CASE_WITHDRAW, retention_days=1825),
    MessageType("case.permission", "node", receipted=True, header=Obj(), body=CASE_PERMISSION,
                body_rule=check_case_permission, retention_days=1825),
    # joint investigations: three years after each message
    MessageType("case.jit", "node", sealed=True, receipted=True, header=Obj(), body=CASE_JIT,
                envelope_rule=check_jit_opening, retention_days=1095),
    MessageType("case.message", "node", sealed=True, receipted=True, header=Obj(), body=CASE_MESSAGE,
                retention_days=1095),
))
