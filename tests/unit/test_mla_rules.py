"""The MLA lifecycle, rule by rule (issue 24): who may do what, from which states, to which state;
and the checks each MLA message passes (parties, thread, header, grounds, attachments)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from protocol import envelope as wire
from protocol import mla
from protocol.errors import PolicyError, ProtocolError, TransitionError
from protocol.ids import uuid7
from protocol.mla import Role, State

# The lifecycle as docs/mla.md states it: event -> (actor, source states, target; None = unchanged).
OPEN = {State.RECEIVED, State.ACKNOWLEDGED, State.IN_PROGRESS, State.INFORMATION_REQUESTED}
LIFECYCLE = {
    "deliver": (Role.NODE, {State.SUBMITTED, State.NOT_DELIVERED}, State.RECEIVED),
    "delivery_timeout": (Role.NODE, {State.SUBMITTED}, State.NOT_DELIVERED),
    "acknowledge": (Role.REQUESTED, {State.RECEIVED}, State.ACKNOWLEDGED),
    "start": (Role.REQUESTED, {State.ACKNOWLEDGED}, State.IN_PROGRESS),
    "request_information": (Role.REQUESTED, {State.ACKNOWLEDGED, State.IN_PROGRESS}, State.INFORMATION_REQUESTED),
    "supply_information": (Role.REQUESTING, {State.INFORMATION_REQUESTED}, State.IN_PROGRESS),
    "execute": (Role.REQUESTED, {State.IN_PROGRESS}, State.EXECUTED),
    "execute_partially": (Role.REQUESTED, {State.IN_PROGRESS}, State.PARTIALLY_EXECUTED),
    "refuse": (Role.REQUESTED, OPEN, State.REFUSED),
    "withdraw": (Role.REQUESTING, OPEN | {State.SUBMITTED, State.NOT_DELIVERED}, State.WITHDRAWN),
    "remind": (Role.REQUESTING, OPEN, None),
}
CASES = [(event, state) for event in LIFECYCLE for state in State]


def test_the_rules_are_the_documented_lifecycle() -> None:
    assert {r.event: (r.actor, set(r.sources), r.target) for r in mla.RULES} == LIFECYCLE
    assert mla.TERMINAL == {State.EXECUTED, State.PARTIALLY_EXECUTED, State.REFUSED, State.WITHDRAWN}
    assert set(mla.MESSAGE_EVENTS) == set(LIFECYCLE) - {"deliver", "delivery_timeout"}


@pytest.mark.parametrize(("event", "state"), CASES)
def test_each_event_moves_only_from_its_source_states_by_its_actor(event: str, state: State) -> None:
    actor, sources, target = LIFECYCLE[event]
    if state in sources:
        assert mla.apply(state, event, actor) is (target or state)
        assert mla.apply(state.value, event, actor.value) is (target or state)  # as stored: plain strings
    else:
        with pytest.raises(TransitionError) as caught:
            mla.apply(state, event, actor)
        assert caught.value.reason == "illegal_transition"
    for other in set(Role) - {actor}:
        with pytest.raises(TransitionError) as caught:
            mla.apply(state, event, other)
        assert caught.value.reason == "wrong_party"  # whatever the state: the party is checked first


def test_refusals_name_the_rule_the_party_and_the_allowed_states() -> None:
    with pytest.raises(TransitionError) as caught:
        mla.apply(State.RECEIVED, "execute", Role.REQUESTING)
    assert caught.value.detail == "rule executed: only the requested State may execute, not the requesting"
    with pytest.raises(TransitionError) as caught:
        mla.apply(State.EXECUTED, "request_information", Role.REQUESTED)
    assert caught.value.detail == ("rule information_requested: request_information is not allowed when the "
                                   "request is executed (only when acknowledged, in_progress)")
    with pytest.raises(TransitionError) as caught:
        mla.apply(State.RECEIVED, "x" * 100, Role.REQUESTED)
    assert (caught.value.reason, caught.value.detail) == ("unknown_event", f"no lifecycle event {'x' * 64!r}")


def test_the_parties_and_the_thread() -> None:
    assert mla.role_of("ITA", "ITA", "MEX") is Role.REQUESTING
    assert mla.role_of("MEX", "ITA", "MEX") is Role.REQUESTED
    with pytest.raises(TransitionError) as caught:
        mla.role_of("IDN", "ITA", "MEX")
    assert (caught.value.reason, caught.value.detail) == (
        "not_party", "IDN is neither the requesting (ITA) nor the requested (MEX) State")
    assert mla.thread_of("ITA", "ITA-2026-7") == "mla:ITA:ITA-2026-7"


# -- attachments --------------------------------------------------------------------------------

def attachment(data: bytes, name: str = "statement.pdf", **change: object) -> dict:
    a = {"name": name, "media_type": "application/pdf", "size": len(data),
         "sha256": hashlib.sha256(data).hexdigest(), "content": base64.b64encode(data).decode()}
    return {**a, **change}


def test_attachments_that_match_their_size_and_hash_are_returned_in_order() -> None:
    assert mla.check_attachments([attachment(b"one"), attachment(b"two!")]) == [b"one", b"two!"]
    assert mla.check_attachments([]) == []


@pytest.mark.parametrize(("change", "detail"), [
    ({"size": 4}, "attachment 1 ('" + "n" * 80 + "') does not match its stated size and SHA-256"),
    ({"sha256": "0" * 64}, "attachment 1 ('" + "n" * 80 + "') does not match its stated size and SHA-256"),
    ({"content": "b2t="}, "attachment 1 is not canonical base64 (padding bits or padding)"),
    ({"content": "b25"}, "attachment 1 is not base64"),
])
def test_an_attachment_that_is_not_what_it_states_is_refused(change: dict, detail: str) -> None:
    with pytest.raises(PolicyError) as caught:
        mla.check_attachments([attachment(b"ok"), attachment(b"one", "n" * 200, **change)])
    assert (caught.value.reason, caught.value.detail) == ("attachment_mismatch", detail)


def test_attachments_may_total_the_bound_but_not_a_byte_more() -> None:
    half = bytes(mla.MAX_ATTACHMENT_BYTES // 2)
    assert len(b"".join(mla.check_attachments([attachment(half), attachment(half)]))) == mla.MAX_ATTACHMENT_BYTES
    with pytest.raises(PolicyError) as caught:
        mla.check_attachments([attachment(half), attachment(half + b"\x00")])
    assert (caught.value.reason, caught.value.detail) == (
        "attachment_mismatch", f"attachments total {mla.MAX_ATTACHMENT_BYTES + 1} bytes > {mla.MAX_ATTACHMENT_BYTES}")


# -- request_rule and event_rule ----------------------------------------------------------------

def request_body(**change: object) -> dict:
    body = {"reference": "ITA-2026-7", "requesting": "ITA", "requested": "MEX", "kind": "extradition",
            "legal_basis": ["untoc_article_16"], "offences": ["art6_1_a_smuggling"], "measures": ["surrender"],
            "urgency": "routine", "summary": "Surrender of the organiser.", "attachments": [attachment(b"w")]}
    return {k: v for k, v in {**body, **change}.items() if v is not ...}


def header_of(body: dict) -> dict:
    return {"reference": body["reference"], "kind": body["kind"], "status": "submitted", "urgency": body["urgency"],
            "deadline": body.get("deadline")}


def envelope(type: str, header: dict, sender: str = "ITA", to: tuple = ("MEX",),  # noqa: A002
             thread: str = "mla:ITA:ITA-2026-7") -> wire.Envelope:
    return wire.build(message_id=uuid7(1, bytes(10)), type=type, sender=sender, recipients=list(to),
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), sealed="x.y",
                      header=header, thread=thread)


def refused(rule, env: wire.Envelope, body: dict) -> ProtocolError:  # noqa: ANN001
    with pytest.raises(ProtocolError) as caught:
        rule(env, body)
    return caught.value


@pytest.mark.parametrize("body", [
    request_body(), request_body(deadline="2027-01-31"), request_body(attachments=...),
    request_body(urgency="very_urgent", urgency_reason="flight risk"),
    request_body(legal_basis=["bilateral_treaty"], treaty="ITA-MEX extradition treaty 2011"),
])
def test_a_consistent_request_passes(body: dict) -> None:
    mla.request_rule(envelope("mla.request", header_of(body)), body)


@pytest.mark.parametrize(("body", "header", "reason", "detail"), [
    (request_body(urgency="urgent"), None, "urgency_without_reason", "an urgent request states why"),
    (request_body(urgency="urgent", urgency_reason=""), None, "urgency_without_reason", None),
    (request_body(legal_basis=["bilateral_treaty"]), None, "treaty_not_named",
     "a request under a bilateral treaty names the treaty"),
    (request_body(legal_basis=["bilateral_treaty"], treaty=""), None, "treaty_not_named", None),
    (request_body(deadline="2027-01-31"), {"deadline": None}, "header_mismatch",
     "the header must repeat reference, kind, urgency and deadline"),
    (request_body(), {"kind": "mutual_legal_assistance"}, "header_mismatch", None),
    (request_body(), {"reference": "ITA-2026-8"}, "header_mismatch", "the header's reference is not the body's"),
    (request_body(attachments=[attachment(b"w", size=2)]), None, "attachment_mismatch", None),
])
def test_an_inconsistent_request_is_refused(body: dict, header: dict | None, reason: str,
                                            detail: str | None) -> None:
    error = refused(mla.request_rule, envelope("mla.request", {**header_of(body), **(header or {})}), body)
    assert error.reason == reason
    if detail is not None:
        assert error.detail == detail


def test_a_request_goes_from_the_requesting_state_to_the_requested_state_alone_in_its_thread() -> None:
    body = request_body()
    error = refused(mla.request_rule, envelope("mla.request", header_of(body), "MEX", ("ITA",)), body)
    assert (error.reason, error.detail) == ("wrong_party", "a request is sent by the requesting State")
    for to in (("IDN",), ("MEX", "IDN"), ("ITA",)):
        error = refused(mla.request_rule, envelope("mla.request", header_of(body), to=to), body)
        assert (error.reason, error.detail) == ("bad_recipients", "an MLA message goes to the other State (MEX) alone")
    error = refused(mla.request_rule, envelope("mla.request", header_of(body), thread="mla:ITA:ITA-2026-8"), body)
    assert (error.reason, error.detail) == ("header_mismatch", "the thread is not the request's thread")
    error = refused(mla.request_rule, envelope("mla.request", header_of(body), "IDN", ("MEX",)), body)
    assert error.reason == "not_party"


def event(name: str, **extra: object) -> dict:
    return {"reference": "ITA-2026-7", "requesting": "ITA", "requested": "MEX", "event": name, **extra}


def event_header(name: str, status: str) -> dict:
    return {"reference": "ITA-2026-7", "kind": "extradition", "event": name, "status": status}


def event_env(name: str, status: str, sender: str | None = None, **header: object) -> wire.Envelope:
    rule = mla.BY_EVENT[name]
    sender = sender or ("MEX" if rule.actor is Role.REQUESTED else "ITA")
    to = ("ITA",) if sender == "MEX" else ("MEX",)
    return envelope(rule.message_type, {**event_header(name, status), **header}, sender, to)


@pytest.mark.parametrize("name", mla.MESSAGE_EVENTS)
def test_each_event_passes_from_its_party_in_its_message_type_and_from_no_one_else(name: str) -> None:
    rule = mla.BY_EVENT[name]
    body = event(name, grounds=["own_national"]) if name == "refuse" else event(name)
    status = (rule.target or State.IN_PROGRESS).value
    mla.event_rule(event_env(name, status), body)
    other = "ITA" if rule.actor is Role.REQUESTED else "MEX"
    error = refused(mla.event_rule, event_env(name, status, other), body)
    assert isinstance(error, TransitionError)
    assert (error.reason, error.detail) == ("wrong_party", f"rule {rule.name}: only the {rule.actor} State may {name}")
    wrong_type = "mla.status" if rule.message_type == "mla.response" else "mla.response"
    env = envelope(wrong_type, event_header(name, status), *(("MEX", ("ITA",)) if rule.actor is Role.REQUESTED
                                                           else ("ITA", ("MEX",))))
    error = refused(mla.event_rule, env, body)
    assert (error.reason, error.detail) == ("wrong_message_type",
                                            f"{name} travels as {rule.message_type}, not {wrong_type}")


def test_the_header_states_the_event_and_the_state_it_leads_to() -> None:
    error = refused(mla.event_rule, event_env("start", "in_progress", event="acknowledge"), event("start"))
    assert (error.reason, error.detail) == ("header_mismatch", "the header's event is not the body's")
    error = refused(mla.event_rule, event_env("start", "acknowledged"), event("start"))
    assert (error.reason, error.detail) == ("header_mismatch", "start leads to in_progress, the header says acknowledged")
    for status in ("received", "in_progress"):  # a reminder changes nothing: the header repeats the current state
        mla.event_rule(event_env("remind", status), event("remind"))


def test_only_a_refusal_states_grounds_and_a_refusal_always_does() -> None:
    for body in (event("refuse"), event("refuse", grounds=[])):
        error = refused(mla.event_rule, event_env("refuse", "refused"), body)
        assert (error.reason, error.detail) == ("refusal_grounds",
                                                "a refusal states its grounds, and only a refusal has grounds")
    error = refused(mla.event_rule, event_env("execute", "executed"), event("execute", grounds=["own_national"]))
    assert error.reason == "refusal_grounds"


def test_an_events_attachments_are_checked() -> None:
    body = event("execute", attachments=[attachment(b"evidence", sha256="1" * 64)])
    assert refused(mla.event_rule, event_env("execute", "executed"), body).reason == "attachment_mismatch"
    mla.event_rule(event_env("execute", "executed"), event("execute", attachments=[attachment(b"evidence")]))
