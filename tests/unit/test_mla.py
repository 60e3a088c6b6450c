"""The MLA lifecycle as a pure state machine, and the rules MLA messages must satisfy."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import envelope as wire
from protocol import mla
from protocol.errors import ProtocolError, TransitionError
from protocol.ids import uuid7
from protocol.mla import Role, State

REQUESTED, REQUESTING = Role.REQUESTED, Role.REQUESTING


def request_body(**overrides) -> dict:  # noqa: ANN003
    content = b"bank statement, account 0042"
    body = {"reference": "ITA-2026-7", "requesting": "ITA", "requested": "MEX", "kind": "mutual_legal_assistance",
            "legal_basis": ["untoc_article_18", "smuggling_of_migrants_protocol"],
            "offences": ["art6_1_a_smuggling"], "aggravating": ["art6_3_a_endangering_lives_or_safety"],
            "measures": ["asset_tracing", "freezing"], "urgency": "urgent", "urgency_reason": "funds about to move",
            "deadline": "2026-12-15", "summary": "Proceeds of smuggling on the central Mediterranean route.",
            "attachments": [{"name": "statement.pdf", "media_type": "application/pdf", "size": len(content),
                             "sha256": hashlib.sha256(content).hexdigest(),
                             "content": base64.b64encode(content).decode()}]}
    return {**body, **overrides}


def header_of(body: dict) -> dict:
    return {"reference": body["reference"], "kind": body["kind"], "status": "submitted", "urgency": body["urgency"],
            "deadline": body.get("deadline")}


def envelope(type: str, body: dict, header: dict, sender: str = "ITA", to: tuple = ("MEX",)):  # noqa: ANN201
    return wire.build(message_id=uuid7(1, bytes(10)), type=type, sender=sender, recipients=list(to),
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), sealed="x.y",
                      header=header, thread=mla.thread_of("ITA", body["reference"]))


def walk(*steps: tuple[str, Role]) -> State:
    state = State.RECEIVED
    for event, actor in steps:
        state = mla.apply(state, event, actor)
    return state


def test_a_request_goes_through_to_executed() -> None:
    assert walk(("acknowledge", REQUESTED), ("start", REQUESTED), ("request_information", REQUESTED),
                ("supply_information", REQUESTING), ("remind", REQUESTING), ("execute", REQUESTED)) is State.EXECUTED


def test_a_request_can_be_refused_with_or_without_acknowledgement() -> None:
    assert walk(("refuse", REQUESTED)) is State.REFUSED
    assert walk(("acknowledge", REQUESTED), ("start", REQUESTED), ("refuse", REQUESTED)) is State.REFUSED


def test_delivery_timeout_is_repaired_by_late_delivery_evidence() -> None:
    late = mla.apply(State.SUBMITTED, "delivery_timeout", Role.NODE)
    assert late is State.NOT_DELIVERED
    assert mla.apply(late, "deliver", Role.NODE) is State.RECEIVED


def test_an_illegal_transition_names_its_rule() -> None:
    with pytest.raises(TransitionError) as info:
        walk(("execute", REQUESTED))
    assert info.value.reason == "illegal_transition"
    assert "rule executed" in info.value.detail and "in_progress" in info.value.detail


@pytest.mark.parametrize(("event", "actor"), [("execute", REQUESTING), ("acknowledge", REQUESTING),
                                               ("withdraw", REQUESTED), ("supply_information", REQUESTED),
                                               ("deliver", REQUESTING)])
def test_only_the_right_party_may_act(event: str, actor: Role) -> None:
    with pytest.raises(TransitionError) as info:
        mla.apply(State.IN_PROGRESS, event, actor)
    assert info.value.reason == "wrong_party"


@given(st.sampled_from(sorted(mla.TERMINAL)), st.sampled_from(mla.RULES))
def test_nothing_leaves_a_final_state(state: State, rule: mla.Rule) -> None:
    with pytest.raises(TransitionError):
        mla.apply(state, rule.event, rule.actor)


@given(st.lists(st.sampled_from(mla.RULES), max_size=12))
def test_any_sequence_of_events_stays_in_known_states(rules: list[mla.Rule]) -> None:
    state = State.SUBMITTED
    for rule in rules:
        try:
            state = mla.apply(state, rule.event, rule.actor)
        except TransitionError as exc:
            assert exc.reason == "illegal_transition"
        assert state in State


def test_unknown_event_and_outsider_are_refused() -> None:
    with pytest.raises(TransitionError, match="unknown_event"):
        mla.apply(State.RECEIVED, "approve", REQUESTED)
    with pytest.raises(TransitionError, match="not_party"):
        mla.role_of("IDN", "ITA", "MEX")


def test_a_valid_request_passes_its_rule() -> None:
    body = request_body()
    mla.request_rule(envelope("mla.request", body, header_of(body)), body)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b, h: (b, {**h, "urgency": "routine"}), "header_mismatch"),
        (lambda b, h: ({k: v for k, v in b.items() if k != "urgency_reason"}, h), "urgency_without_reason"),
        (lambda b, h: ({**b, "legal_basis": ["bilateral_treaty"]}, h), "treaty_not_named"),
        (lambda b, h: ({**b, "attachments": [{**b["attachments"][0], "sha256": "0" * 64}]}, h),
         "attachment_mismatch"),
        (lambda b, h: ({**b, "attachments": [{**b["attachments"][0], "size": 3}]}, h), "attachment_mismatch"),
    ],
    ids=["header-lies", "urgent-without-reason", "treaty-unnamed", "wrong-hash", "wrong-size"],
)
def test_request_rule_refuses_inconsistent_requests(change, reason: str) -> None:  # noqa: ANN001
    body, header = change(request_body(), header_of(request_body()))
    with pytest.raises(ProtocolError) as info:
        mla.request_rule(envelope("mla.request", body, header), body)
    assert info.value.reason == reason


def test_a_request_sent_by_the_requested_state_or_to_a_third_is_refused() -> None:
    body = request_body()
    with pytest.raises(ProtocolError, match="wrong_party"):
        mla.request_rule(envelope("mla.request", body, header_of(body), sender="MEX", to=("ITA",)), body)
    with pytest.raises(ProtocolError, match="bad_recipients"):
        mla.request_rule(envelope("mla.request", body, header_of(body), to=("IDN",)), body)


def event(event_name: str, **extra) -> dict:  # noqa: ANN003
    return {"reference": "ITA-2026-7", "requesting": "ITA", "requested": "MEX", "event": event_name, **extra}


def event_header(event_name: str, status: str) -> dict:
    return {"reference": "ITA-2026-7", "kind": "mutual_legal_assistance", "event": event_name, "status": status}


def test_event_rules_check_type_party_header_and_grounds() -> None:
    ok = event("refuse", grounds=["dual_criminality_absent"])
    mla.event_rule(envelope("mla.response", ok, event_header("refuse", "refused"), "MEX", ("ITA",)), ok)
    cases = [
        ("mla.status", event("execute"), event_header("execute", "executed"), "MEX", "wrong_message_type"),
        ("mla.response", event("execute"), event_header("execute", "executed"), "ITA", "wrong_party"),
        ("mla.status", event("withdraw"), event_header("withdraw", "in_progress"), "ITA", "header_mismatch"),
        ("mla.response", event("refuse"), event_header("refuse", "refused"), "MEX", "refusal_grounds"),
    ]
    for mtype, body, header, sender, reason in cases:
        to = ("ITA",) if sender == "MEX" else ("MEX",)
        with pytest.raises(ProtocolError) as info:
            mla.event_rule(envelope(mtype, body, header, sender, to), body)
        assert info.value.reason == reason, (mtype, body["event"])
