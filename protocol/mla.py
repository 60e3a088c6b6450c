"""Mutual legal assistance and extradition requests: payload schemas, the rules their messages
must satisfy, and the request lifecycle as a pure state machine (resolution 6/3, paragraphs 9(c), 13).

Three sealed message types: `mla.request` (the request), `mla.status` (lifecycle events) and
`mla.response` (the requested State's answer: executed, partially executed or refused). Their
headers carry only what auditors may see; everything else is in the sealed body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from protocol import files as evidence_files
from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.errors import PolicyError, TransitionError
from protocol.message_class import EnvelopeView, MessageClass, MessageType, MiB
from protocol.profiles import check_languages
from protocol.schema import DATE, NODE_ID, SHA256_HEX, TIMESTAMP, Enum, Int, List, Nullable, Obj, Str

# Sealing base64-encodes the plaintext JSON, which base64-encodes the attachments: 16/9 growth.
MAX_ATTACHMENT_BYTES = 16 * MiB  # all attachments of one message together
MAX_ATTACHMENTS = 50

KINDS = ("mutual_legal_assistance", "extradition", "transfer_of_proceedings")
LEGAL_BASES = ("untoc_article_16", "untoc_article_18", "smuggling_of_migrants_protocol", "bilateral_treaty",
               "reciprocity")
# Smuggling of Migrants Protocol, article 6: the offences, and the aggravating circumstances of 6(3).
OFFENCES = ("art6_1_a_smuggling", "art6_1_b_i_producing_fraudulent_document",
            "art6_1_b_ii_procuring_providing_possessing_fraudulent_document", "art6_1_c_enabling_illegal_stay",
            "art6_2_a_attempt", "art6_2_b_participation", "art6_2_c_organizing_directing")
AGGRAVATING = ("art6_3_a_endangering_lives_or_safety", "art6_3_b_inhuman_or_degrading_treatment")
MEASURES = ("evidence_taking", "witness_hearing", "search_and_seizure", "service_of_documents",
            "financial_investigation", "asset_tracing", "freezing", "confiscation", "joint_investigation",
            "provisional_arrest", "surrender")
URGENCIES = ("routine", "urgent", "very_urgent")
PERSON_ROLES = ("suspect", "accused", "convicted", "witness", "victim", "smuggled_migrant", "other")
# Grounds of refusal that UNTOC articles 16 and 18 admit (18(21), 16(14), 16(10)) or a treaty may.
# Bank secrecy (18(8)) and fiscal matters (16(15), 18(22)) are deliberately absent: no refusal on them.
REFUSAL_GROUNDS = ("not_in_conformity_with_article_18", "sovereignty_security_ordre_public",
                   "prohibited_by_domestic_law", "contrary_to_legal_system", "discrimination",
                   "dual_criminality_absent", "own_national", "ne_bis_in_idem", "statute_of_limitations",
                   "insufficient_information", "other_treaty_ground")

REFERENCE = Str(min_len=1, max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9._/-]*")
ATTACHMENT = Obj(
    required={"name": Str(min_len=1, max_len=255, pattern=r"[^/\\\x00-\x1f]+"),
              "media_type": Str(min_len=3, max_len=127, pattern=r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+"),
              "size": Int(maximum=MAX_ATTACHMENT_BYTES), "sha256": SHA256_HEX,
              "content": Str(max_len=(MAX_ATTACHMENT_BYTES + 2) // 3 * 4, pattern=r"[A-Za-z0-9+/]*={0,2}")},
)
ATTACHMENTS = List(ATTACHMENT, max_items=MAX_ATTACHMENTS)
PERSON = Obj(
    required={"name": Str(min_len=1, max_len=300), "role": Enum(*PERSON_ROLES)},
    optional={"birth_date": DATE, "nationality": NODE_ID, "documents": List(Str(max_len=64), max_items=20),
              "notes": Str(max_len=4000)},
)
PARTIES = {"reference": REFERENCE, "requesting": NODE_ID, "requested": NODE_ID}

# -- Templates per measure (issue 17 part 2; docs/profiles.md) -------------------------------------
# What each measure needs: groups of fields, each group satisfied by any one of its fields (asset
# tracing: the institution, and the account or the holder), then the optional fields. Required when
# a request is composed (check_composition); optional on the wire, so a request from a node of the
# previous release, which sends no `measure_details`, is still accepted on receipt.
MEASURE_TEMPLATES: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]] = {
    "evidence_taking": ((("evidence",),), ("holder", "location")),
    "witness_hearing": ((("person",), ("questions",)), ("location",)),
    "search_and_seizure": ((("place",), ("items",)), ()),
    "service_of_documents": ((("addressee",),), ("address", "documents")),
    "financial_investigation": ((("institution",), ("account", "holder")), ("period",)),
    "asset_tracing": ((("institution",), ("account", "holder")), ("period",)),
    "freezing": ((("assets",),), ("institution", "account")),
    "confiscation": ((("assets",), ("order",)), ()),
    "joint_investigation": ((("purpose",), ("participants",)), ("duration",)),
    "provisional_arrest": ((("person",), ("warrant",)), ("location",)),
    "surrender": ((("person",), ("warrant",)), ()),
}
assert set(MEASURE_TEMPLATES) == set(MEASURES)


def measure_fields(measure: str) -> tuple[str, ...]:
    """Every field of a measure's template, required ones first."""
    groups, optional = MEASURE_TEMPLATES[measure]
    return tuple(dict.fromkeys([*(f for group in groups for f in group), *optional]))


