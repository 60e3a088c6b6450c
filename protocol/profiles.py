"""Competent-authority profiles (UNTOC articles 16(5), 18(13), 18(14); issue 17 part 2): what each
State requires of a request it receives, published by that State, signed by its own node key, and
broadcast through the hub as `profile.publish`. Every node keeps the newest profile per country
(the highest serial) and checks a request against the requested State's profile before sealing it.

Pure: the schema, the publication rule, the serial rule and the pre-send check (docs/profiles.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.errors import PolicyError
from protocol.message_class import EnvelopeView, MessageClass, MessageType
from protocol.schema import NODE_ID, TIMESTAMP, Bool, Enum, Int, List, Obj, Str

# ISO 639-1: the two-letter language codes (a request's language and the languages a State accepts).
LANGUAGES = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo
es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg
ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta
te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())
LANGUAGE = Str(min_len=2, max_len=2, pattern=r"[a-z]{2}")  # and in LANGUAGES: check_languages
# Art. 18(13): in urgent circumstances, where the States agree, through INTERPOL if possible.
URGENT_CHANNELS = ("interpol", "central_authority_direct", "diplomatic", "liaison_officer")

AUTHORITY = Obj(required={"name": Str(min_len=1, max_len=300), "contact": Str(min_len=1, max_len=1000)})
PROFILE = Obj(
    required={
        "country": NODE_ID,
        "serial": Int(minimum=1),
        "mla_authority": AUTHORITY,  # art. 18(13)
        "extradition_authority": AUTHORITY,
        "languages": List(LANGUAGE, min_items=1, max_items=30),  # art. 18(14)
        "convention_basis_for_extradition": Bool(),  # art. 16(5)(a): false = a treaty is required
    },
    optional={
        "urgent_channels": List(Enum(*URGENT_CHANNELS), max_items=len(URGENT_CHANNELS)),
        "notes": Str(max_len=10_000),
        "published": TIMESTAMP,
    },
)
# Legal bases that are the Convention (or its Protocol) itself, not a treaty or reciprocity.
CONVENTION_BASES = frozenset({"untoc_article_16", "untoc_article_18", "smuggling_of_migrants_protocol"})


def check_languages(codes: list[str], where: str = "languages") -> None:
    """Each code an ISO 639-1 language; PolicyError `unknown_language` naming the first that is not."""
    for i, code in enumerate(codes):
        if code not in LANGUAGES:
            raise PolicyError("unknown_language", f"{where}[{i}]: {code[:8]!r} is not an ISO 639-1 language code")


def publish_rule(env: EnvelopeView, body: Mapping[str, Any]) -> None:
    """A profile is its own country's: the sender (whose key signed it) is the profile's country,
    it goes to every member, and it names only real languages. Checked by the hub (a clear type),
    by the publisher before signing and by every node on receipt."""
    if env.sender != body["country"]:
        raise PolicyError("profile_not_own", f"{env.sender} cannot publish {body['country']}'s profile: a State "
                                             "publishes its own profile, signed by its own node key")
    if env.recipients != ("*",):
        raise PolicyError("bad_recipients", "a profile goes to every member ('*')")
    check_languages(list(body["languages"]))
    if len(set(body["languages"])) != len(body["languages"]):
        raise PolicyError("bad_body", "a language is listed twice")


def check_serial(current: int | None, serial: int) -> None:
    """Newest serial wins: a profile must be newer than the one held (PolicyError otherwise)."""
    if current is not None and serial <= current:
        raise PolicyError("profile_serial_not_newer", f"serial {serial} is not newer than the profile in force "
                                                      f"(serial {current})")


def check_request(request: Mapping[str, Any], profile: Mapping[str, Any] | None) -> list[str]:
    """A request (its clear fields) against the requested State's profile, before sealing.
    PolicyError `language_not_accepted` (naming the accepted languages) or `treaty_required`
    (extradition on a Convention basis alone to a State that requires a treaty, without an explicit
    `treaty_override` reason). Returns the warnings: `no_profile` when the State published none."""
    if profile is None:
        return ["no_profile"]
    language = request.get("language")
    if language is not None and language not in profile["languages"]:
        raise PolicyError("language_not_accepted", f"{profile['country']} accepts requests in "
                                                   f"{', '.join(profile['languages'])}, not {str(language)[:8]!r}")
    bases = set(request.get("legal_basis") or ())
    if (request.get("kind") == "extradition" and not profile["convention_basis_for_extradition"]
            and bases and bases <= CONVENTION_BASES and not str(request.get("treaty_override") or "").strip()):
        raise PolicyError("treaty_required", f"{profile['country']} does not take the Convention as the legal basis "
                                             "for extradition (art. 16(5)): name a treaty, or give a "
                                             "treaty_override reason, recorded in the request")
    return []


MESSAGE_CLASS = MessageClass("profiles", (
    MessageType("profile.publish", "node", header=Obj(), body=PROFILE, broadcast=True, body_rule=publish_rule,
                retention_days=3650),
))
