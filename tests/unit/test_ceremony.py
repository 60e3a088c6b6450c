"""Key ceremonies on separate hosts (issue 15, items 1 and 6): keys made where they live, the root
admits join requests, the hub's host holds nothing that can sign as a country; bad input refused
with a reason code and nothing changed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.directory import RevocationList, load_directory, sign_revocations, load_revocations
from crypto.errors import CryptoError, DirectoryError, JoinError
from crypto.join import JOIN_DOMAIN, load_join_request, make_join_request, root_fingerprint_of
from crypto.keys import HybridSealingKey, SealingKey, SigningKey, kid_of
from crypto.pki import cert_from_pem
from crypto.signing import sign_envelope, verify_envelope
from nodes.app import ceremony
from nodes.app.cli import main
from nodes.plumbing.config import utcnow
from nodes.plumbing.federation import load_federation
from protocol import envelope as wire
from protocol.ids import uuid7

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
COUNTRIES = ("MEX", "IDN", "ITA")


def _root_fp(root_dir: Path) -> str:
    return root_fingerprint_of(cert_from_pem((root_dir / "root" / "root.crt").read_bytes()))


def _join(root_dir: Path, host: Path, node_id: str) -> None:
    """One member's ceremony: keys and request on its host, admission at the root, install on its host."""
    request = ceremony.init_node(host, node_id, {"email": f"focal@{node_id.lower()}.example"})
    result = ceremony.admit_request(root_dir, request, NOW)
    ceremony.install_admission(host, node_id, result.bundle_path.read_bytes(), NOW, _root_fp(root_dir))


@pytest.fixture
def separate_hosts(tmp_path: Path) -> dict[str, Path]:
    """A root operator, a hub host and three country hosts, each its own directory."""
    hosts = {"ROOT": tmp_path / "root-operator", "HUB": tmp_path / "hub-host",
             **{c: tmp_path / f"{c.lower()}-host" for c in COUNTRIES}}
    ceremony.create_root(hosts["ROOT"], "unit", NOW)
    for node_id in ("HUB", *COUNTRIES):
        _join(hosts["ROOT"], hosts[node_id], node_id)
    # The public files every host needs: the newest directory and revocation list the root published.
    for node_id in ("HUB", *COUNTRIES):
        for name in ("directory.signed.json", "revocations.signed.json"):
            (hosts[node_id] / name).write_bytes((hosts["ROOT"] / name).read_bytes())
    return hosts


def _note_from_mex() -> wire.Envelope:
    return wire.build(message_id=uuid7(1_700_000_000_000, bytes(range(10))), type="note", sender="MEX",
                      recipients=["IDN"], created=NOW, ttl=timedelta(hours=1), body={"text": "hello"})


def _private_key_forms(host: Path, node_id: str) -> list[bytes]:
    """Every encoding of a node's private keys that a copy of them could plausibly be stored in."""
    home = ceremony.node_home(host, node_id)
    forms = []
    for name in ("signing.key", "sealing.key", "tls.key"):
        pem = (home / name).read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        forms += [pem, der, base64.b64encode(der)]
        if name != "tls.key":
            raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
            forms += [raw, base64.b64encode(raw), raw.hex().encode()]
    hybrid = (home / "hybrid_sealing.key").read_bytes()
    return forms + [hybrid, hybrid[:64], base64.b64encode(hybrid), hybrid.hex().encode()]


def test_hub_host_holds_no_country_private_key_and_cannot_sign_as_mex(separate_hosts: dict[str, Path]) -> None:
    hub_files = [p for p in separate_hosts["HUB"].rglob("*") if p.is_file()]
    assert {p.name for p in hub_files} >= {"directory.signed.json", "root.crt", "signing.key"}
    assert not (separate_hosts["HUB"] / "root" / "root.key").exists()
    for country in COUNTRIES:
        forms = _private_key_forms(separate_hosts[country], country)
        for path in hub_files:
            content = path.read_bytes()
            assert not [f for f in forms if f in content], f"{country}'s private key in {path}"
    # Whatever private key the hub's host holds, no node accepts what it signs as MEX's.
    federation = load_federation(separate_hosts["MEX"], NOW)
    assert federation.directory.node_ids() == sorted(COUNTRIES)
    signers = []
    for path in hub_files:
        try:
            signers.append(SigningKey.from_pem(path.read_bytes()))
        except (ValueError, TypeError):
            continue
    assert signers, "the hub's own signing key should have been found"
    for key in signers:
        with pytest.raises(CryptoError) as caught:
            verify_envelope(sign_envelope(_note_from_mex(), key), federation.trust, NOW)
        assert caught.value.reason == "signer_mismatch"
    mex = load_federation(separate_hosts["MEX"], NOW).credentials("MEX")
    verify_envelope(sign_envelope(_note_from_mex(), mex.signing_key), federation.trust, NOW)  # the real one passes