MEASURE_DETAILS = Obj(optional={m: Obj(optional={f: Str(min_len=1, max_len=20_000) for f in measure_fields(m)})
                                for m in MEASURES})
LANGUAGE = Str(min_len=2, max_len=2, pattern=r"[a-z]{2}")  # ISO 639-1; protocol.profiles.LANGUAGES at composition
# -- end of the templates per measure ---------------------------------------------------------------

REQUEST = Obj(
    required={
        **PARTIES,
        "kind": Enum(*KINDS),
        "legal_basis": List(Enum(*LEGAL_BASES), min_items=1, max_items=len(LEGAL_BASES)),
        "offences": List(Enum(*OFFENCES), min_items=1, max_items=len(OFFENCES)),
        "measures": List(Enum(*MEASURES), min_items=1, max_items=len(MEASURES)),
        "urgency": Enum(*URGENCIES),
        "summary": Str(min_len=1, max_len=100_000),
    },
    optional={
        "treaty": Str(max_len=500),
        "aggravating": List(Enum(*AGGRAVATING), max_items=len(AGGRAVATING)),
        "urgency_reason": Str(min_len=1, max_len=4000),
        "deadline": Nullable(DATE),
        "persons": List(PERSON, max_items=200),
        "assets": Str(max_len=20_000),  # accounts, property and proceeds to trace, freeze or confiscate
        "attachments": ATTACHMENTS,
        # issue 17 part 2, optional on the wire (docs/profiles.md): the request's language, the
        # fields of each measure's template, and why a treaty requirement was overridden.
        "language": LANGUAGE,
        "measure_details": MEASURE_DETAILS,
        "treaty_override": Str(min_len=1, max_len=4000),
        "files": evidence_files.FILE_REFS,  # large files, each sent in chunks (protocol/files.py)
    },
)
REQUEST_HEADER = Obj(required={"reference": REFERENCE, "kind": Enum(*KINDS), "status": Enum("submitted"),
                               "urgency": Enum(*URGENCIES), "deadline": Nullable(DATE)})


class State(StrEnum):
    SUBMITTED = "submitted"
    NOT_DELIVERED = "not_delivered"  # the sender's view only: no delivery receipt in time
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    INFORMATION_REQUESTED = "additional_information_requested"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    REQUESTING = "requesting"
    REQUESTED = "requested"
    NODE = "node"  # the node itself, on delivery evidence or its absence; never in a message


TERMINAL = frozenset({State.EXECUTED, State.PARTIALLY_EXECUTED, State.REFUSED, State.WITHDRAWN})
OPEN = frozenset({State.RECEIVED, State.ACKNOWLEDGED, State.IN_PROGRESS, State.INFORMATION_REQUESTED})


@dataclass(frozen=True)
class Rule:
    name: str
    event: str
    sources: frozenset[State]
    target: State | None  # None: the state does not change (a reminder)
    actor: Role
    message_type: str | None  # the message that carries the event; None for the node's own events


def _rule(name: str, event: str, sources: set[State] | frozenset[State], target: State | None, actor: Role,
          message_type: str | None = "mla.status") -> Rule:
    return Rule(name, event, frozenset(sources), target, actor, message_type)


