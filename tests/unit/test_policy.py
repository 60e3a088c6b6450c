"""Federation rules on who may send what to whom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from protocol import envelope as wire
from protocol import policy
from protocol.errors import PolicyError
from protocol.ids import uuid7

COUNTRIES = ["MEX", "IDN", "ITA"]
ALERT_ITA = {"document_number": "YA 123-4567", "document_type": "passport", "issuing_country": "ITA",
             "status": "stolen", "action": "create", "reported": "2026-11-20"}
NODE_TYPES = {"note", "alert.document", "receipt"}


def env(type: str = "note", sender: str = "MEX", recipients: tuple = ("IDN",), body: dict | None = None):  # noqa: ANN201
    return wire.build(message_id=uuid7(1, bytes(10)), type=type, sender=sender, recipients=list(recipients),
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1),
                      body=body if body is not None else {"text": "x"})


def resolve(e, allowed=NODE_TYPES):  # noqa: ANN001, ANN201
    return policy.resolve_recipients(e, allowed_types=allowed, countries=COUNTRIES)


def test_broadcast_goes_to_every_country_but_the_sender() -> None:
    assert resolve(env("alert.document", "ITA", ("*",), body=ALERT_ITA)) == ("MEX", "IDN")


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


def test_only_the_issuing_country_may_alert_on_its_documents() -> None:
    own = env("alert.document", "ITA", ("*",), body=ALERT_ITA)
    policy.check_body(own, ALERT_ITA)
    foreign = env("alert.document", "MEX", ("*",), body=ALERT_ITA)
    with pytest.raises(PolicyError) as caught:
        policy.check_body(foreign, ALERT_ITA)
    assert caught.value.reason == "not_issuing_country"


@pytest.mark.parametrize("change", [{"status": "misplaced"}, {"document_type": "library card"},
                                    {"issuing_country": "ita"}, {"reported": "20 Nov 2026"}, {"extra": 1}])
def test_malformed_alerts_are_refused(change: dict) -> None:
    from protocol.errors import DecodeError

    with pytest.raises(DecodeError) as caught:
        env("alert.document", "ITA", ("*",), body={**ALERT_ITA, **change})
    assert caught.value.reason == "bad_body"


@pytest.mark.parametrize("typed", ["YA1234567", "ya 123 4567", "YA-123.4567", "ya/1234567", "Ｙａ1234567"])
def test_document_numbers_normalise_to_one_form(typed: str) -> None:
    from protocol.alerts import normalise_document_number

    assert normalise_document_number(typed) == "YA1234567"


def _jit(thread: str | None, message_id: str = str(uuid7(1, bytes(10)))) -> wire.Envelope:
    return wire.build(message_id=message_id, type="case.jit", sender="MEX", recipients=["IDN"],
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), sealed="x.y", thread=thread)


@pytest.mark.parametrize("thread", ["case:IDN:IDN-2026-0042", "jit:0190c0de-0000-7000-8000-000000000000", None])
def test_a_joint_investigation_cannot_claim_a_thread_that_is_not_named_after_its_own_id(thread) -> None:  # noqa: ANN001
    with pytest.raises(PolicyError) as refused:
        resolve(_jit(thread), allowed={"case.jit"})
    assert refused.value.reason == "bad_jit_thread"


def test_a_joint_investigation_opens_the_thread_named_after_its_own_id() -> None:
    message_id = str(uuid7(1, bytes(10)))
    assert resolve(_jit(f"jit:{message_id}", message_id), allowed={"case.jit"}) == ("IDN",)


# -- addressing: hub-addressed types, who a message is for, and what each refusal says -----------

COSIGN = {"size": 7, "signature": "AAAA"}


@pytest.mark.parametrize("recipients", [("IDN",), ("HUB", "IDN"), ("*",)])
def test_a_hub_addressed_type_sent_to_anyone_else_is_refused(recipients: tuple) -> None:
    with pytest.raises(PolicyError) as caught:
        resolve(env("witness.cosign", recipients=recipients, body=COSIGN), allowed={"witness.cosign"})
    assert (caught.value.reason, caught.value.detail) == ("bad_recipients",
                                                         "witness.cosign is addressed to the hub alone")


def test_a_hub_addressed_type_goes_to_no_country() -> None:
    assert resolve(env("witness.cosign", recipients=("HUB",), body=COSIGN), allowed={"witness.cosign"}) == ()


def test_a_message_to_named_countries_goes_to_exactly_those() -> None:
    assert resolve(env(recipients=("ITA", "IDN"))) == ("ITA", "IDN")


@pytest.mark.parametrize(
    ("message", "allowed", "detail"),
    [
        (env(recipients=("*",)), NODE_TYPES, "note cannot be sent to every node"),
        (env(recipients=("FRA", "IDN", "HUB")), NODE_TYPES, "not members of the federation: ['FRA', 'HUB']"),
        (env(recipients=("IDN", "MEX")), NODE_TYPES, "a node cannot send to itself"),
        (env(), {"receipt"}, "MEX may not send note"),
        (env(sender="HUB"), NODE_TYPES, "note is sent by the node only"),
    ],
)
def test_each_refusal_says_which_rule_and_whom_it_concerns(message, allowed, detail) -> None:  # noqa: ANN001
    with pytest.raises(PolicyError) as caught:
        resolve(message, allowed)
    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("message", "node", "expected"),
    [
        (env(recipients=("IDN", "ITA")), "IDN", True),
        (env(recipients=("IDN", "ITA")), "ITA", True),
        (env(recipients=("IDN",)), "ITA", False),
        (env(recipients=("IDN",)), "MEX", False),
        (env("alert.document", "ITA", ("*",), body=ALERT_ITA), "MEX", True),
        (env("alert.document", "ITA", ("*",), body=ALERT_ITA), "ITA", False),
    ],
)
def test_a_message_is_for_its_recipients_and_a_broadcast_for_everyone_but_its_sender(message, node, expected) -> None:  # noqa: ANN001, E501
    assert policy.is_for(message, node) is expected


def test_a_type_without_a_body_rule_passes_check_body_untouched() -> None:
    assert "note" not in policy.BODY_RULES
    policy.check_body(env(), {"text": "x"})


def test_a_senders_broadcasts_resolved_against_the_members_get_one_recipient_tuple() -> None:
    """The hub resolves a batch against `Members`: every broadcast of one sender gets the same tuple
    (what the hub writes per recipient list, it writes once per list), and it is the same set as
    against a plain list."""
    members = policy.Members(COUNTRIES)
    first = policy.resolve_recipients(env("alert.document", "ITA", ("*",), body=ALERT_ITA),
                                      allowed_types=NODE_TYPES, countries=members)
    again = policy.resolve_recipients(env("alert.document", "ITA", ("*",), body=ALERT_ITA),
                                      allowed_types=NODE_TYPES, countries=members)
    assert first == ("MEX", "IDN") and again is first
    assert members.all_but("MEX") == ("IDN", "ITA") and members.all_but("HUB") == tuple(COUNTRIES)
    assert "IDN" in members and "FRA" not in members and list(members) == COUNTRIES
    with pytest.raises(PolicyError, match="unknown_recipient|FRA"):
        policy.resolve_recipients(env(recipients=("FRA",)), allowed_types=NODE_TYPES, countries=members)
