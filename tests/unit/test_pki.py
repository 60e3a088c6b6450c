"""Federation PKI: keys, certificates, the root-signed directory and revocations, the trust store."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.directory import load_directory, load_revocations, sign_directory
from crypto.errors import CryptoError
from crypto.keys import SealingKey, SigningKey, verify_signature
from crypto.pki import check_certificate, create_root, issue_certificate
from nodes.runtime.federation import check_countries, init_federation, load_federation, revoke

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fed_path(tmp_path_factory) -> Path:  # noqa: ANN001
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "unit", ["MEX", "IDN"], NOW)
    return path


def test_sign_verify_round_trip_and_wrong_key_fails() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    verify_signature("ed25519", key.public_key, key.sign(b"data"), b"data")
    with pytest.raises(CryptoError) as caught:
        verify_signature("ed25519", other.public_key, key.sign(b"data"), b"data")
    assert caught.value.reason == "bad_signature"
    with pytest.raises(CryptoError) as caught:
        verify_signature("rsa", key.public_key, key.sign(b"data"), b"data")
    assert caught.value.reason == "unsupported_alg"


def test_repr_shows_no_secret() -> None:
    key, sealing = SigningKey.generate(), SealingKey.generate()
    pem = key.to_pem().decode()
    assert "PRIVATE" not in repr(key) and pem.splitlines()[1][:20] not in repr(key)
    assert SigningKey.from_pem(key.to_pem()).kid == key.kid
    assert "PRIVATE" not in repr(sealing)


def test_certificate_from_another_root_is_refused() -> None:
    root_key, root_cert = create_root("a", NOW)
    other_key, other_cert = create_root("b", NOW)
    cert = issue_certificate(other_key, other_cert, "MEX", SigningKey.generate().public_key, NOW)
    with pytest.raises(CryptoError) as caught:
        check_certificate(cert, root_cert, NOW)
    assert caught.value.reason == "cert_not_from_root"
    check_certificate(issue_certificate(root_key, root_cert, "MEX", SigningKey.generate().public_key, NOW),
                      root_cert, NOW)


def test_expired_certificate_is_refused() -> None:
    root_key, root_cert = create_root("a", NOW)
    cert = issue_certificate(root_key, root_cert, "MEX", SigningKey.generate().public_key, NOW, days=1)
    with pytest.raises(CryptoError) as caught:
        check_certificate(cert, root_cert, NOW + timedelta(days=2))
    assert caught.value.reason == "cert_expired"


def test_federation_loads_and_resolves_every_nodes_key(fed_path: Path) -> None:
    federation = load_federation(fed_path, NOW)
    assert federation.directory.node_ids() == ["IDN", "MEX"]
    assert federation.directory.node_ids(exclude_hub=False) == ["HUB", "IDN", "MEX"]
    for node_id in ("HUB", "MEX", "IDN"):
        creds = federation.credentials(node_id)
        assert federation.trust.signer(creds.signing_key.kid, NOW) == (node_id, creds.signing_key.public_key)
    assert federation.directory.by_broker_user("MEX").node_id == "MEX"
    assert "hub.rejection" in federation.directory.node("HUB").allowed_types
    assert "hub.rejection" not in federation.directory.node("MEX").allowed_types


def test_private_files_are_0600(fed_path: Path) -> None:
    secret_files = [fed_path / "root" / "root.key"] + [
        fed_path / "nodes" / n / f for n in ("HUB", "MEX") for f in
        ("signing.key", "sealing.key", "broker.password", "tokens.json")]
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_directory_signed_by_another_key_is_refused(fed_path: Path) -> None:
    federation = load_federation(fed_path, NOW)
    rogue = sign_directory(federation.directory, SigningKey.generate())
    with pytest.raises(CryptoError) as caught:
        load_directory(rogue, federation.root_cert, NOW)
    assert caught.value.reason == "bad_signature"


def test_expired_directory_is_refused(fed_path: Path) -> None:
    raw = (fed_path / "directory.signed.json").read_bytes()
    federation = load_federation(fed_path, NOW)
    with pytest.raises(CryptoError) as caught:
        load_directory(raw, federation.root_cert, NOW + timedelta(days=366))
    assert caught.value.reason == "expired"


def test_tampered_directory_is_refused(fed_path: Path) -> None:
    federation = load_federation(fed_path, NOW)
    outer = json.loads((fed_path / "directory.signed.json").read_bytes())
    outer["directory"]["nodes"][1]["allowed_types"].append("hub.rejection")
    with pytest.raises(CryptoError) as caught:
        load_directory(json.dumps(outer).encode(), federation.root_cert, NOW)
    assert caught.value.reason == "bad_signature"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_mutation_of_the_signed_directory_is_refused_or_harmless(fed_path: Path, data) -> None:  # noqa: ANN001
    raw = bytearray((fed_path / "directory.signed.json").read_bytes())
    federation = load_federation(fed_path, NOW)
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    try:
        loaded = load_directory(bytes(raw), federation.root_cert, NOW)
    except CryptoError:
        return
    # Only JSON-insignificant bytes (e.g. indentation whitespace) may change without refusal.
    assert loaded.as_json() == federation.directory.as_json()


def test_revoked_key_is_refused_by_the_trust_store(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    kid = load_federation(tmp_path / "f", NOW).credentials("MEX").signing_key.kid
    revoke(tmp_path / "f", kid, NOW)
    federation = load_federation(tmp_path / "f", NOW)
    assert kid in load_revocations((tmp_path / "f" / "revocations.signed.json").read_bytes(),
                                   federation.root_cert).revoked
    with pytest.raises(CryptoError) as caught:
        federation.trust.signer(kid, NOW)
    assert caught.value.reason == "revoked_key"


@pytest.mark.parametrize("codes", [["mex"], ["MEXI"], ["HUB"], ["MEX", "MEX"], []])
def test_bad_country_codes_are_refused(codes: list[str]) -> None:
    with pytest.raises(ValueError):
        check_countries(codes)


def test_existing_federation_is_not_overwritten(fed_path: Path) -> None:
    with pytest.raises(FileExistsError):
        init_federation(fed_path, "unit", ["MEX"], NOW)