def test_each_host_holds_only_its_own_node_and_no_root_key(separate_hosts: dict[str, Path]) -> None:
    for node_id in ("HUB", *COUNTRIES):
        host = separate_hosts[node_id]
        assert [p.name for p in (host / "nodes").iterdir()] == [node_id]
        assert sorted(p.name for p in (host / "root").iterdir()) == ["root.crt"]
        home = ceremony.node_home(host, node_id)
        for name in ("signing.key", "sealing.key", "hybrid_sealing.key", "tls.key", "broker.password"):
            assert (home / name).stat().st_mode & 0o777 == 0o600, name
        assert home.stat().st_mode & 0o777 == 0o700
        request = (home / ceremony.JOIN_REQUEST_FILE).read_bytes()
        assert b"PRIVATE" not in request


def test_admission_certificates_name_the_node_and_tls_key_is_p256(separate_hosts: dict[str, Path]) -> None:
    home = ceremony.node_home(separate_hosts["IDN"], "IDN")
    tls = cert_from_pem((home / ceremony.TLS_CERT_FILE).read_bytes())
    assert isinstance(tls.public_key(), ec.EllipticCurvePublicKey)
    assert tls.subject.rfc4514_string().startswith("CN=IDN")
    directory = load_directory((separate_hosts["ROOT"] / "directory.signed.json").read_bytes(),
                               cert_from_pem((separate_hosts["ROOT"] / "root" / "root.crt").read_bytes()), NOW)
    assert directory.serial == 1 + len(COUNTRIES)  # one serial per admission


def test_api_tokens_are_made_by_the_node_operator_and_kept_only_as_digests(tmp_path: Path) -> None:
    ceremony.init_node(tmp_path, "MEX")
    token = ceremony.create_token(tmp_path, "MEX", "focal")
    home = ceremony.node_home(tmp_path, "MEX")
    assert not [p for p in home.iterdir() if token.encode() in p.read_bytes()]
    digests = json.loads((home / "tokens.json").read_text())
    assert set(digests) == {"focal"}
    assert ceremony.create_token(tmp_path, "MEX", "focal") != token  # a new token replaces the role's


def test_rotation_new_key_takes_over_old_verifies_during_the_overlap_then_is_refused(
        separate_hosts: dict[str, Path]) -> None:
    root, mex_host = separate_hosts["ROOT"], separate_hosts["MEX"]
    home = ceremony.node_home(mex_host, "MEX")
    old = SigningKey.from_pem((home / "signing.key").read_bytes())
    sealing_before = (home / "sealing.key").read_bytes()
    request = ceremony.init_node(mex_host, "MEX", rotation=True)
    assert (home / "signing.key").read_bytes() == old.to_pem()  # in use until the admission is installed
    result = ceremony.admit_request(root, request, NOW, rotation=True, overlap=timedelta(days=2))
    ceremony.install_admission(mex_host, "MEX", result.bundle_path.read_bytes(), NOW)

    new = SigningKey.from_pem((home / "signing.key").read_bytes())
    assert new.kid != old.kid and not (home / ceremony.NEXT_SIGNING_KEY_FILE).exists()
    assert (home / "sealing.key").read_bytes() == sealing_before  # what was sealed to MEX stays readable
    federation = load_federation(mex_host, NOW)
    assert [kid_of(c.public_key()) for c in federation.directory.node("MEX").certificates] == [old.kid, new.kid]
    assert federation.credentials("MEX").signing_key.kid == new.kid
    in_flight = sign_envelope(_note_from_mex(), old)
    for moment in (NOW, NOW + timedelta(days=2) - timedelta(seconds=1)):  # the overlap: both verify
        verify_envelope(in_flight, federation.trust, moment)
        verify_envelope(sign_envelope(_note_from_mex(), new), federation.trust, moment)
    after = NOW + timedelta(days=2, seconds=1)
    with pytest.raises(CryptoError) as caught:
        verify_envelope(in_flight, federation.trust, after)
    assert caught.value.reason == "cert_expired"
    verify_envelope(sign_envelope(_note_from_mex(), new), federation.trust, after)
    # A second rotation drops certificates whose overlap has ended.
    later = NOW + timedelta(days=3)
    request = ceremony.init_node(mex_host, "MEX", rotation=True)
    result = ceremony.admit_request(root, request, later, rotation=True)
    assert len(load_directory((root / "directory.signed.json").read_bytes(), federation.root_cert,
                              later).node("MEX").certificates) == 2


