"""The root operator's actions on a federation directory, offline, with the root key: revoke keys
and TLS certificates, re-issue the directory and the revocation list, remove a member, set the
witness policy, and the TLS CA's register of issued certificates.

The application's (the CLI and the ceremonies), never a running hub's or node's: these read
`root/root.key`. Reading a federation is nodes/plumbing/federation.py (plumbing).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from crypto.directory import (
    HUB_ID,
    Directory,
    RevocationList,
    load_directory,
    load_revocations,
    sign_directory,
    sign_revocations,
)
from crypto.errors import CertificateError
from crypto.keys import SigningKey
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
from crypto.witness_policy import WitnessPolicy
from nodes.plumbing.federation import (
    COUNTRY_TYPES,
    DIRECTORY_FILE,
    HUB_TYPES,
    REVOCATIONS_FILE,
    REVOCATIONS_VALIDITY,
    TLS_CERT_FILE,
    TLS_CRL_FILE,
    TLS_CRL_VALIDITY,
    TLS_KEY_FILE,
    load_root_cert,
)
from nodes.plumbing.private_files import private_dir, replace_atomically, write_private

_KID = re.compile(r"[0-9a-f]{64}")


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
    return reissue_with_catalog_types(path, now, days, only=())[0]


def reissue_with_catalog_types(path: Path, now: datetime, days: int = 365,
                               only: Collection[str] | None = None) -> tuple[Directory, dict[str, list[str]]]:
    """Re-sign the directory with the next serial, valid `days` from `now`, granting each member the
    message types of protocol/catalog.py it lacks (the hub the hub's, a country a country's): how a
    class added after a federation was created reaches its members. `only`: grant just these
    catalog types. Every other field stays, and no type is taken away (one the catalog no longer
    lists stays). A type withheld from a member at admission is granted too unless `only` leaves it
    out: the diff returned says so. Returns the directory and the sorted types added per member
    (members gaining none left out)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    wanted = _catalog_types(only)
    root_cert, root_key = load_root_cert(path), load_root_key(path)
    current = load_directory((path / DIRECTORY_FILE).read_bytes(), root_cert, None)
    nodes, added = {}, {}
    for node_id, entry in current.nodes.items():
        grant = (HUB_TYPES if node_id == HUB_ID else COUNTRY_TYPES) & wanted
        if grant - entry.allowed_types:
            added[node_id] = sorted(grant - entry.allowed_types)
            entry = replace(entry, allowed_types=entry.allowed_types | grant)
        nodes[node_id] = entry
    updated = Directory(current.federation, current.serial + 1, now - BACKDATE, now + timedelta(days=days),
                        nodes, current.witness_policy)
    replace_atomically(path / DIRECTORY_FILE, sign_directory(updated, root_key))
    return updated, added


def _catalog_types(only: Collection[str] | None) -> frozenset[str]:
    """The catalog's types to grant: all of them, or `only` (ValueError naming one it does not list)."""
    catalog = HUB_TYPES | COUNTRY_TYPES
    if only is None:
        return catalog
    unknown = sorted(set(only) - catalog)
    if unknown:
        raise ValueError(f"not message types of protocol/catalog.py: {', '.join(unknown)}")
    return frozenset(only)


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
