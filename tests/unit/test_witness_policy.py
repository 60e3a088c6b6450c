"""The witness policy of the signed directory (issue 23): its strict form, its defaults at any
number of members, and the hub's admission of a cosignature under it."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
import rfc8785

from crypto.directory import DIRECTORY_DOMAIN, load_directory, sign_directory
from crypto.errors import DirectoryError
from crypto.witness import (
    QuorumError,
    WitnessError,
    admit_cosignature,
    cosign_interval,
    cosign_window,
    directory_witnesses,
    policy_quorum,
    required_quorum,
)
from crypto.witness_policy import MAX_SERVED_COSIGNATURES, WitnessPolicy, parse_witness_policy
from protocol.encoding import encode_base64
from tests.unit.test_directory import DIRECTORY, NOW, ROOT_CERT, ROOT_KEY


def _members(n: int, policy: WitnessPolicy | None = None) -> SimpleNamespace:
    """A directory as crypto/witness.py reads it: its national nodes and its witness policy."""
    ids = [f"{chr(65 + i // 676)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n)]
    return SimpleNamespace(node_ids=lambda: ids, witness_policy=policy)


@pytest.mark.parametrize(("members", "quorum"), [(3, 3), (25, 25), (99, 99), (100, 51), (190, 96), (250, 99)])
def test_default_quorum_is_every_witness_up_to_99_then_a_majority_a_served_note_can_carry(members, quorum):
    directory = _members(members)
    assert policy_quorum(directory) == required_quorum(directory) == quorum
    assert quorum <= MAX_SERVED_COSIGNATURES


@pytest.mark.parametrize(("members", "interval"), [(3, 0), (99, 0), (100, 60), (190, 60)])
def test_default_cosign_interval_is_every_checkpoint_up_to_99_witnesses(members, interval):
    assert cosign_interval(_members(members)) == interval


def test_a_stated_policy_names_the_witnesses_in_its_order_and_its_quorum():
    directory = _members(190, WitnessPolicy(("MEX", "AAB", "IDN"), quorum=2, cosign_interval=0))
    assert directory_witnesses(directory) == ["MEX", "AAB", "IDN"]
    assert required_quorum(directory) == 2
    assert cosign_interval(directory) == 0


def test_an_auditor_may_lower_the_quorum_but_not_past_what_a_served_checkpoint_carries():
    directory = _members(190)
    assert required_quorum(directory, 10) == 10
    with pytest.raises(QuorumError):
        required_quorum(directory, MAX_SERVED_COSIGNATURES + 1)


def test_cosignatures_are_admitted_once_per_window_from_the_policy_witnesses_only():
    directory = _members(190, WitnessPolicy(("MEX", "IDN"), quorum=2, cosign_interval=60))
    assert admit_cosignature(directory, "IDN", 1_800_000_000, None) == 1
    with pytest.raises(WitnessError) as refused:
        admit_cosignature(directory, "IDN", 1_800_000_019, 1_800_000_000)  # same 60 s window
    assert refused.value.reason == "cosignature_too_frequent"
    with pytest.raises(WitnessError) as older:
        admit_cosignature(directory, "IDN", 1_799_999_000, 1_800_000_000)
    assert older.value.reason == "cosignature_too_frequent"
    assert admit_cosignature(directory, "MEX", 1_800_000_020, 1_799_999_999) == 0  # the next window
    with pytest.raises(WitnessError) as stranger:
        admit_cosignature(directory, "AAA", 1_800_000_000, None)
    assert stranger.value.reason == "not_a_witness"


@pytest.mark.parametrize("bad", [
    [], {}, {"quorum": 0}, {"quorum": 100}, {"quorum": True}, {"quorum": "3"}, {"quorum": None},
    {"witnesses": ["MEX"], "quorum": 2}, {"witnesses": ["MEX", "MEX"]}, {"witnesses": "MEX"}, {"witnesses": [""]},
    {"cosign_interval": -1}, {"cosign_interval": 86_401}, {"rotate": 3},
])
def test_a_malformed_policy_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        parse_witness_policy(bad)


def test_a_signed_directory_carries_its_policy_and_one_without_stays_byte_identical():
    assert "witness_policy" not in DIRECTORY.as_json()
    policy = WitnessPolicy(("MEX",), quorum=1, cosign_interval=30)
    signed = sign_directory(dataclasses.replace(DIRECTORY, witness_policy=policy), ROOT_KEY)
    loaded = load_directory(signed, ROOT_CERT, NOW)
    assert loaded.witness_policy == policy
    assert json.loads(signed)["directory"]["witness_policy"] == {"witnesses": ["MEX"], "quorum": 1,
                                                                 "cosign_interval": 30}
    assert directory_witnesses(loaded) == ["MEX"] and required_quorum(loaded) == 1


@pytest.mark.parametrize("policy", [{"witnesses": ["HUB"]}, {"witnesses": ["FRA"]}, {"quorum": 0}, {"weird": 1}])
def test_a_root_signed_directory_with_an_impossible_policy_is_refused_as_malformed(policy):
    inner = {**DIRECTORY.as_json(), "witness_policy": policy}
    value = ROOT_KEY.sign(DIRECTORY_DOMAIN + rfc8785.dumps(inner))
    raw = rfc8785.dumps({"directory": inner, "sig": {"alg": ROOT_KEY.alg, "kid": ROOT_KEY.kid,
                                                     "value": encode_base64(value)}})
    with pytest.raises(DirectoryError) as refused:
        load_directory(raw, ROOT_CERT, NOW)
    assert refused.value.reason == "malformed"


# -- the exact decisions and words (mutation testing, crypto/witness.py) ----------------------------


@pytest.mark.parametrize(("members", "quorum"), [(101, 51), (151, 76), (197, 99)])
def test_the_default_majority_of_an_odd_number_of_witnesses_is_a_whole_number_of_cosignatures(members, quorum):
    assert policy_quorum(_members(members)) == quorum
    assert isinstance(policy_quorum(_members(members)), int)


def test_cosign_windows_are_clock_aligned_and_interval_zero_makes_each_second_its_own_window():
    assert cosign_window(1_800_000_000, 0) == 1_800_000_000
    assert cosign_window(1_800_000_001, 0) == 1_800_000_001
    assert cosign_window(1_800_000_000, -5) == 1_800_000_000  # never a division by a non-positive interval
    assert cosign_window(119, 60) == cosign_window(60, 60) == 1
    assert cosign_window(59, 60) == 0 and cosign_window(120, 60) == 2


def test_a_non_witness_is_told_it_is_not_one_naming_it_cut_to_16_characters():
    directory = _members(3, WitnessPolicy(("MEX", "IDN"), quorum=2, cosign_interval=60))
    with pytest.raises(WitnessError) as refused:
        admit_cosignature(directory, "AAA", 1_800_000_000, None)
    assert (refused.value.reason, refused.value.detail) == (
        "not_a_witness", "AAA is not a witness under the directory's witness policy: it need not cosign")
    with pytest.raises(WitnessError) as long_name:
        admit_cosignature(directory, "Q" * 40, 1_800_000_000, None)
    assert long_name.value.detail == ("Q" * 16 + " is not a witness under the directory's witness policy: "
                                                  "it need not cosign")


def test_a_too_frequent_cosignature_says_when_the_last_one_was_and_the_window():
    directory = _members(3, WitnessPolicy(("MEX", "IDN"), quorum=2, cosign_interval=60))
    with pytest.raises(WitnessError) as refused:
        admit_cosignature(directory, "IDN", 1_800_000_019, 1_800_000_000)
    assert (refused.value.reason, refused.value.detail) == (
        "cosignature_too_frequent",
        "IDN already cosigned at 1800000000; the witness policy allows one cosignature per 60 s window")


def test_the_first_directory_a_fresh_process_sees_is_ranked(monkeypatch):
    import crypto.witness

    monkeypatch.setattr(crypto.witness, "_last_ranks", [])  # as at import: nothing ranked yet
    directory = _members(3, WitnessPolicy(("MEX", "IDN"), quorum=2, cosign_interval=60))
    assert admit_cosignature(directory, "IDN", 1_800_000_000, None) == 1


def test_the_policy_order_is_computed_once_per_directory_not_per_cosignature():
    ids = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}Z" for i in range(190)]
    calls = []
    directory = SimpleNamespace(node_ids=lambda: calls.append(1) or list(ids), witness_policy=None)
    for i, witness in enumerate(ids[:20]):
        assert admit_cosignature(directory, witness, 1_800_000_000 + i, None) == i
    assert policy_quorum(directory) == 96 and cosign_interval(directory) == 60
    assert len(calls) == 1
    other = _members(5)
    assert admit_cosignature(other, "AAE", 1_800_000_000, None) == 4  # another directory: its own order
    assert admit_cosignature(directory, "AAZ", 1_800_000_000, None) == 0 and len(calls) == 2


# -- the exact words of a refused policy, and its bounds (issue 24, crypto/witness_policy.py) --------


@pytest.mark.parametrize(("bad", "error", "message"), [
    ([], TypeError, "witness_policy must be an object"),
    ({"rotate": 3, "quorum": 1, "alpha": 0}, ValueError, "witness_policy: unknown members ['alpha', 'rotate']"),
    ({}, ValueError, "witness_policy states nothing: leave it out instead"),
    ({"quorum": None}, TypeError, "witness_policy members are absent, never null"),
    ({"witnesses": "MEX"}, TypeError, "witness_policy.witnesses must be a list"),
    ({"quorum": "3"}, TypeError, "witness_policy.quorum must be an integer"),
    ({"cosign_interval": True}, TypeError, "witness_policy.cosign_interval must be an integer"),
    ({"witnesses": []}, ValueError, "witness_policy.witnesses must be a non-empty list of node ids"),
    ({"witnesses": ["MEX", ""]}, ValueError, "witness_policy.witnesses must be a non-empty list of node ids"),
    ({"witnesses": ["MEX", 7]}, ValueError, "witness_policy.witnesses must be a non-empty list of node ids"),
    ({"witnesses": ["MEX", "IDN", "MEX"]}, ValueError, "witness_policy.witnesses lists a node twice"),
    ({"quorum": 0}, ValueError,
     "witness_policy.quorum is 1..99 (a served checkpoint carries at most 99 cosignatures), not 0"),
    ({"quorum": 100}, ValueError,
     "witness_policy.quorum is 1..99 (a served checkpoint carries at most 99 cosignatures), not 100"),
    ({"witnesses": ["MEX", "IDN"], "quorum": 3}, ValueError, "witness_policy.quorum 3 exceeds its 2 witnesses"),
    ({"cosign_interval": -1}, ValueError, "witness_policy.cosign_interval is 0..86400 seconds, not -1"),
    ({"cosign_interval": 86_401}, ValueError, "witness_policy.cosign_interval is 0..86400 seconds, not 86401"),
], ids=["not-an-object", "unknown-members", "empty", "null-member", "witnesses-not-a-list", "string-quorum",
        "bool-interval", "no-witnesses", "empty-witness", "non-string-witness", "duplicate-witness", "quorum-0",
        "quorum-100", "quorum-above-witnesses", "interval-negative", "interval-above-a-day"])
def test_a_refused_policy_says_exactly_what_is_wrong(bad, error, message):
    import re

    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        parse_witness_policy(bad)


def test_a_policy_at_its_bounds_is_accepted_and_keeps_only_what_the_root_stated():
    assert parse_witness_policy({"quorum": 1}) == WitnessPolicy(quorum=1)
    assert parse_witness_policy({"quorum": 99, "cosign_interval": 0}) == WitnessPolicy(None, 99, 0)
    assert parse_witness_policy({"cosign_interval": 86_400}).cosign_interval == 86_400
    both = parse_witness_policy({"witnesses": ["MEX", "IDN"], "quorum": 2})
    assert both == WitnessPolicy(("MEX", "IDN"), 2) and both.as_json() == {"witnesses": ["MEX", "IDN"], "quorum": 2}
    assert WitnessPolicy(["IDN"]).witnesses == ("IDN",) and WitnessPolicy(cosign_interval=0).as_json() == {
        "cosign_interval": 0}
    assert WitnessPolicy().as_json() == {}
