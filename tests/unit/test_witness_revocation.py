"""A witness whose key the root revoked (issue 24): it can sign nothing any more, so it is neither
required nor counted. Before, it stayed in an all-member default quorum and blocked every later
checkpoint forever (the hub never stores its cosignatures: its envelopes are refused as
`revoked_key`), and an auditor's bundle could not be witnessed either."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from types import SimpleNamespace

import pytest

from crypto.directory import RevocationList, sign_revocations
from crypto.keys import kid_of
from crypto.witness import (
    QuorumError,
    WitnessError,
    admit_cosignature,
    cosign_interval,
    directory_witnesses,
    policy_quorum,
    required_quorum,
)
from crypto.witness_policy import WitnessPolicy
from tests.unit import test_audit_bundle as bundles
from tests.unit.test_directory import CERTS, DIRECTORY, KEYS, NOW, _cert, _directory, _entry

MEX_KID = kid_of(CERTS["MEX"].public_key())
IDN_KID = kid_of(CERTS["IDN"].public_key())
UNRELATED = frozenset({"ab" * 32})


def test_a_witness_whose_key_the_root_revoked_is_neither_required_nor_counted() -> None:
    assert directory_witnesses(DIRECTORY) == ["IDN", "MEX"] and policy_quorum(DIRECTORY) == 2
    revoked = frozenset({MEX_KID})
    assert directory_witnesses(DIRECTORY, revoked) == ["IDN"]
    assert policy_quorum(DIRECTORY, revoked) == required_quorum(DIRECTORY, revoked=revoked) == 1
    assert cosign_interval(DIRECTORY, revoked) == 0
    assert admit_cosignature(DIRECTORY, "IDN", 1_800_000_000, None, revoked) == 0
    with pytest.raises(WitnessError) as refused:
        admit_cosignature(DIRECTORY, "MEX", 1_800_000_000, None, revoked)
    assert refused.value.reason == "not_a_witness"


def test_an_auditor_cannot_ask_for_the_cosignature_of_a_revoked_witness() -> None:
    assert required_quorum(DIRECTORY, 2) == 2
    with pytest.raises(QuorumError):
        required_quorum(DIRECTORY, 2, frozenset({MEX_KID}))
    assert required_quorum(DIRECTORY, 1, frozenset({MEX_KID})) == 1


def test_the_revocation_of_some_other_key_changes_nothing() -> None:
    assert directory_witnesses(DIRECTORY, UNRELATED) == ["IDN", "MEX"]
    assert policy_quorum(DIRECTORY, UNRELATED) == 2


def test_a_witness_in_a_key_rollover_stays_a_witness_while_one_of_its_keys_is_unrevoked() -> None:
    new_mex = _cert("MEX", type(KEYS["MEX"]).generate())
    directory = _directory(MEX=_entry("MEX", CERTS["MEX"], new_mex))
    assert directory_witnesses(directory, frozenset({MEX_KID})) == ["IDN", "MEX"]
    assert policy_quorum(directory, frozenset({MEX_KID})) == 2
    both = frozenset({MEX_KID, kid_of(new_mex.public_key())})
    assert directory_witnesses(directory, both) == ["IDN"] and policy_quorum(directory, both) == 1


def test_with_every_witness_revoked_the_quorum_is_one_nobody_can_meet_never_zero() -> None:
    everyone = frozenset({MEX_KID, IDN_KID})
    assert directory_witnesses(DIRECTORY, everyone) == []
    assert policy_quorum(DIRECTORY, everyone) == 1  # 0 would trust the hub's signature alone


def test_a_federation_of_the_hub_alone_needs_no_cosignature() -> None:
    alone = SimpleNamespace(node_ids=lambda: [], witness_policy=None)
    assert policy_quorum(alone) == 0


def test_a_stated_quorum_above_the_witnesses_left_is_all_of_them() -> None:
    directory = dataclasses.replace(DIRECTORY, witness_policy=WitnessPolicy(("MEX", "IDN"), quorum=2))
    assert policy_quorum(directory) == 2
    assert directory_witnesses(directory, frozenset({MEX_KID})) == ["IDN"]
    assert policy_quorum(directory, frozenset({MEX_KID})) == 1
    # A stated quorum the remaining members still reach is kept as stated.
    wide = SimpleNamespace(node_ids=lambda: ["AAA", "BBB", "CCC"], witness_policy=WitnessPolicy(quorum=2))
    assert policy_quorum(wide) == 2
    # One above the members left (after `remove`: the policy lists no witnesses) is all of them.
    narrow = SimpleNamespace(node_ids=lambda: ["AAA"], witness_policy=WitnessPolicy(quorum=2))
    assert policy_quorum(narrow) == 1


def test_the_policy_order_is_recomputed_when_the_revocation_list_changes() -> None:
    assert admit_cosignature(DIRECTORY, "MEX", 1_800_000_000, None) == 1
    assert admit_cosignature(DIRECTORY, "MEX", 1_800_000_000, None, frozenset({IDN_KID})) == 0
    assert admit_cosignature(DIRECTORY, "MEX", 1_800_000_000, None) == 1


# -- the auditor's bundle: the root-signed revocation list travels with it ------------------------------


def _revocations(revoked: frozenset[str], federation: str = "bundle-unit", root_key=bundles.ROOT_KEY) -> str:  # noqa: ANN001
    listed = RevocationList(federation, 5, NOW, NOW + timedelta(days=7), revoked)
    return sign_revocations(listed, root_key).decode()


BUNDLE_MEX_KID = kid_of(bundles.KEYS["MEX"].public_key)


def _idn_only_log_bundle(**members) -> dict:  # noqa: ANN003
    """A log whose checkpoints only IDN cosigned: MEX's key was revoked, the hub refuses its envelopes."""
    bundle = bundles.LOG.bundle(**members)
    bundle["checkpoints"] = [bundles.LOG.note(s, cosigners=("IDN",)) for s in (4, 8)]
    return bundle


