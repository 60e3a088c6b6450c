"""A node's book of competent-authority profiles (protocol/profiles.py): publishing its own,
keeping the newest of every other member's, and answering the MLA composer's question "what does
the requested State accept?" (through `ctx.service_of("profiles")`, never an import)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crypto.signing import VerifiedEnvelope
from nodes.national.features.profiles import store
from nodes.national.store import record_refusal
from nodes.plumbing.config import utcnow
from protocol import profiles
from protocol.errors import PolicyError, ProtocolError
from protocol.schema import validate
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from nodes.national.feature import FeatureContext


class ProfileBook:
    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx

    def get(self, country: str) -> dict[str, Any] | None:
        """The profile in force of `country` (its signed body), or None if it published none."""
        with self.ctx.db.connect() as conn:
            found = store.get(conn, country)
        return found["profile"] if found else None

    def entry(self, country: str) -> dict[str, Any] | None:
        """The profile with the message that carried it and when this node stored it."""
        with self.ctx.db.connect() as conn:
            return store.get(conn, country)

    def every(self) -> list[dict[str, Any]]:
        with self.ctx.db.connect() as conn:
            return store.every(conn)

    def check_request(self, request: Mapping[str, Any]) -> list[str]:
        """The MLA composer's pre-send check against the requested State's profile (PolicyError
        `language_not_accepted` / `treaty_required`; the warnings otherwise)."""
        return profiles.check_request(request, self.get(str(request.get("requested"))))

    def publish(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Sign this State's profile and broadcast it to every member; stored here as the one in
        force in the same transaction that queues it. The serial is the next one unless given
        (then it must be newer). ProtocolError with a reason code if the profile is not valid."""
        ctx = self.ctx
        if not isinstance(fields, Mapping):
            raise ProtocolError("bad_body", "a profile is a JSON object")
        with ctx.db.connect() as conn:
            current = store.serial_of(conn, ctx.country)
        body = {**fields, "country": fields.get("country", ctx.country),
                "serial": fields.get("serial", (current or 0) + 1), "published": format_time(utcnow())}
        validate(profiles.PROFILE, body, "bad_body")
        profiles.check_serial(current, body["serial"])
        env = ctx.build("profile.publish", ["*"], body=body)  # checks publish_rule: its own country only
        with ctx.db.begin() as conn:
            profiles.check_serial(store.serial_of(conn, ctx.country), body["serial"])  # a concurrent publish
            store.put(conn, body, env.id, format_time(utcnow()))
            ctx.enqueue([env], conn)
        ctx.log.info("profile published", message_id=env.id, serial=body["serial"])
        return {"id": env.id, "country": ctx.country, "serial": body["serial"]}


def on_profile(ctx: FeatureContext, conn: Connection, verified: VerifiedEnvelope,
               body: Mapping[str, Any] | None) -> None:
    """Another member's profile (its sender, languages and schema checked by the inbox's rules):
    kept if its serial is newer than the one held, else refused `profile_serial_not_newer`."""
    assert body is not None
    env = verified.envelope
    now = format_time(utcnow())
    try:
        profiles.check_serial(store.serial_of(conn, body["country"]), body["serial"])
    except PolicyError as exc:
        record_refusal(conn, env.id, env.sender, exc.reason, f"{exc.reason}: {exc.detail}", now)
        ctx.log.warning("profile refused", message_id=env.id, country=body["country"], reason=exc.reason,
                        detail=exc.detail)
        return
    store.put(conn, body, env.id, now)
    ctx.log.info("profile applied", message_id=env.id, country=body["country"], serial=body["serial"])
