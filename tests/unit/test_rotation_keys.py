"""Keys of a node during a rotation's overlap, where no kid names the key: the hub's checkpoints (its
witnesses check them), the witnesses' cosignatures (the hub checks them), an audit bundle spanning
the rotation. Each must accept every key the directory lists as valid now, not only the newest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.join import make_join_request
from crypto.keys import HybridSealingKey, SealingKey, SigningKey
from crypto.note import NoteVerifier, sign_note
from crypto.witness import WitnessError, check_checkpoint
from nodes.app import ceremony
from nodes.app.ceremony import init_federation
from nodes.plumbing.federation import load_federation
from protocol.checkpoint import Checkpoint, SignedNote, format_note

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ORIGIN = "somex/unit/audit"


def _rotate(home: Path, node_id: str, overlap: timedelta) -> tuple[SigningKey, SigningKey]:
    """The root admits a second key for `node_id` (the test plays the node and the root)."""
    node = ceremony.node_home(home, node_id)
    old, new = SigningKey.from_pem((node / "signing.key").read_bytes()), SigningKey.generate()
    request = make_join_request(node_id, new, SealingKey.from_pem((node / "sealing.key").read_bytes()).public_bytes(),
                                HybridSealingKey.from_bytes((node / "hybrid_sealing.key").read_bytes()).public_bytes(),
                                ec.generate_private_key(ec.SECP256R1()).public_key())
    ceremony.admit_request(home, request, NOW, rotation=True, overlap=overlap)
    return old, new


def _checkpoint(key: SigningKey) -> bytes:
    body = Checkpoint(ORIGIN, 1, hashlib.sha256(b"leaf").digest()).body()
    return format_note(SignedNote(body, (sign_note(body, ORIGIN, key),)))


def test_during_the_overlap_both_keys_are_valid_then_only_the_new(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    old, new = _rotate(tmp_path / "f", "HUB", timedelta(days=1))
    trust = load_federation(tmp_path / "f", NOW).trust
    raw = [k.public_bytes_raw() for k in trust.valid_keys("HUB", NOW)]
    assert raw == [old.public_key.public_bytes_raw(), new.public_key.public_bytes_raw()]
    after = NOW + timedelta(days=1, seconds=1)
    assert [k.public_bytes_raw() for k in trust.valid_keys("HUB", after)] == [new.public_key.public_bytes_raw()]


def test_a_witness_accepts_a_checkpoint_signed_by_the_hubs_old_key_during_the_overlap(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    old, _ = _rotate(tmp_path / "f", "HUB", timedelta(days=1))
    trust = load_federation(tmp_path / "f", NOW).trust
    keys = [NoteVerifier(ORIGIN, k) for k in trust.valid_keys("HUB", NOW)]
    assert check_checkpoint(_checkpoint(old), origin=ORIGIN, log_key=keys, last=None, proofs={}).size == 1
    with pytest.raises(WitnessError) as caught:  # the newest key alone (the old code) refuses it
        check_checkpoint(_checkpoint(old), origin=ORIGIN, log_key=keys[-1], last=None, proofs={})
    assert caught.value.reason == "bad_checkpoint_signature"
    later = [NoteVerifier(ORIGIN, k) for k in trust.valid_keys("HUB", NOW + timedelta(days=2))]
    with pytest.raises(WitnessError):  # after the overlap, the old key's checkpoint is refused
        check_checkpoint(_checkpoint(old), origin=ORIGIN, log_key=later, last=None, proofs={})