# -- bad input: a reason code, and nothing changed -------------------------------------------------

def _snapshot(root_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root_dir)): p.read_bytes() for p in root_dir.rglob("*") if p.is_file()}


def _refused_without_change(root_dir: Path, request: bytes, reason: str, **options: bool) -> None:
    before = _snapshot(root_dir)
    with pytest.raises(JoinError) as caught:
        ceremony.admit_request(root_dir, request, NOW, **options)
    assert caught.value.reason == reason
    assert _snapshot(root_dir) == before


def _resigned(request: bytes, change: dict, key: SigningKey) -> bytes:
    outer = json.loads(request)
    outer["join_request"].update(change)
    value = key.sign(JOIN_DOMAIN + rfc8785.dumps(outer["join_request"]))
    outer["sig"] = {"alg": key.alg, "kid": outer["sig"]["kid"], "value": base64.b64encode(value).decode()}
    return rfc8785.dumps(outer)


def _fresh_request(tmp_path: Path, node_id: str) -> tuple[bytes, SigningKey]:
    request = ceremony.init_node(tmp_path / f"new-{node_id}", node_id)
    key = SigningKey.from_pem((ceremony.node_home(tmp_path / f"new-{node_id}", node_id) / "signing.key").read_bytes())
    return request, key


def test_join_request_with_a_wrong_self_signature_is_refused(separate_hosts: dict[str, Path],
                                                              tmp_path: Path) -> None:
    request, _ = _fresh_request(tmp_path, "FRA")
    # Someone swaps in their own sealing key and signs with another key: the CSR's key did not sign it.
    forged = _resigned(request, {"sealing_key": base64.b64encode(SealingKey.generate().public_bytes()).decode()},
                       SigningKey.generate())
    _refused_without_change(separate_hosts["ROOT"], forged, "bad_request_signature")
    # A changed field under the original signature.
    outer = json.loads(request)
    outer["join_request"]["contact"] = {"email": "attacker@example.org"}
    _refused_without_change(separate_hosts["ROOT"], rfc8785.dumps(outer), "bad_request_signature")


