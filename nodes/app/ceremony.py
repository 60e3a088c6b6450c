"""The key ceremonies on disk: each party's step on its own host (docs/deployment.md).

- a node's operator: `init_node` (keys and a join request), later `install_admission` and
  `create_token`;
- the root operator, offline: `create_root` once, `admit_request` per request, `sign_server_certificate`
  for the broker;
- the broker operator: `request_server_certificate`, later `install_server_certificate`;
- `init_federation` (demo, tests): all of these in one process, in one directory.

A host's federation directory (what `NodeConfig.federation_dir` points at) holds the public
federation files (root/root.crt, directory.signed.json, revocations.signed.json) and only its own
nodes/<ID>/: signing.key, sealing.key, hybrid_sealing.key, tls.key, broker.password (0600, made
here, never sent), join-request.json, then signing.crt and tls.crt from the admission bundle. The
root operator's directory holds root/root.key besides, and admissions/<ID>.json it hands back.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.directory import HUB_ID, RevocationList, load_directory, sign_directory, sign_revocations
from crypto.errors import JoinError
from crypto.join import (
    DEFAULT_OVERLAP,
    admit,
    check_admission,
    load_join_request,
    make_bundle,
    make_join_request,
    root_fingerprint_of,
)
from crypto.keys import HybridSealingKey, SealingKey, SigningKey, kid_of
from crypto.pki import BACKDATE, cert_from_pem, check_issued_by, check_validity, cert_to_pem, create_tls_ca, crl_to_pem, issue_crl, tls_chain_pem, tls_key_to_pem
from crypto.pki import create_root as new_root
from crypto.tls_request import issue_server_certificate, make_server_request
from crypto.tokens import new_token, token_digest
from nodes.plumbing.federation import (
    BROKER_DIR,
    BROKER_SERVER_NAMES,
    COUNTRY_TYPES,
    DIRECTORY_FILE,
    HUB_TYPES,
    OPERATOR_TOKENS_FILE,
    REVOCATIONS_FILE,
    REVOCATIONS_VALIDITY,
    ROLES,
    TLS_CERT_FILE,
    TLS_CRL_FILE,
    TLS_CRL_VALIDITY,
    TLS_KEY_FILE,
    TOKENS_FILE,
    is_federation,
    load_root_cert,
    load_token_digests,
    check_countries,
)
from nodes.app.root_operator import load_root_key, record_tls_certificate, tls_ca
from nodes.plumbing.private_files import private_dir, replace_atomically, write_private

JOIN_REQUEST_FILE = "join-request.json"
NEXT_SIGNING_KEY_FILE = "signing.next.key"
NEXT_TLS_KEY_FILE = "tls.next.key"
ADMISSIONS_DIR = "admissions"


def node_home(federation_dir: Path, node_id: str) -> Path:
    return federation_dir / "nodes" / node_id


# -- a node's operator, on the node's host ---------------------------------------------------------

def init_node(federation_dir: Path, node_id: str, contact: Mapping[str, str] | None = None, *,
              rotation: bool = False) -> bytes:
    """Generate the node's keys in nodes/<ID>/ (0600 files, 0700 directories) and its join request.

    Returns the request bytes (also written to nodes/<ID>/join-request.json). Refuses a node
    directory that already holds a signing key: overwriting it would lose the node's identity.
    With `rotation`, a member's node makes a new signing and TLS key (signing.next.key, tls.next.key,
    in use once the admission is installed) and keeps its sealing keys: what was sealed to it
    stays readable.
    """
    home = node_home(federation_dir, node_id)
    if rotation:
        return _init_rotation(home, node_id, contact)
    if (home / "signing.key").exists():
        raise FileExistsError(f"{home / 'signing.key'} exists: this node already has keys (a new signing key "
                              "for a member is a rotation: --rotation)")
    private_dir(federation_dir, tighten_existing=False)
    private_dir(home.parent)
    private_dir(home)
    signing, sealing, hybrid = SigningKey.generate(), SealingKey.generate(), HybridSealingKey.generate()
    tls = ec.generate_private_key(ec.SECP256R1())
    request = make_join_request(node_id, signing, sealing.public_bytes(), hybrid.public_bytes(), tls.public_key(),
                                contact)
    write_private(home / "signing.key", signing.to_pem())
    write_private(home / "sealing.key", sealing.to_pem())
    write_private(home / "hybrid_sealing.key", hybrid.to_bytes())
    write_private(home / TLS_KEY_FILE, _tls_pem(tls))
    # The loopback broker's password login (development); a deployed broker takes the TLS certificate.
    write_private(home / "broker.password", secrets.token_urlsafe(32).encode())
    write_private(home / TOKENS_FILE, b"{}")
    write_private(home / JOIN_REQUEST_FILE, request)
    return request


def _init_rotation(home: Path, node_id: str, contact: Mapping[str, str] | None) -> bytes:
    if not (home / "signing.crt").exists():
        raise FileNotFoundError(f"{home} holds no admitted node: a rotation is for a member")
    signing, tls = SigningKey.generate(), ec.generate_private_key(ec.SECP256R1())
    sealing = SealingKey.from_pem((home / "sealing.key").read_bytes())
    hybrid = HybridSealingKey.from_bytes((home / "hybrid_sealing.key").read_bytes())
    request = make_join_request(node_id, signing, sealing.public_bytes(), hybrid.public_bytes(), tls.public_key(),
                                contact)
    write_private(home / NEXT_SIGNING_KEY_FILE, signing.to_pem())
    write_private(home / NEXT_TLS_KEY_FILE, _tls_pem(tls))
    replace_atomically(home / JOIN_REQUEST_FILE, request)
    return request


def _tls_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def install_admission(federation_dir: Path, node_id: str, bundle: bytes, now: datetime,
                      root_fingerprint: str | None = None) -> None:
    """Check an admission bundle against this node's own keys and install it.

    The root is the one already installed here (root/root.crt), or else the one whose fingerprint
    the operator read over a second channel (`root_fingerprint`). Nothing is written unless every
    check passes (JoinError, DirectoryError otherwise).
    """
    home = node_home(federation_dir, node_id)
    rotating = (home / NEXT_SIGNING_KEY_FILE).exists()  # the bundle is for the new key, then
    signing = SigningKey.from_pem((home / (NEXT_SIGNING_KEY_FILE if rotating else "signing.key")).read_bytes())
    sealing = SealingKey.from_pem((home / "sealing.key").read_bytes())
    hybrid = HybridSealingKey.from_bytes((home / "hybrid_sealing.key").read_bytes())
    tls = serialization.load_pem_private_key(
        (home / (NEXT_TLS_KEY_FILE if rotating else TLS_KEY_FILE)).read_bytes(), password=None)
    installed = federation_dir / "root" / "root.crt"
    pinned = cert_from_pem(installed.read_bytes()) if installed.exists() else None
    if pinned is None and not root_fingerprint:
        raise JoinError("unknown_root", "no root is installed here yet: pass the root certificate's fingerprint "
                                        "that the root operator read to you over a second channel")

    def accept_root(root_cert: x509.Certificate) -> None:
        if pinned is not None and root_cert != pinned:
            raise JoinError("unknown_root", f"the bundle's root is not the root installed in {installed}")
        if root_fingerprint and _squash(root_fingerprint) != _squash(root_fingerprint_of(root_cert)):
            raise JoinError("unknown_root", "the bundle's root certificate does not have the fingerprint you gave: "
                                            "do not install it, call the root operator")

    checked = check_admission(bundle, node_id, signing.public_key, sealing.public_bytes(), hybrid.public_bytes(),
                              tls.public_key(), now, accept_root)
    private_dir(federation_dir / "root")
    if pinned is None:
        write_private(installed, cert_to_pem(checked.root_cert).encode())
    if rotating:  # the new keys take over; the old signing key is gone (what it signed stays signed)
        os.replace(home / NEXT_SIGNING_KEY_FILE, home / "signing.key")
        os.replace(home / NEXT_TLS_KEY_FILE, home / TLS_KEY_FILE)
    replace_atomically(home / "signing.crt", cert_to_pem(checked.signing_cert).encode())
    replace_atomically(home / TLS_CERT_FILE, tls_chain_pem(checked.tls_cert, checked.tls_ca_cert))
    _install_newer(federation_dir / DIRECTORY_FILE, checked.signed_directory, checked.directory.serial, "directory",
                   checked.root_cert)
    _install_newer(federation_dir / REVOCATIONS_FILE, checked.signed_revocations, checked.revocations.serial,
                   "revocations", checked.root_cert)


def _install_newer(path: Path, signed: bytes, serial: int, kind: str, root_cert: x509.Certificate) -> None:
    """Replace a federation document only by a higher serial (the root's own copy may be newer)."""
    from crypto.directory import load_revocations

    if path.exists():
        held = path.read_bytes()
        current = (load_directory(held, root_cert, None) if kind == "directory"
                   else load_revocations(held, root_cert))
        if current.serial >= serial:
            return
    replace_atomically(path, signed)


def create_token(federation_dir: Path, node_id: str, role: str) -> str:
    """A new API bearer token for `role` on this node: its digest replaces the role's in tokens.json,
    the clear token is returned once (for the operator to hand to the user) and kept nowhere."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    path = node_home(federation_dir, node_id) / TOKENS_FILE
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent} does not exist: run 'somex node init' first")
    digests = load_token_digests(path) if path.exists() else {}
    token = new_token()
    digests[role] = token_digest(token)
    replace_atomically(path, json.dumps(digests).encode())
    return token


def create_local_tokens(federation_dir: Path, node_id: str) -> None:
    """A token for every role, the clear ones kept in operator-tokens.json (0600) for the clients of a
    federation that runs on this one machine (demo, tests); a deployed node prints them instead."""
    tokens = {role: create_token(federation_dir, node_id, role) for role in ROLES}
    write_private(node_home(federation_dir, node_id) / OPERATOR_TOKENS_FILE, json.dumps(tokens).encode())


# -- the root operator, offline --------------------------------------------------------------------

def create_root(root_dir: Path, federation: str, now: datetime) -> str:
    """A new root key and certificate in root/, and an empty revocation list; its fingerprint."""
    if (root_dir / "root" / "root.key").exists():
        raise FileExistsError(f"{root_dir / 'root' / 'root.key'} exists: a federation has one root")
    private_dir(root_dir, tighten_existing=False)
    private_dir(root_dir / "root")
    root_key, root_cert = new_root(federation, now)
    write_private(root_dir / "root" / "root.key", root_key.to_pem())
    write_private(root_dir / "root" / "root.crt", cert_to_pem(root_cert).encode())
    revocations = RevocationList(federation, 1, now - BACKDATE, now + REVOCATIONS_VALIDITY, frozenset())
    write_private(root_dir / REVOCATIONS_FILE, sign_revocations(revocations, root_key))
    # The TLS CA (ECDSA, certified by the root, kept with it) and its first, empty, revocation list.
    ca_key, ca_cert = create_tls_ca(root_key, root_cert, now)
    write_private(root_dir / "root" / "tls-ca.key", tls_key_to_pem(ca_key))
    write_private(root_dir / "root" / "tls-ca.crt", cert_to_pem(ca_cert).encode())
    write_private(root_dir / TLS_CRL_FILE, crl_to_pem(issue_crl(ca_key, ca_cert, (), 1, now, now + TLS_CRL_VALIDITY)))
    return root_fingerprint_of(root_cert)


@dataclass(frozen=True)
class AdmissionResult:
    node_id: str
    serial: int
    bundle_path: Path
    request_fingerprint: str


def admit_request(root_dir: Path, request: bytes, now: datetime, *, rotation: bool = False,
                  overlap: timedelta = DEFAULT_OVERLAP, broker_user_prefix: str = "",
                  allowed_types: frozenset[str] | None = None, directory_days: int = 365) -> AdmissionResult:
    """Admit one join request: check it, issue its certificates, write the next directory (serial + 1)
    and the bundle admissions/<ID>.json for the node. Nothing changes if any check fails."""
    root_cert, root_key = load_root_cert(root_dir), load_root_key(root_dir)
    checked = load_join_request(request)
    directory_path = root_dir / DIRECTORY_FILE
    current = load_directory(directory_path.read_bytes(), root_cert, None) if directory_path.exists() else None
    node_id = checked.node_id
    types = allowed_types if allowed_types is not None else (HUB_TYPES if node_id == HUB_ID else COUNTRY_TYPES)
    admission = admit(checked, root_key, root_cert, tls_ca(root_dir), current, now, rotation=rotation,
                      overlap=overlap, broker_user=broker_user_prefix + node_id,  # = the TLS certificate's CN
                      allowed_types=frozenset(types), directory_days=directory_days)
    signed_directory = sign_directory(admission.directory, root_key)
    bundle = make_bundle(admission, root_cert, signed_directory, (root_dir / REVOCATIONS_FILE).read_bytes())
    private_dir(root_dir / ADMISSIONS_DIR)
    bundle_path = root_dir / ADMISSIONS_DIR / f"{node_id}.json"
    replace_atomically(directory_path, signed_directory)  # the directory first: a bundle never names an unwritten one
    record_tls_certificate(root_dir, kid_of(admission.signing_cert.public_key()), admission.tls_cert)
    replace_atomically(bundle_path, bundle)
    return AdmissionResult(node_id, admission.directory.serial, bundle_path, checked.fingerprint)


def _squash(fingerprint: str) -> str:
    return "".join(fingerprint.split()).lower()


# -- a TLS server's key where it runs (the broker's host), its certificate from the root ----------

SERVER_REQUEST_FILE = "tls-request.csr.pem"
BROKER_NAME = "broker"  # the CN of the broker's server certificate


def request_server_certificate(server_dir: Path, server_names: Iterable[str], name: str = BROKER_NAME) -> bytes:
    """On the server's host: a new TLS key (server_dir/tls.key, 0600; the directory 0700) and a
    certificate request for `server_names` (server_dir/tls-request.csr.pem), returned for the root
    operator. A key already there is kept out of harm's way: refused, not overwritten."""
    names = [n.strip() for n in server_names if n.strip()]
    if (server_dir / TLS_KEY_FILE).exists():
        raise FileExistsError(f"{server_dir / TLS_KEY_FILE} exists: remove it first if this server really needs a "
                              "new key (its certificate then stops working)")
    private_dir(server_dir.parent, tighten_existing=False)
    private_dir(server_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    request = make_server_request(key, name, names)
    write_private(server_dir / TLS_KEY_FILE, _tls_pem(key))
    write_private(server_dir / SERVER_REQUEST_FILE, request)
    return request


def sign_server_certificate(root_dir: Path, request: bytes, server_names: Iterable[str], now: datetime,
                            name: str = BROKER_NAME) -> bytes:
    """The root operator, offline: check the request (its own signature, CN `name`, exactly the
    `server_names` the server's operator gave over a second channel) and issue the certificate from
    the TLS CA; returns the chain (certificate, TLS CA's) to hand back."""
    ca_key, ca_cert = tls_ca(root_dir)
    cert = issue_server_certificate(ca_key, ca_cert, request, name, [n.strip() for n in server_names if n.strip()],
                                    now)
    return tls_chain_pem(cert, ca_cert)


def install_server_certificate(server_dir: Path, chain: bytes, root_cert: x509.Certificate, now: datetime) -> None:
    """On the server's host: install the root's answer as server_dir/tls.crt once it is checked: for
    this host's key, issued by the TLS CA that `root_cert` certified, valid now. JoinError otherwise."""
    try:
        cert, ca_cert = x509.load_pem_x509_certificates(chain)
    except ValueError:
        raise JoinError("malformed_bundle", "a server certificate file holds the certificate then the TLS CA's, "
                                            "in PEM, nothing else") from None
    key = serialization.load_pem_private_key((server_dir / TLS_KEY_FILE).read_bytes(), password=None)
    if cert.public_key() != key.public_key():
        raise JoinError("bundle_mismatch", f"this certificate is not for the key in {server_dir / TLS_KEY_FILE}")
    check_issued_by(ca_cert, root_cert)
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise JoinError("unknown_root", "the certificate is not issued by the federation's TLS CA") from None
    check_validity(cert, now)
    write_private(server_dir / TLS_CERT_FILE, chain)


# -- everything in one process: the demo's and the tests' federation --------------------------------

def init_federation(path: Path, federation: str, countries: Iterable[str], now: datetime, *,
                    broker_user_prefix: str = "", allowed_types: Mapping[str, set[str]] | None = None,
                    directory_days: int = 365, force: bool = False) -> None:
    """A whole federation in `path` (root, HUB, every country), through the same ceremony steps each
    party runs on its own host; plus operator-tokens.json per node (the clear tokens, for the demo's
    and the tests' clients). Built next to `path` and moved into place: no half federation."""
    members = check_countries(countries)
    types = _allowed(members, allowed_types)
    if not federation:
        raise ValueError("a federation needs a name")
    if directory_days < 1:
        raise ValueError("directory_days must be at least 1")
    replacing = path.exists() and (not path.is_dir() or any(path.iterdir()))
    if replacing and not force:
        raise FileExistsError(f"{path} already exists and is not empty (use --force to replace a federation)")
    if replacing and not is_federation(path):
        raise FileExistsError(f"{path} is not empty and does not hold a federation: refusing to replace it")
    private_dir(path.parent, tighten_existing=False)
    build = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.new."))
    try:
        create_root(build, federation, now)
        for node_id in [HUB_ID, *members]:
            request = init_node(build, node_id)
            result = admit_request(build, request, now, broker_user_prefix=broker_user_prefix,
                                   allowed_types=types[node_id], directory_days=directory_days)
            install_admission(build, node_id, result.bundle_path.read_bytes(), now)
            create_local_tokens(build, node_id)
        # The broker operator's TLS server key and certificate: the same three steps as on separate hosts.
        request = request_server_certificate(build / BROKER_DIR, BROKER_SERVER_NAMES)
        install_server_certificate(build / BROKER_DIR, sign_server_certificate(build, request, BROKER_SERVER_NAMES, now),
                                   load_root_cert(build), now)
        os.chmod(build, 0o700)
        if replacing:
            shutil.rmtree(path)
        os.replace(build, path)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def _allowed(members: list[str], allowed_types: Mapping[str, set[str]] | None) -> dict[str, frozenset[str]]:
    result = {HUB_ID: HUB_TYPES, **{c: COUNTRY_TYPES for c in members}}
    for node_id, node_types in (allowed_types or {}).items():
        if node_id not in result:
            raise ValueError(f"allowed_types names {node_id!r}, which is not in this federation")
        if isinstance(node_types, str) or not all(isinstance(t, str) and t for t in node_types):
            raise ValueError(f"allowed_types of {node_id} must be a set of message type names")
        result[node_id] = frozenset(node_types)
    return result

