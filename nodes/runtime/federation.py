"""A federation's files on disk: load them, and the root operator's actions on them (revoke a key,
re-sign the directory). They are made by the key ceremonies (nodes/runtime/ceremony.py).

The development and test layout (`somex federation init`) has everything in one tree:

  root/root.key (0600), root/root.crt, root/tls-ca.key (0600), root/tls-ca.crt (the TLS CA, docs/pki.md),
       root/tls-issued/<signing kid>.crt (the TLS certificate admitted with each key: what revoke puts on the CRL)
  directory.signed.json, revocations.signed.json, tls-revocations.crl.pem (the TLS CA's CRL, for the broker)
  nodes/<ID>/signing.key (0600), signing.crt, sealing.key (0600), hybrid_sealing.key (0600),
             tls.key (0600: ECDSA P-256), tls.crt (its TLS client certificate, CN = <ID>, and the TLS CA's),
             join-request.json, broker.password (0600: the development broker's login; an AMQPS broker takes tls.crt),
             tokens.json (0600: {"focal", "feed", "auditor"} SHA-256 digests of the API bearer
             tokens: all the node keeps), operator-tokens.json (0600: the clear tokens, for the
             operator; see docs/security.md)
  broker/tls.key (0600), tls-request.csr.pem, tls.crt: the broker's TLS server key, its request and the
         certificate the root signed for it (names: localhost, 127.0.0.1), made by the same ceremony
         steps as on a separate broker host (ceremony.request_server_certificate ...)

In production each party runs its own ceremony step on its own host (docs/deployment.md): the root
key stays offline with root/root.key, and each host's tree holds the public files and only its own
nodes/<ID>/ directory. Nothing here prints or logs a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.directory import (
    HUB_ID,
    Directory,
    RevocationList,
    TrustStore,
    load_directory,
    load_revocations,
    sign_directory,
    sign_revocations,
)
from crypto.errors import CertificateError
from crypto.keys import HybridSealingKey, SealingKey, SigningKey, kid_of
from crypto.pki import (
    BACKDATE,
    cert_from_pem,
    cert_to_pem,
    crl_to_pem,
    issue_crl,
    issue_tls_certificate,
    new_tls_key,
    node_id_of,
    tls_chain_pem,
    tls_key_from_pem,
    tls_key_to_pem,
)
from crypto.tokens import is_token_digest
from nodes.runtime.private_files import private_dir, replace_atomically, write_private
from crypto.witness_policy import WitnessPolicy

COUNTRY_TYPES = frozenset({
    "alert.document", "alert.document.batch", "alert.hit", "mla.request", "mla.response", "mla.status",
    "case.share", "case.withdraw", "case.permission", "case.jit", "case.message", "note", "receipt", "witness.cosign",
})
HUB_TYPES = frozenset({"hub.rejection", "hub.checkpoint", "hub.directory", "hub.revocations"})
# "operator": the hub operator's token for publishing the root's documents (POST /api/federation/publish).
ROLES = ("focal", "feed", "auditor", "operator")

DIRECTORY_FILE = "directory.signed.json"
TOKENS_FILE = "tokens.json"
OPERATOR_TOKENS_FILE = "operator-tokens.json"
REVOCATIONS_FILE = "revocations.signed.json"
TLS_CERT_FILE, TLS_KEY_FILE = "tls.crt", "tls.key"
TLS_CRL_FILE = "tls-revocations.crl.pem"
TLS_CRL_VALIDITY = timedelta(days=30)
BROKER_DIR = "broker"  # the broker operator's TLS server key and certificate
BROKER_SERVER_NAMES = ("localhost", "127.0.0.1")
DOCUMENT_FILES = {"directory": DIRECTORY_FILE, "revocations": REVOCATIONS_FILE}
# The root re-publishes its revocation list at least this often; holders alarm past next_update.
REVOCATIONS_VALIDITY = timedelta(days=30)
_COUNTRY = re.compile(r"[A-Z]{3}")
_KID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class NodeCredentials:
    """What one node needs to act: its private keys, its certificate, its broker login and API tokens."""

    node_id: str
    signing_key: SigningKey
    certificate: x509.Certificate
    sealing_key: SealingKey
    broker_user: str
    broker_password: str | None = field(repr=False)  # None: certificate login only (tls.crt)
    token_digests: Mapping[str, str] = field(repr=False)  # role -> SHA-256 of its API token
    home: Path | None = None
    hybrid_sealing_key: HybridSealingKey | None = None  # absent in federations created before it existed

    @property
    def tokens(self) -> Mapping[str, str]:
        """The operator's clear API tokens (operator-tokens.json), for clients on this machine.

        The node itself checks requests against `token_digests` only; a production node's machine
        need not hold this file at all.
        """
        path = (self.home or Path(".")) / OPERATOR_TOKENS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the clear API tokens were handed to the operator; "
                                    "this node keeps only their digests")
        return json.loads(path.read_text())


@dataclass(frozen=True)
class Federation:
    """A loaded federation: the verified directory and revocations, and the trust store over them."""

    path: Path
    root_cert: x509.Certificate
    directory: Directory
    revocations: RevocationList
    trust: TrustStore

    @property
    def root_cert_file(self) -> Path:
        """The root certificate: what every TLS client and the broker trust."""
        return self.path / "root" / "root.crt"
    def with_document(self, document: Directory | RevocationList) -> Federation:
        """This federation with `document` (already verified) in place of the one of its kind, and a
        new trust store over them: swapped in by assigning one attribute, so a reader sees the old
        federation or the new one, never a mix."""
        directory = document if isinstance(document, Directory) else self.directory
        revocations = document if isinstance(document, RevocationList) else self.revocations
        return replace(self, directory=directory, revocations=revocations,
                       trust=TrustStore(directory, revocations, self.root_cert))

    def credentials(self, node_id: str) -> NodeCredentials:
        """The node's own files; its signing key must be one the directory lists for it."""
        entry = self.directory.node(node_id)
        home = self.path / "nodes" / node_id
        if not home.is_dir():
            raise FileNotFoundError(f"no credentials for {node_id} in {self.path / 'nodes'}")
        signing_key = SigningKey.from_pem((home / "signing.key").read_bytes())
        if signing_key.kid not in {kid_of(c.public_key()) for c in entry.certificates}:
            raise CertificateError("unknown_key", f"{home / 'signing.key'} is not a key the directory lists for "
                                                  f"{node_id}: nobody would accept its signatures")
        return NodeCredentials(
            node_id=node_id,
            signing_key=signing_key,
            certificate=cert_from_pem((home / "signing.crt").read_bytes()),
            sealing_key=SealingKey.from_pem((home / "sealing.key").read_bytes()),
            broker_user=entry.broker_user,
            broker_password=((home / "broker.password").read_text().strip()
                             if (home / "broker.password").exists() else None),
            token_digests=load_token_digests(home / TOKENS_FILE),
            home=home,
            hybrid_sealing_key=(HybridSealingKey.from_bytes((home / "hybrid_sealing.key").read_bytes())
                                if (home / "hybrid_sealing.key").exists() else None),
        )


