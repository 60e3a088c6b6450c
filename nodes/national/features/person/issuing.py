"""Issuing person alerts: a focal point's record becomes a signed `person.alert` to the recipients
it names; the issuer keeps where each went, so that a withdrawal follows the alert."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nodes.national.feature import FeatureContext
from nodes.national.features.person import store
from nodes.plumbing.config import utcnow
from protocol.envelope import Envelope
from protocol.errors import DecodeError
from protocol.person import DEFAULT_REVIEW_YEARS, SCRIPTS_WITH_A_TABLE, review_date_after
from protocol.transliteration import TransliterationError, script_of, transliterate


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a malformed `reported` is refused by `build`, with its reason


class UnknownAlert(LookupError):
    pass


def with_latin(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with each name's `script` and `latin` filled in where the sender left them out
    (computed by ICAO's table; a Han name needs the Latin printed in the document)."""
    out = dict(record)
    subject = out.get("subject")
    if not isinstance(subject, dict):
        return out
    subject = dict(subject)
    for part in ("family_name", "given_names"):
        name = subject.get(part)
        if isinstance(name, str):
            name = {"text": name}
        if isinstance(name, dict) and isinstance(name.get("text"), str):
            name = dict(name)
            name.setdefault("script", script_of(name["text"]))
            if "latin" not in name and name["script"] in SCRIPTS_WITH_A_TABLE:
                try:
                    name["latin"] = transliterate(name["text"], name.get("language"))
                except TransliterationError as error:
                    raise DecodeError(error.reason, f"subject.{part}.text: {error.detail}") from None
            subject[part] = name
    out["subject"] = subject
    return out


def _recipients(body: Mapping[str, Any]) -> list[str]:
    return ["*"] if body["recipients"] == "all" else list(body["recipients"])


async def issue(ctx: FeatureContext, record: Mapping[str, Any], **fields: Any) -> Envelope:
    """Create or update: checked as every recipient will check it (the node's `build`), then queued
    with the issuer's own record in one transaction."""
    body = with_latin({"issuer": ctx.country, "reported": utcnow().date().isoformat(), **record})
    years = ctx.settings["review_default_years"]
    if "review_date" not in body and years != DEFAULT_REVIEW_YEARS and _DAY.fullmatch(str(body["reported"])):
        # this country's own default, stated in the alert (a recipient assumes DEFAULT_REVIEW_YEARS otherwise)
        body["review_date"] = review_date_after(body["reported"], years)
    env = ctx.build("person.alert", _recipients(body) if isinstance(body.get("recipients"), (str, list)) else ["*"],
                    body=body, **fields)
    _queue(ctx, env, body)
    ctx.events.publish({"kind": "sent", "id": env.id, "type": env.type, "thread": env.thread,
                        "to": list(env.recipients)})
    return env


async def withdraw(ctx: FeatureContext, national_reference: str, reported: str, reason: str | None = None) -> Envelope:
    """The withdrawal goes wherever the alert went."""
    issued = store.issued(ctx.db, national_reference)
    if issued is None or issued["withdrawn"]:
        raise UnknownAlert(f"this country has no person alert {national_reference[:100]!r} in force")
    body = {"action": "withdraw", "issuer": ctx.country, "national_reference": national_reference,
            "reported": reported, **({"reason": reason} if reason else {})}
    recipients = ["*"] if issued["recipients"] == "all" else issued["recipients"]
    env = ctx.build("person.alert", recipients, body=body)
    _queue(ctx, env, body)
    return env


def _queue(ctx: FeatureContext, env: Envelope, body: Mapping[str, Any]) -> None:
    with ctx.db.begin() as conn:
        store.record_issued(conn, body, env.id)
        ctx.enqueue([env], conn)