RULES: tuple[Rule, ...] = (
    _rule("delivery_evidenced", "deliver", {State.SUBMITTED, State.NOT_DELIVERED}, State.RECEIVED, Role.NODE, None),
    _rule("delivery_timed_out", "delivery_timeout", {State.SUBMITTED}, State.NOT_DELIVERED, Role.NODE, None),
    _rule("acknowledged", "acknowledge", {State.RECEIVED}, State.ACKNOWLEDGED, Role.REQUESTED),
    _rule("execution_started", "start", {State.ACKNOWLEDGED}, State.IN_PROGRESS, Role.REQUESTED),
    _rule("information_requested", "request_information", {State.ACKNOWLEDGED, State.IN_PROGRESS},
          State.INFORMATION_REQUESTED, Role.REQUESTED),
    _rule("information_supplied", "supply_information", {State.INFORMATION_REQUESTED}, State.IN_PROGRESS,
          Role.REQUESTING),
    _rule("executed", "execute", {State.IN_PROGRESS}, State.EXECUTED, Role.REQUESTED, "mla.response"),
    _rule("partially_executed", "execute_partially", {State.IN_PROGRESS}, State.PARTIALLY_EXECUTED,
          Role.REQUESTED, "mla.response"),
    _rule("refused", "refuse", OPEN, State.REFUSED, Role.REQUESTED, "mla.response"),
    _rule("withdrawn", "withdraw", OPEN | {State.SUBMITTED, State.NOT_DELIVERED}, State.WITHDRAWN, Role.REQUESTING),
    _rule("reminded", "remind", OPEN, None, Role.REQUESTING),
)
BY_EVENT: dict[str, Rule] = {r.event: r for r in RULES}
MESSAGE_EVENTS = tuple(r.event for r in RULES if r.message_type is not None)


def apply(state: State | str, event: str, actor: Role | str) -> State:
    """The state after `event` by `actor`; TransitionError naming the rule if it is not allowed."""
    rule = BY_EVENT.get(event)
    if rule is None:
        raise TransitionError("unknown_event", f"no lifecycle event {event[:64]!r}")
    if actor != rule.actor:
        raise TransitionError("wrong_party", f"rule {rule.name}: only the {rule.actor} State may {event}, "
                                             f"not the {actor}")
    state = State(state)
    if state not in rule.sources:
        allowed = ", ".join(sorted(rule.sources))
        raise TransitionError("illegal_transition", f"rule {rule.name}: {event} is not allowed when the request is "
                                                    f"{state} (only when {allowed})")
    return rule.target or state


def role_of(country: str, requesting: str, requested: str) -> Role:
    if country == requesting:
        return Role.REQUESTING
    if country == requested:
        return Role.REQUESTED
    raise TransitionError("not_party", f"{country} is neither the requesting ({requesting}) nor the requested "
                                       f"({requested}) State")


def thread_of(requesting: str, reference: str) -> str:
    """One thread per request: the requesting State's reference is unique among its requests."""
    return f"mla:{requesting}:{reference}"


EVENT = Obj(
    required={**PARTIES, "event": Enum(*MESSAGE_EVENTS)},
    optional={"note": Str(max_len=100_000), "grounds": List(Enum(*REFUSAL_GROUNDS), max_items=len(REFUSAL_GROUNDS)),
              "attachments": ATTACHMENTS, "at": TIMESTAMP,
              "files": evidence_files.FILE_REFS,  # large files, each sent in chunks (protocol/files.py)
              "language": LANGUAGE},  # the note's language, as a request's (issue 17; docs/mla.md)
)
EVENT_HEADER = Obj(required={"reference": REFERENCE, "kind": Enum(*KINDS), "event": Enum(*MESSAGE_EVENTS),
                             "status": Enum(*(s.value for s in State))})


def check_attachments(attachments: list[Mapping[str, Any]]) -> list[bytes]:
    """The decoded attachment contents, if each matches its stated size and SHA-256."""
    contents, total = [], 0
    for i, a in enumerate(attachments):
        try:
            content = decode_base64(a["content"], f"attachment {i}")
        except NonCanonicalEncoding as exc:
            raise PolicyError("attachment_mismatch", str(exc)) from None
        if len(content) != a["size"] or hashlib.sha256(content).hexdigest() != a["sha256"]:
            raise PolicyError("attachment_mismatch", f"attachment {i} ({a['name'][:80]!r}) does not match its "
                                                     "stated size and SHA-256")
        total += len(content)
        contents.append(content)
    if total > MAX_ATTACHMENT_BYTES:
        raise PolicyError("attachment_mismatch", f"attachments total {total} bytes > {MAX_ATTACHMENT_BYTES}")
    return contents