def load_token_digests(path: Path) -> dict[str, str]:
    digests = json.loads(path.read_text())
    if not isinstance(digests, dict) or not all(r in ROLES and is_token_digest(d) for r, d in digests.items()):
        raise ValueError(f"{path} must map roles ({', '.join(ROLES)}) to SHA-256 token digests; a file of clear "
                         "tokens is from an older layout: re-run 'somex federation init --force'")
    return digests


def check_countries(countries: Iterable[str]) -> list[str]:
    """The member list, or ValueError: ISO 3166-1 alpha-3 shaped codes, each once, not HUB."""
    result = list(countries)
    bad = [c for c in result if not isinstance(c, str) or not _COUNTRY.fullmatch(c) or c == HUB_ID]
    if bad:
        raise ValueError(f"country codes must be ISO 3166-1 alpha-3 codes, three capital letters "
                         f"(e.g. MEX, IDN), and not HUB; refused: {', '.join(map(repr, bad))}")
    if not result:
        raise ValueError("a federation needs at least one country")
    twice = sorted({c for c in result if result.count(c) > 1})
    if twice:
        raise ValueError(f"countries listed more than once: {', '.join(twice)}")
    return result


def is_federation(path: Path) -> bool:
    return (path / DIRECTORY_FILE).is_file() or (path / "root" / "root.crt").is_file()


def write_tls_pair(home: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str,
                   now: datetime, *, server_names: Iterable[str] | None = None, days: int = 825) -> x509.Certificate:
    """A new TLS key (home/tls.key, 0600) and its certificate from the TLS CA, with the CA's
    certificate after it (home/tls.crt)."""
    key = new_tls_key()
    cert = issue_tls_certificate(ca_key, ca_cert, name, key.public_key(), now,
                                 server_names=list(server_names) if server_names else None, days=days)
    write_private(home / TLS_KEY_FILE, tls_key_to_pem(key))
    write_private(home / TLS_CERT_FILE, tls_chain_pem(cert, ca_cert))
    return cert