def test_a_bundle_whose_revocation_list_revokes_a_witness_is_witnessed_by_the_others() -> None:
    report = bundles.verify(_idn_only_log_bundle(revocations=_revocations(frozenset({BUNDLE_MEX_KID}))))
    assert report.ok, report.findings
    assert report.witnesses == ["IDN"] and report.quorum_required == 1 and report.witnessed_size == 8


def test_without_the_revocation_list_every_witness_is_still_required() -> None:
    report = bundles.verify(_idn_only_log_bundle())
    assert not report.ok and report.quorum_required == 2 and report.witnessed_size is None


def test_a_revoked_witness_cosignature_in_a_bundle_counts_for_nothing() -> None:
    bundle = bundles.LOG.bundle(revocations=_revocations(frozenset({BUNDLE_MEX_KID})))
    report = bundles.verify(bundle)
    assert report.ok, report.findings
    assert report.cosigners == {4: ["IDN"], 8: ["IDN"]} and report.quorum_met == 1


@pytest.mark.parametrize(("revocations", "detail"), [
    (_revocations(frozenset({BUNDLE_MEX_KID}), root_key=bundles.OTHER_ROOT_KEY), "revocation list not signed by this root"),
    (_revocations(frozenset({BUNDLE_MEX_KID}), federation="elsewhere"),
     "revocation list of 'elsewhere', the directory's federation is 'bundle-unit'"),
    (7, "revocation list not signed by this root"),
    ("{}", "revocation list not signed by this root"),
], ids=["other-root", "other-federation", "not-a-string", "not-signed"])
def test_a_revocation_list_the_root_did_not_sign_for_this_federation_is_refused(revocations, detail) -> None:  # noqa: ANN001
    report = bundles.verify(_idn_only_log_bundle(revocations=revocations))
    assert bundles.findings(report) == [("bad_revocations", None, None)]
    assert report.findings[0].detail.startswith(detail)
    assert report.witnesses == [] and report.quorum_required == 0


def test_the_name_of_another_federation_is_cut_to_80_characters() -> None:
    report = bundles.verify(_idn_only_log_bundle(revocations=_revocations(frozenset(), federation="x" * 100)))
    assert report.findings[0].detail == (f"revocation list of {'x' * 80!r}, the directory's federation is 'bundle-unit'")


def _fake_directory(n: int) -> SimpleNamespace:
    """A directory as crypto/witness.py reads it, with one key per national node."""
    ids = [f"{chr(65 + i // 676)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(n)]
    keys = {i: type(KEYS["MEX"]).generate().public_key for i in ids}
    nodes = {i: SimpleNamespace(certificates=[SimpleNamespace(public_key=lambda k=keys[i]: k)]) for i in ids}
    return SimpleNamespace(node_ids=lambda: ids, witness_policy=None, node=nodes.__getitem__, kids={
        i: kid_of(k) for i, k in keys.items()})


def test_revoking_the_hundredth_witness_brings_back_every_witness_cosigning_every_checkpoint() -> None:
    directory = _fake_directory(100)
    assert policy_quorum(directory) == 51 and cosign_interval(directory) == 60
    revoked = frozenset({directory.kids["AAA"]})
    assert policy_quorum(directory, revoked) == 99 and cosign_interval(directory, revoked) == 0
    # interval 0 (every checkpoint): the next second's cosignature is admitted; at 60 s it was not
    assert admit_cosignature(directory, "AAB", 1_800_000_001, 1_800_000_000, revoked) == 0
    with pytest.raises(WitnessError) as refused:
        admit_cosignature(directory, "AAB", 1_800_000_001, 1_800_000_000)
    assert refused.value.reason == "cosignature_too_frequent"


def test_a_cosignature_made_with_the_revoked_old_key_of_a_witness_in_rollover_counts_for_nothing() -> None:
    from crypto.directory import Directory, NodeEntry, sign_directory
    from crypto.keys import SealingKey
    from crypto.pki import issue_certificate

    def cert(node_id: str, key) -> object:  # noqa: ANN001
        return issue_certificate(bundles.ROOT_KEY, bundles.ROOT_CERT, node_id, key.public_key, NOW, days=30)

    new_mex = type(bundles.KEYS["MEX"]).generate()
    nodes = {n: NodeEntry(n, (cert(n, k), *((cert("MEX", new_mex),) if n == "MEX" else ())), n.lower(),
                          frozenset({"note"}), SealingKey.generate().public_bytes())
             for n, k in bundles.KEYS.items()}
    directory = Directory("bundle-unit", 4, NOW - timedelta(minutes=5), NOW + timedelta(days=30), nodes)
    signed = sign_directory(directory, bundles.ROOT_KEY).decode()
    # Both checkpoints cosigned by IDN and by MEX's old key, which the root has revoked.
    report = bundles.verify(bundles.LOG.bundle(directory=signed, revocations=_revocations(frozenset({BUNDLE_MEX_KID}))))
    assert report.witnesses == ["IDN", "MEX"] and report.quorum_required == 2  # MEX still holds a valid key
    assert report.cosigners == {4: ["IDN"], 8: ["IDN"]} and report.witnessed_size is None and not report.ok
