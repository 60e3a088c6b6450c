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