def tls_ca(path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The TLS CA's key and certificate (a root operator's action: kept with the root key)."""
    key_file = path / "root" / "tls-ca.key"
    if not key_file.exists():
        raise FileNotFoundError(f"{key_file} is missing: this is a root operator's action, run it where the "
                                "root key is kept")
    return tls_key_from_pem(key_file.read_bytes()), cert_from_pem((path / "root" / "tls-ca.crt").read_bytes())


TLS_ISSUED_DIR = "tls-issued"  # root/tls-issued/<signing kid>.crt: the TLS certificate admitted with that key


def record_tls_certificate(path: Path, signing_kid: str, cert: x509.Certificate) -> None:
    """The root's register of TLS certificates it issued, by the signing key admitted with each: how
    revoking a key (or removing a member) finds the TLS certificates to put on the CRL."""
    register = path / "root" / TLS_ISSUED_DIR
    private_dir(register)
    replace_atomically(register / f"{signing_kid}.crt", cert_to_pem(cert).encode())


def _issued_tls_certificates(path: Path) -> dict[str, x509.Certificate]:
    register = path / "root" / TLS_ISSUED_DIR
    if not register.is_dir():
        return {}
    return {f.stem: cert_from_pem(f.read_bytes()) for f in sorted(register.glob("*.crt"))}


def issued_tls_certificates(path: Path, node_id: str) -> list[x509.Certificate]:
    """The TLS certificates the root issued to `node_id` (its register root/tls-issued/)."""
    return [c for c in _issued_tls_certificates(path).values() if node_id_of(c) == node_id]


def revoke_tls_certificate(path: Path, cert: x509.Certificate, now: datetime) -> bytes:
    """Add a TLS certificate to the TLS CA's revocation list (path/tls-revocations.crl.pem, the next
    CRL number); returns the new CRL (PEM) for the broker operator to install."""
    revoke_tls_certificates(path, [cert], now)
    return (path / TLS_CRL_FILE).read_bytes()


def revoke_tls_certificates(path: Path, certs: Iterable[x509.Certificate], now: datetime) -> list[x509.Certificate]:
    """Put `certs` on the TLS CA's revocation list (one new CRL for them all); those revoked."""
    certs = list(certs)
    if not certs:
        return []
    ca_key, ca_cert = tls_ca(path)
    if any(c.issuer != ca_cert.subject for c in certs):
        raise CertificateError("cert_not_from_root", "a TLS certificate not issued by the federation's TLS CA")
    current = x509.load_pem_x509_crl((path / TLS_CRL_FILE).read_bytes())
    number = current.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    serials = {r.serial_number for r in current} | {c.serial_number for c in certs}
    replace_atomically(path / TLS_CRL_FILE, crl_to_pem(issue_crl(ca_key, ca_cert, serials, number, now,
                                                       now + TLS_CRL_VALIDITY)))
    return certs


def load_root_cert(path: Path) -> x509.Certificate:
    return cert_from_pem((path / "root" / "root.crt").read_bytes())


def load_federation(path: Path, now: datetime) -> Federation:
    """Load and verify a federation: the directory must be signed by root.crt and valid at `now`."""
    if not (path / DIRECTORY_FILE).exists():
        raise FileNotFoundError(f"no federation in {path}: run 'somex federation init --countries ...' first")
    root_cert = load_root_cert(path)
    directory = load_directory((path / DIRECTORY_FILE).read_bytes(), root_cert, now)
    revocations = load_revocations((path / REVOCATIONS_FILE).read_bytes(), root_cert)
    return Federation(path, root_cert, directory, revocations, TrustStore(directory, revocations, root_cert))


def load_root_key(path: Path) -> SigningKey:
    key_file = path / "root" / "root.key"
    if not key_file.exists():
        raise FileNotFoundError(f"{key_file} is missing: this is a root operator's action, run it where the "
                                "root key is kept")
    return SigningKey.from_pem(key_file.read_bytes())


