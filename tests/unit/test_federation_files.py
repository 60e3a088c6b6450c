"""A federation's files: written with private keys 0600, loaded and verified, revoked, re-signed."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto.directory import load_revocations
from crypto.errors import CertificateError, CryptoError, DirectoryError
from crypto.keys import SigningKey
from nodes.plumbing.federation import COUNTRY_TYPES, HUB_TYPES, check_countries, load_federation
from nodes.app.root_operator import reissue_directory, revoke
from nodes.app.ceremony import init_federation

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NODE_FILES = ("signing.key", "signing.crt", "sealing.key", "hybrid_sealing.key", "tls.key", "tls.crt",
              "broker.password", "tokens.json", "operator-tokens.json", "join-request.json")
SECRET_NODE_FILES = ("signing.key", "sealing.key", "hybrid_sealing.key", "tls.key", "broker.password", "tokens.json",
                     "operator-tokens.json")


@pytest.fixture(scope="module")
def fed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fed") / "federation"
    init_federation(path, "unit", ["MEX", "IDN"], NOW, broker_user_prefix="t1.")
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_has_root_directory_revocations_and_every_node(fed_path: Path) -> None:
    assert (fed_path / "root" / "root.key").is_file() and (fed_path / "root" / "root.crt").is_file()
    assert (fed_path / "directory.signed.json").is_file() and (fed_path / "revocations.signed.json").is_file()
    assert sorted(p.name for p in (fed_path / "nodes").iterdir()) == ["HUB", "IDN", "MEX"]
    for node_id in ("HUB", "IDN", "MEX"):
        assert sorted(p.name for p in (fed_path / "nodes" / node_id).iterdir()) == sorted(NODE_FILES)
    assert not [p for p in fed_path.parent.iterdir() if p.name.startswith(".")]  # no build leftovers


def test_private_files_are_0600(fed_path: Path) -> None:
    secrets = [fed_path / "root" / "root.key", fed_path / "root" / "tls-ca.key", fed_path / "broker" / "tls.key"] + [
        fed_path / "nodes" / n / f for n in ("HUB", "IDN", "MEX") for f in SECRET_NODE_FILES]
    for path in secrets:
        assert _mode(path) == 0o600, path
    assert _mode(fed_path / "root") == 0o700


def test_federation_loads_and_resolves_every_nodes_key(fed_path: Path) -> None:
    federation = load_federation(fed_path, NOW)
    assert federation.directory.federation == "unit"
    assert federation.directory.node_ids() == ["IDN", "MEX"]
    assert federation.directory.node_ids(exclude_hub=False) == ["HUB", "IDN", "MEX"]
    for node_id in ("HUB", "MEX", "IDN"):
        creds = federation.credentials(node_id)
        assert federation.trust.signer(creds.signing_key.kid, NOW) == (node_id, creds.signing_key.public_key)
        assert creds.certificate == federation.directory.node(node_id).certificates[-1]
        assert creds.sealing_key.public_bytes() == federation.directory.node(node_id).sealing_key
        assert creds.hybrid_sealing_key.public_bytes() == federation.directory.node(node_id).hybrid_sealing_key


def test_broker_users_and_default_message_types(fed_path: Path) -> None:
    directory = load_federation(fed_path, NOW).directory
    assert directory.node("HUB").broker_user == "t1.HUB"  # the node id: the CN of its TLS certificate
    assert directory.by_broker_user("t1.MEX").node_id == "MEX"
    assert directory.node("HUB").allowed_types == HUB_TYPES
    assert directory.node("MEX").allowed_types == COUNTRY_TYPES
    assert "hub.rejection" not in directory.node("MEX").allowed_types
    assert {"alert.document", "mla.request", "receipt", "witness.cosign"} <= COUNTRY_TYPES


def test_credentials_hold_tokens_and_password_but_never_show_them(fed_path: Path) -> None:
    creds = load_federation(fed_path, NOW).credentials("MEX")
    assert set(creds.tokens) == {"focal", "feed", "auditor", "operator", "carrier"}
    assert len(set(creds.tokens.values())) == 5
    assert all(len(token) >= 43 and token.replace("-", "").replace("_", "").isalnum()
               for token in creds.tokens.values())  # 32 random bytes, url-safe base64
    assert creds.broker_user == "t1.MEX" and len(creds.broker_password) >= 32
    shown = repr(creds)
    assert "MEX" in shown
    for secret in [creds.broker_password, *creds.tokens.values()]:
        assert secret not in shown
    assert "PRIVATE" not in shown


def test_other_nodes_tokens_differ(fed_path: Path) -> None:
    federation = load_federation(fed_path, NOW)
    assert federation.credentials("MEX").tokens["focal"] != federation.credentials("IDN").tokens["focal"]


def test_unknown_node_has_no_credentials(fed_path: Path) -> None:
    with pytest.raises(DirectoryError) as caught:
        load_federation(fed_path, NOW).credentials("FRA")
    assert caught.value.reason == "unknown_node"


def test_existing_federation_is_not_overwritten(fed_path: Path) -> None:
    before = (fed_path / "root" / "root.crt").read_bytes()
    with pytest.raises(FileExistsError):
        init_federation(fed_path, "unit", ["MEX"], NOW)
    assert (fed_path / "root" / "root.crt").read_bytes() == before


def test_force_replaces_a_federation(tmp_path: Path) -> None:
    path = tmp_path / "f"
    init_federation(path, "unit", ["MEX"], NOW)
    before = (path / "root" / "root.crt").read_bytes()
    init_federation(path, "unit", ["MEX", "IDN"], NOW, force=True)
    assert (path / "root" / "root.crt").read_bytes() != before
    assert load_federation(path, NOW).directory.node_ids() == ["IDN", "MEX"]


def test_force_does_not_delete_a_directory_that_is_not_a_federation(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        init_federation(tmp_path, "unit", ["MEX"], NOW, force=True)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_an_empty_directory_can_be_used(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    assert load_federation(tmp_path / "f", NOW).directory.node_ids() == ["MEX"]


@pytest.mark.parametrize("codes", [
    ["mex"], ["MEXI"], ["ME"], ["M3X"], ["MÉX"], ["HUB"], [" MEX"], ["MEX", "MEX"], [],
])
def test_bad_country_codes_are_refused_and_nothing_is_written(tmp_path: Path, codes: list[str]) -> None:
    with pytest.raises(ValueError, match="count"):
        init_federation(tmp_path / "f", "unit", codes, NOW)
    assert not (tmp_path / "f").exists()
    assert list(tmp_path.iterdir()) == []


def test_check_countries_names_the_refused_codes() -> None:
    assert check_countries(["MEX", "IDN"]) == ["MEX", "IDN"]
    with pytest.raises(ValueError, match="'mex'"):
        check_countries(["IDN", "mex"])


def test_allowed_types_can_be_narrowed_per_node(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX", "IDN"], NOW, allowed_types={"IDN": {"note", "receipt"}})
    directory = load_federation(tmp_path / "f", NOW).directory
    assert directory.node("IDN").allowed_types == {"note", "receipt"}
    assert directory.node("MEX").allowed_types == COUNTRY_TYPES
    with pytest.raises(ValueError):
        init_federation(tmp_path / "g", "unit", ["MEX"], NOW, allowed_types={"FRA": {"note"}})


def test_init_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    assert capsys.readouterr() == ("", "")


def test_revoked_key_is_refused_by_the_trust_store(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    kid = load_federation(tmp_path / "f", NOW).credentials("MEX").signing_key.kid
    revoke(tmp_path / "f", kid, NOW)
    federation = load_federation(tmp_path / "f", NOW)
    assert federation.revocations.serial == 2
    assert kid in load_revocations((tmp_path / "f" / "revocations.signed.json").read_bytes(),
                                   federation.root_cert).revoked
    with pytest.raises(CryptoError) as caught:
        federation.trust.signer(kid, NOW)
    assert caught.value.reason == "revoked_key"
    hub_kid = federation.credentials("HUB").signing_key.kid
    assert federation.trust.signer(hub_kid, NOW)[0] == "HUB"


def test_revoking_something_that_is_not_a_key_id_is_refused(fed_path: Path) -> None:
    with pytest.raises(ValueError):
        revoke(fed_path, "MEX", NOW)


def test_expired_directory_is_refused_until_reissued(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW, directory_days=10)
    before = load_federation(tmp_path / "f", NOW).directory
    later = NOW + timedelta(days=11)
    with pytest.raises(DirectoryError) as caught:
        load_federation(tmp_path / "f", later)
    assert caught.value.reason == "expired"
    reissued = reissue_directory(tmp_path / "f", later, days=30)
    federation = load_federation(tmp_path / "f", later)
    assert federation.directory == reissued
    assert federation.directory.serial == before.serial + 1 and federation.directory.expires == later + timedelta(days=30)
    assert federation.directory.nodes == before.nodes


def test_tampered_directory_file_is_refused(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    path = tmp_path / "f" / "directory.signed.json"
    raw = path.read_bytes()
    assert b'"federation":"unit"' in raw
    path.write_bytes(raw.replace(b'"federation":"unit"', b'"federation":"unix"'))
    with pytest.raises(DirectoryError) as caught:
        load_federation(tmp_path / "f", NOW)
    assert caught.value.reason == "bad_signature"


def test_a_signing_key_the_directory_does_not_list_is_refused(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    (tmp_path / "f" / "nodes" / "MEX" / "signing.key").write_bytes(SigningKey.generate().to_pem())
    with pytest.raises(CertificateError) as caught:
        load_federation(tmp_path / "f", NOW).credentials("MEX")
    assert caught.value.reason == "unknown_key"


def test_missing_federation_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="federation init"):
        load_federation(tmp_path, NOW)


def test_node_stores_only_sha256_digests_of_its_api_tokens(fed_path: Path) -> None:
    stored = json.loads((fed_path / "nodes" / "HUB" / "tokens.json").read_text())
    creds = load_federation(fed_path, NOW).credentials("HUB")
    assert set(stored) == {"focal", "feed", "auditor", "operator", "carrier"} and creds.token_digests == stored
    assert stored == {role: hashlib.sha256(token.encode()).hexdigest() for role, token in creds.tokens.items()}
    assert not set(creds.tokens.values()) & set(stored.values())


def test_a_tokens_file_of_clear_tokens_is_refused_with_advice(tmp_path: Path) -> None:
    init_federation(tmp_path / "f", "unit", ["MEX"], NOW)
    home = tmp_path / "f" / "nodes" / "MEX"
    (home / "tokens.json").write_text((home / "operator-tokens.json").read_text())
    with pytest.raises(ValueError, match="digests"):
        load_federation(tmp_path / "f", NOW).credentials("MEX")
