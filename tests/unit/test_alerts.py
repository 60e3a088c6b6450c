"""Alerts: payload checks, the issuer-only rules, and the replica's merge rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import envelope as wire
from protocol import policy
from protocol.alerts import (
    ACTIONS, DOCUMENT_TYPES, MAX_BATCH_ALERTS, STATUSES, AlertVersion, alert_problem, content_hash,
    default_review_date, merge, version_key,
)
from protocol.errors import DecodeError, PolicyError
from protocol.ids import uuid7
from protocol.schema import DATE, Enum, Obj, Str, validate

ALERT_ITA = {"document_number": "YA 123-4567", "document_type": "passport", "issuing_country": "ITA",
             "status": "stolen", "action": "create", "reported": "2026-11-20"}

# The payload table of docs/alerts.md in the declarative schema language: the oracle that the
# tight validator must agree with (besides its date and normalisation checks).
DECLARED = Obj(
    required={"document_number": Str(min_len=1, max_len=64), "document_type": Enum(*DOCUMENT_TYPES),
              "issuing_country": Str(min_len=3, max_len=3, pattern=r"[A-Z]{3}"), "status": Enum(*STATUSES),
              "action": Enum(*ACTIONS), "reported": DATE},
    optional={"event_date": DATE, "issue_date": DATE, "expiry_date": DATE, "review_date": DATE,
              "national_reference": Str(max_len=128)},
)


def build(type: str, sender: str, body: dict, recipients: tuple = ("*",)) -> wire.Envelope:
    return wire.build(message_id=uuid7(1, bytes(10)), type=type, sender=sender, recipients=list(recipients),
                      created=datetime(2026, 1, 1, tzinfo=UTC), ttl=timedelta(hours=1), body=body)


# -- payloads -------------------------------------------------------------------------------------

_values = st.one_of(st.sampled_from(["", "x", "ITA", "ita", "passport", "stolen", "create", "2026-11-20",
                                     "2026-02-30", "R" * 129, "Y" * 65, "---"]),
                    st.integers(), st.none(), st.text(max_size=70))
_names = st.sampled_from([*DECLARED.required, *DECLARED.optional, "extra"])


@given(st.dictionaries(_names, _values, max_size=9) | st.fixed_dictionaries({}, optional={}),
       st.dictionaries(_names, _values, max_size=3))
@settings(max_examples=400)
def test_tight_validator_refuses_everything_the_declared_schema_refuses(base: dict, change: dict) -> None:
    record = {**ALERT_ITA, **base, **change}
    try:
        validate(DECLARED, record, "bad_body")
        declared_ok = True
    except DecodeError:
        declared_ok = False
    if not declared_ok:
        assert alert_problem(record) is not None
    elif alert_problem(record) is not None:  # stricter only on real dates and empty numbers
        assert alert_problem(record).field in ("reported", "event_date", "issue_date", "expiry_date",
                                               "review_date", "document_number")


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"status": "misplaced"}, "status", "bad_field"),
    ({"reported": "2026-02-30"}, "reported", "bad_field"),
    ({"reported": "２０２６-11-20"}, "reported", "bad_field"),
    ({"document_number": " -./ "}, "document_number", "bad_field"),
    ({"extra": 1}, "extra", "unknown_field"),
])
def test_bad_alert_fields_are_named_with_a_reason(change: dict, field: str, reason: str) -> None:
    problem = alert_problem({**ALERT_ITA, **change})
    assert problem is not None and (problem.field, problem.reason) == (field, reason)


def test_a_missing_field_is_named() -> None:
    record = dict(ALERT_ITA)
    del record["reported"]
    problem = alert_problem(record)
    assert problem is not None and (problem.field, problem.reason) == ("reported", "missing_field")


def test_a_batch_carries_one_to_the_configured_number_of_alerts() -> None:
    build("alert.document.batch", "ITA", {"alerts": [ALERT_ITA] * MAX_BATCH_ALERTS})
    for alerts in ([], [ALERT_ITA] * (MAX_BATCH_ALERTS + 1)):
        with pytest.raises(DecodeError) as caught:
            build("alert.document.batch", "ITA", {"alerts": alerts})
        assert caught.value.reason == "bad_body"


def test_one_bad_alert_makes_the_batch_bad_and_says_which() -> None:
    with pytest.raises(DecodeError) as caught:
        build("alert.document.batch", "ITA", {"alerts": [ALERT_ITA, {**ALERT_ITA, "status": "gone"}]})
    assert caught.value.reason == "bad_body" and "alerts[1].status" in caught.value.detail


def test_a_batch_with_one_alert_on_another_countrys_document_is_refused_whole() -> None:
    body = {"alerts": [ALERT_ITA, {**ALERT_ITA, "issuing_country": "MEX"}]}
    env = build("alert.document.batch", "ITA", body)
    with pytest.raises(PolicyError) as caught:
        policy.check_body(env, body)
    assert caught.value.reason == "not_issuing_country" and "alerts[1]" in caught.value.detail
    policy.check_body(env, {"alerts": [ALERT_ITA]})


def test_a_hit_goes_to_the_issuing_country_alone() -> None:
    hit = {"issuing_country": "ITA", "document_type": "passport", "document_number": "YA1234567",
           "status": "stolen", "checked_at": "2026-11-23T10:00:00.000000Z", "check": "border", "point": "CGK"}
    policy.check_body(build("alert.hit", "IDN", hit, ("ITA",)), hit)
    for recipients in (("MEX",), ("ITA", "MEX")):
        with pytest.raises(PolicyError) as caught:
            policy.check_body(build("alert.hit", "IDN", hit, recipients), hit)
        assert caught.value.reason == "hit_not_to_issuer"


def test_the_same_alert_typed_differently_has_one_content_hash() -> None:
    assert content_hash(ALERT_ITA) == content_hash({**ALERT_ITA, "document_number": "ya1234567"})
    assert content_hash(ALERT_ITA) != content_hash({**ALERT_ITA, "status": "lost"})


def test_review_date_defaults_to_ten_years_after_the_report() -> None:
    assert default_review_date("2026-11-20") == "2036-11-20"
    assert default_review_date("2024-02-29") == "2034-02-28"


def test_version_keys_order_by_time_whatever_the_fraction_digits() -> None:
    mid = uuid7(1, bytes(10))
    assert version_key("2026-01-01T00:00:00Z", mid, 0) < version_key("2026-01-01T00:00:00.5Z", mid, 0)
    assert version_key("2026-01-01T00:00:00.5Z", mid, 1) < version_key("2026-01-01T00:00:00.500001Z", mid, 0)
    assert version_key("2026-01-01T00:00:00Z", mid, 2) < version_key("2026-01-01T00:00:00Z", mid, 10)


# -- the merge rule -------------------------------------------------------------------------------

def observed(versions: list[AlertVersion]) -> tuple[bool, object] | None:
    """What a border check sees after `versions`, by the plain rule: apply them in key order; an
    update of a withdrawn alert is ignored; an update of an unknown alert stands."""
    state: tuple[bool, object] | None = None
    for v in sorted(versions, key=lambda v: v.key):
        if v.action == "create":
            state = (True, v.record)
        elif v.action == "withdraw":
            state = (False, None)
        elif state is None or state[0]:
            state = (True, v.record)
    return state


def replay(deliveries: list[AlertVersion]):  # noqa: ANN201
    entry = None
    for v in deliveries:
        merged = merge(entry, v)
        if merged is not None:
            entry = merged
    return entry


_versions = st.lists(
    st.builds(lambda k, action: AlertVersion(f"2026-01-01T00:00:{k:02d}.000000Z~m~0000", action, f"record-{k}-{action}"),
              st.integers(0, 30), st.sampled_from(ACTIONS)),
    min_size=1, max_size=12, unique_by=lambda v: v.key)


@given(_versions, st.data())
@settings(max_examples=600)
def test_any_order_with_redeliveries_gives_the_same_replica_entry(versions: list[AlertVersion], data) -> None:  # noqa: ANN001
    in_order = replay(sorted(versions, key=lambda v: v.key))
    deliveries = data.draw(st.permutations(versions + data.draw(st.lists(st.sampled_from(versions), max_size=8))))
    entry = replay(deliveries)
    assert entry == in_order
    seen = observed(versions)
    assert (entry.active, entry.record if entry.active else None) == seen


def test_a_withdraw_is_final_until_a_later_create() -> None:
    create = AlertVersion("k1", "create", "stolen")
    withdraw = AlertVersion("k2", "withdraw", "withdrawn")
    late_update = AlertVersion("k3", "update", "lost")
    recreate = AlertVersion("k4", "create", "stolen again")
    entry = replay([create, withdraw, late_update])
    assert not entry.active
    assert replay([create, withdraw, late_update, recreate]).record == "stolen again"
    assert merge(entry, create) is None  # redelivered: nothing changes


# -- strict JSON stays cheap for a batch of shallow records ---------------------------------------

def _nested(depth: int, width: int) -> object:
    value: object = [{"k[{": "v]}\"", "n": [1, {"x": "{"}]} for _ in range(width)]
    for level in range(depth):
        value = {"a": value, "b": "]"} if level % 2 else [value, "}"]
    return value


@given(st.integers(0, 80), st.integers(0, 40))
@settings(max_examples=150)
def test_the_nesting_limit_holds_exactly_however_many_shallow_records_there_are(depth: int, width: int) -> None:
    text = json.dumps(_nested(depth, width))
    actual = _depth(json.loads(text))
    if actual > wire.MAX_DEPTH:
        with pytest.raises(DecodeError) as caught:
            wire.parse_json(text)
        assert caught.value.reason == "too_deep"
    else:
        assert wire.parse_json(text) == json.loads(text)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0