def revoke(path: Path, kid: str, now: datetime) -> list[x509.Certificate]:
    """Add a key id to the root-signed revocation list (an operator action with the root key), and the
    TLS certificate admitted with that key to the TLS CA's CRL (tls-revocations.crl.pem): the member
    neither signs nor connects to the broker with that admission any more. Returns the TLS
    certificates revoked (none for a key admitted before the root kept its register)."""
    if not _KID.fullmatch(kid):
        raise ValueError("a key id is 64 lowercase hex digits (the SHA-256 of the raw public key)")
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_revocations((path / REVOCATIONS_FILE).read_bytes(), root_cert)
    tls = [cert for signing_kid, cert in _issued_tls_certificates(path).items() if signing_kid == kid]
    updated = RevocationList(current.federation, current.serial + 1, now, now + REVOCATIONS_VALIDITY,
                             current.revoked | {kid})
    revoked = revoke_tls_certificates(path, tls, now)  # the CRL first: a crash between leaves the key still valid,
    replace_atomically(path / REVOCATIONS_FILE, sign_revocations(updated, root_key))  # and the operator runs revoke again
    return revoked


def reissue_revocations(path: Path, now: datetime, validity: timedelta | None = None) -> RevocationList:
    """Re-sign the revocation list unchanged with the next serial and a new `next_update` (the root's
    routine publication, before holders start alarming that theirs is overdue)."""
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_revocations((path / REVOCATIONS_FILE).read_bytes(), root_cert)
    updated = RevocationList(current.federation, current.serial + 1, now, now + (validity or REVOCATIONS_VALIDITY),
                             current.revoked)
    replace_atomically(path / REVOCATIONS_FILE, sign_revocations(updated, root_key))
    return updated


def reissue_directory(path: Path, now: datetime, days: int = 365) -> Directory:
    """Re-sign the current directory (even an expired one) with the next serial, valid `days` from `now`."""
    if days < 1:
        raise ValueError("days must be at least 1")
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_directory((path / DIRECTORY_FILE).read_bytes(), root_cert, None)
    updated = Directory(current.federation, current.serial + 1, now - BACKDATE, now + timedelta(days=days),
                        current.nodes, current.witness_policy)
    replace_atomically(path / DIRECTORY_FILE, sign_directory(updated, root_key))
    return updated


def remove_member(path: Path, node_id: str, now: datetime) -> Directory:
    """The root operator's removal of a member: the directory without it, next serial (publish it;
    the publish step also takes its broker user's permissions)."""
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_directory((path / DIRECTORY_FILE).read_bytes(), root_cert, None)
    if node_id == HUB_ID or node_id not in current.nodes:
        raise ValueError(f"{node_id!r} is not a member country of this federation")
    nodes = {n: e for n, e in current.nodes.items() if n != node_id}
    updated = Directory(current.federation, current.serial + 1, now - BACKDATE,
                        max(current.expires, now + timedelta(days=1)), nodes,
                        _policy_without(current.witness_policy, node_id))
    # Its TLS certificates too: with the permissions gone it could still open connections otherwise.
    revoke_tls_certificates(path, issued_tls_certificates(path, node_id), now)
    replace_atomically(path / DIRECTORY_FILE, sign_directory(updated, root_key))
    return updated


def _policy_without(policy: WitnessPolicy | None, node_id: str) -> WitnessPolicy | None:
    """The witness policy of a directory that loses `node_id` (the policy outlives the removal)."""
    if policy is None or policy.witnesses is None or node_id not in policy.witnesses:
        return policy
    witnesses = tuple(w for w in policy.witnesses if w != node_id)
    if not witnesses or (policy.quorum is not None and policy.quorum > len(witnesses)):
        raise ValueError(f"{node_id} is a witness the policy's quorum {policy.quorum} needs: set a witness policy "
                         "without it first (somex federation witness-policy), then remove it")
    return replace(policy, witnesses=witnesses)


def set_witness_policy(path: Path, policy: WitnessPolicy | None, now: datetime) -> Directory:
    """The root operator's witness policy (None: the defaults of crypto/witness.py) in a new
    root-signed directory with the next serial (publish it). ValueError if the policy does not fit
    this directory: a witness that is not a national node, a quorum above the witnesses."""
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_directory((path / DIRECTORY_FILE).read_bytes(), root_cert, None)
    if policy is not None and policy.quorum is not None and policy.witnesses is None:
        members = [n for n in current.nodes if n != HUB_ID]
        if policy.quorum > len(members):
            raise ValueError(f"witness_policy.quorum {policy.quorum} exceeds the {len(members)} national nodes")
    updated = Directory(current.federation, current.serial + 1, now - BACKDATE,
                        max(current.expires, now + timedelta(days=1)), current.nodes, policy)
    replace_atomically(path / DIRECTORY_FILE, sign_directory(updated, root_key))
    return updated