def test_join_request_for_an_id_that_is_not_alpha3_is_refused(separate_hosts: dict[str, Path],
                                                               tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_join_request("mexico", SigningKey.generate(), bytes(32), bytes(HybridSealingKey.PUBLIC_SIZE),
                          ec.generate_private_key(ec.SECP256R1()).public_key())
    request, key = _fresh_request(tmp_path, "FRA")
    for bad in ("FR", "fra", "FRAN", "F1A", ""):
        _refused_without_change(separate_hosts["ROOT"], _resigned(request, {"node_id": bad}, key), "bad_node_id")


def test_duplicate_country_without_rotation_is_refused(separate_hosts: dict[str, Path], tmp_path: Path) -> None:
    impostor, _ = _fresh_request(tmp_path, "MEX")
    _refused_without_change(separate_hosts["ROOT"], impostor, "already_member")
    newcomer, _ = _fresh_request(tmp_path, "FRA")
    _refused_without_change(separate_hosts["ROOT"], newcomer, "not_a_member", rotation=True)
    # The same MEX key a second time, even as a rotation.
    mex_request = (ceremony.node_home(separate_hosts["MEX"], "MEX") / ceremony.JOIN_REQUEST_FILE).read_bytes()
    _refused_without_change(separate_hosts["ROOT"], mex_request, "key_reused", rotation=True)


@pytest.mark.parametrize("damage", ["truncated", "re-encoded", "trailing-newline", "not-json", "empty"])
def test_truncated_or_reencoded_join_request_is_refused(separate_hosts: dict[str, Path], tmp_path: Path,
                                                        damage: str) -> None:
    request, _ = _fresh_request(tmp_path, "FRA")
    damaged = {"truncated": request[:-40], "re-encoded": json.dumps(json.loads(request), indent=1).encode(),
               "trailing-newline": request + b"\n", "not-json": b"\xff" + request, "empty": b""}[damage]
    _refused_without_change(separate_hosts["ROOT"], damaged, "malformed_request")


def test_a_request_with_a_csr_for_another_name_is_refused(tmp_path: Path) -> None:
    request, key = _fresh_request(tmp_path, "FRA")
    other, _ = _fresh_request(tmp_path, "DEU")
    stolen_csr = json.loads(other)["join_request"]["csr"]
    with pytest.raises(JoinError) as caught:
        load_join_request(_resigned(request, {"csr": stolen_csr}, key))
    assert caught.value.reason == "cert_name_mismatch"


def test_first_admission_must_be_the_hub(tmp_path: Path) -> None:
    ceremony.create_root(tmp_path / "root", "unit", NOW)
    request, _ = _fresh_request(tmp_path, "MEX")
    _refused_without_change(tmp_path / "root", request, "hub_first")


def test_revocation_list_signed_by_a_node_key_is_refused(separate_hosts: dict[str, Path]) -> None:
    mex_key = load_federation(separate_hosts["MEX"], NOW).credentials("MEX").signing_key
    forged = sign_revocations(RevocationList("unit", 99, NOW, NOW + timedelta(days=1), frozenset()), mex_key)
    root_cert = cert_from_pem((separate_hosts["ROOT"] / "root" / "root.crt").read_bytes())
    with pytest.raises(DirectoryError) as caught:
        load_revocations(forged, root_cert)
    assert caught.value.reason == "bad_signature"


# -- the node's check of its admission bundle -------------------------------------------------------

def test_bundle_for_another_node_or_from_another_root_is_not_installed(separate_hosts: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    mex = separate_hosts["MEX"]
    before = _snapshot(mex)
    idn_bundle = (separate_hosts["ROOT"] / ceremony.ADMISSIONS_DIR / "IDN.json").read_bytes()
    with pytest.raises(JoinError) as caught:
        ceremony.install_admission(mex, "MEX", idn_bundle, NOW)
    assert caught.value.reason == "bundle_mismatch"
    # Another root (say the hub operator's own) admitting a copy of MEX's request: refused by the pin.
    ceremony.create_root(tmp_path / "rogue", "unit", NOW)
    rogue_hub, _ = _fresh_request(tmp_path, "HUB")
    ceremony.admit_request(tmp_path / "rogue", rogue_hub, NOW)
    mex_request = (ceremony.node_home(mex, "MEX") / ceremony.JOIN_REQUEST_FILE).read_bytes()
    rogue = ceremony.admit_request(tmp_path / "rogue", mex_request, NOW)
    with pytest.raises(JoinError) as caught:
        ceremony.install_admission(mex, "MEX", rogue.bundle_path.read_bytes(), NOW)
    assert caught.value.reason == "unknown_root"
    fresh = tmp_path / "fresh-mex"
    ceremony.init_node(fresh, "MEX")
    with pytest.raises(JoinError) as caught:  # first install: the fingerprint read over the phone decides
        ceremony.install_admission(fresh, "MEX", rogue.bundle_path.read_bytes(), NOW, _root_fp(separate_hosts["ROOT"]))
    assert caught.value.reason == "unknown_root"
    assert _snapshot(mex) == before


def test_cli_refusal_is_one_line_with_its_reason(separate_hosts: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # main() would point structlog at this test's captured stdout, closed once the test ends.
    monkeypatch.setattr("nodes.app.cli.configure_logging", lambda: None)
    request, _ = _fresh_request(tmp_path, "MEX")
    (tmp_path / "req.json").write_bytes(request)
    assert main(["federation", "admit", str(tmp_path / "req.json"), "--root", str(separate_hosts["ROOT"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("somex: refused (already_member)")


def test_the_cli_ceremony_on_separate_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodes.app.cli.configure_logging", lambda: None)
    root, hub, mex = (str(tmp_path / d) for d in ("root", "hub", "mex"))

    def run(*argv: str) -> str:
        assert main(list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    root_fp = run("federation", "create-root", "--name", "cli", "--root", root).splitlines()[-1].split(": ")[-1]
    for country, host in (("HUB", hub), ("MEX", mex)):
        told = run("node", "init", "--country", country, "--out", host, "--contact-email", "ops@example.org")
        request = Path(host) / "nodes" / country / "join-request.json"
        heard = run("federation", "admit", str(request), "--root", root)
        assert told.splitlines()[-1].split(": ")[-1] in heard  # the fingerprint both operators read
        run("node", "install-admission", str(Path(root) / "admissions" / f"{country}.json"), "--country", country,
            "--dir", host, "--root-fingerprint", root_fp)
    token = run("node", "token", "create", "--role", "focal", "--country", "MEX", "--dir", mex).strip()
    assert len(token) >= 43
    (Path(mex) / "directory.signed.json").write_bytes((Path(root) / "directory.signed.json").read_bytes())
    assert load_federation(Path(mex), utcnow()).directory.node_ids() == ["MEX"]
    assert not (Path(hub) / "root" / "root.key").exists() and not (Path(mex) / "root" / "root.key").exists()
