"""Federation rules on who may send what to whom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from protocol import envelope as wire
from protocol import policy
from protocol.errors import PolicyError
from protocol.ids import uuid7

COUNTRIES = ["MEX", "IDN", "ITA"]
NODE_TYPES = {"note", "alert.document", "receipt"}


def env(type: str = "note", sender: str = "MEX", recipients: tuple = ("IDN",), body: dict | None = None):  # noqa: ANN201
    return wire.build(message_id=uuid7(1, bytes(10)), type=type, sender=sender, recipients=list(recipients),
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1),
                      body=body if body is not None else {"text": "x"})


def resolve(e, allowed=NODE_TYPES):  # noqa: ANN001, ANN201
    return policy.resolve_recipients(e, allowed_types=allowed, countries=COUNTRIES)


def test_broadcast_goes_to_every_country_but_the_sender() -> None:
    assert resolve(env("alert.document", "ITA", ("*",), body={})) == ("MEX", "IDN")


@pytest.mark.parametrize(
    ("message", "allowed", "reason"),
    [
        (env(recipients=("*",)), NODE_TYPES, "broadcast_not_allowed"),
        (env(recipients=("FRA",)), NODE_TYPES, "unknown_recipient"),
        (env(recipients=("HUB",)), NODE_TYPES, "unknown_recipient"),
        (env(recipients=("MEX",)), NODE_TYPES, "self_addressed"),
        (env(), {"receipt"}, "type_not_allowed"),
        (env(sender="HUB"), NODE_TYPES | {"hub.rejection"}, "sender_role"),
    ],
)
def test_rule_breaches_are_refused_with_their_reason(message, allowed, reason) -> None:  # noqa: ANN001
    with pytest.raises(PolicyError) as caught:
        resolve(message, allowed)
    assert caught.value.reason == reason


def test_hub_types_come_only_from_the_hub() -> None:
    rejection = wire.build(message_id=uuid7(1, bytes(10)), type="hub.rejection", sender="MEX",
                           recipients=["IDN"], created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1),
                           body={"reason": "x", "detail": "", "at": "2026-01-01T00:00:00.000000Z"})
    with pytest.raises(PolicyError) as caught:
        resolve(rejection, NODE_TYPES | {"hub.rejection"})
    assert caught.value.reason == "sender_role"