def _check_parties(env: EnvelopeView, body: Mapping[str, Any]) -> Role:
    role = role_of(env.sender, body["requesting"], body["requested"])
    other = body["requested"] if role is Role.REQUESTING else body["requesting"]
    if env.recipients != (other,):
        raise PolicyError("bad_recipients", f"an MLA message goes to the other State ({other}) alone")
    if env.thread != thread_of(body["requesting"], body["reference"]):
        raise PolicyError("header_mismatch", "the thread is not the request's thread")
    if env.header.get("reference") != body["reference"]:
        raise PolicyError("header_mismatch", "the header's reference is not the body's")
    return role


def request_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """Checked by the sender before sealing and by the recipient after opening."""
    if _check_parties(env, body) is not Role.REQUESTING:
        raise PolicyError("wrong_party", "a request is sent by the requesting State")
    expected = {"reference": body["reference"], "kind": body["kind"], "status": State.SUBMITTED.value,
                "urgency": body["urgency"], "deadline": body.get("deadline")}
    if env.header != expected:
        raise PolicyError("header_mismatch", "the header must repeat reference, kind, urgency and deadline")
    if body["urgency"] != "routine" and not body.get("urgency_reason"):
        raise PolicyError("urgency_without_reason", "an urgent request states why")
    if body["legal_basis"] == ["bilateral_treaty"] and not body.get("treaty"):
        raise PolicyError("treaty_not_named", "a request under a bilateral treaty names the treaty")
    check_attachments(body.get("attachments", []))
    evidence_files.check_file_refs(body.get("files", []))


def check_composition(body: Mapping[str, Any]) -> None:
    """What a new request must have when it is composed (not on receipt: see MEASURE_TEMPLATES):
    its language, an ISO 639-1 code, and every required field of each measure's template
    (PolicyError `measure_field_missing` naming the measure and the field)."""
    if "language" not in body:
        raise PolicyError("bad_body", "$.language: required (the ISO 639-1 code of the request's language)")
    check_languages([body["language"]], "language")
    details = body.get("measure_details") or {}
    extra = sorted(set(details) - set(body.get("measures") or ()))
    if extra:
        raise PolicyError("bad_body", f"measure_details for a measure not requested: {', '.join(extra)}")
    for measure in body.get("measures") or ():
        given = details.get(measure) or {}
        for group in MEASURE_TEMPLATES[measure][0]:
            if not any(str(given.get(name) or "").strip() for name in group):
                raise PolicyError("measure_field_missing", f"{measure}: {' or '.join(group)} is required "
                                                           f"(measure_details.{measure}.{group[0]})")


def check_answer(body: Mapping[str, Any]) -> None:
    """What an event must have when it is sent (not on receipt: a node of the previous release sends
    no `language`): a stated language is an ISO 639-1 code (PolicyError `unknown_language`)."""
    if "language" in body:
        check_languages([body["language"]], "language")


def event_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """An event is carried by its own message type, sent by the party its rule names."""
    rule = BY_EVENT[body["event"]]
    if rule.message_type != env.type:
        raise PolicyError("wrong_message_type", f"{body['event']} travels as {rule.message_type}, not {env.type}")
    if _check_parties(env, body) is not rule.actor:
        raise TransitionError("wrong_party", f"rule {rule.name}: only the {rule.actor} State may {body['event']}")
    if env.header.get("event") != body["event"]:
        raise PolicyError("header_mismatch", "the header's event is not the body's")
    if rule.target is not None and env.header.get("status") != rule.target:
        raise PolicyError("header_mismatch", f"{body['event']} leads to {rule.target}, the header says "
                                             f"{env.header.get('status')}")
    if (body["event"] == "refuse") != bool(body.get("grounds")):
        raise PolicyError("refusal_grounds", "a refusal states its grounds, and only a refusal has grounds")
    check_attachments(body.get("attachments", []))
    evidence_files.check_file_refs(body.get("files", []))


# Legal records: a request may stay open for years, so its messages are kept ten.
MESSAGE_CLASS = MessageClass("mla", (
    MessageType("mla.request", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=REQUEST_HEADER, body=REQUEST, body_rule=request_rule, retention_days=3650),
    MessageType("mla.status", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=EVENT_HEADER, body=EVENT, body_rule=event_rule, retention_days=3650),
    MessageType("mla.response", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=EVENT_HEADER, body=EVENT, body_rule=event_rule, retention_days=3650),
))
