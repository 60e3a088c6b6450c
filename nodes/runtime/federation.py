"""A federation's files on disk: create them (`somex federation init`) and load them.

Layout (the development and test layout; in production the root key stays offline and each
node holds only its own directory):
  root/root.key (0600), root/root.crt
  directory.signed.json, revocations.signed.json
  nodes/<ID>/signing.key (0600), signing.crt, sealing.key (0600), broker.password (0600),
             tokens.json (0600: {"focal", "feed", "auditor"})
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from crypto.directory import (
    HUB_ID, Directory, NodeEntry, RevocationList, TrustStore, load_directory, load_revocations,
    sign_directory, sign_revocations,
)
from crypto.keys import SealingKey, SigningKey
from crypto.pki import cert_from_pem, cert_to_pem, create_root, issue_certificate

COUNTRY_TYPES = frozenset({
    "alert.document", "alert.document.batch", "alert.hit", "mla.request", "mla.response", "mla.status",
    "case.share", "case.withdraw", "case.permission", "note", "receipt", "witness.cosign",
})
HUB_TYPES = frozenset({"hub.rejection", "hub.checkpoint", "hub.directory", "hub.revocations"})
ROLES = ("focal", "feed", "auditor")
_COUNTRY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class NodeCredentials:
    node_id: str
    signing_key: SigningKey
    certificate: x509.Certificate
    sealing_key: SealingKey
    broker_user: str
    broker_password: str = field(repr=False)
    tokens: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Federation:
    path: Path
    root_cert: x509.Certificate
    directory: Directory
    revocations: RevocationList
    trust: TrustStore

    def credentials(self, node_id: str) -> NodeCredentials:
        home = self.path / "nodes" / node_id
        if not home.is_dir():
            raise FileNotFoundError(f"no credentials for {node_id} in {self.path / 'nodes'}")
        return NodeCredentials(
            node_id=node_id,
            signing_key=SigningKey.from_pem((home / "signing.key").read_bytes()),
            certificate=cert_from_pem((home / "signing.crt").read_bytes()),
            sealing_key=SealingKey.from_pem((home / "sealing.key").read_bytes()),
            broker_user=self.directory.node(node_id).broker_user,
            broker_password=(home / "broker.password").read_text().strip(),
            tokens=json.loads((home / "tokens.json").read_text()),
        )


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


def check_countries(countries: Iterable[str]) -> list[str]:
    result = list(countries)
    bad = [c for c in result if not _COUNTRY.fullmatch(c) or c == HUB_ID]
    if bad or not result:
        raise ValueError(f"country codes must be ISO 3166-1 alpha-3 (three capital letters, not HUB): {bad or 'none given'}")
    if len(set(result)) != len(result):
        raise ValueError("a country is listed twice")
    return result


def init_federation(path: Path, federation: str, countries: Iterable[str], now: datetime, *,
                    broker_user_prefix: str = "", directory_days: int = 365, force: bool = False) -> None:
    members = check_countries(countries)
    if path.exists() and any(path.iterdir()):
        if not force:
            raise FileExistsError(f"{path} already holds a federation (use --force to replace it)")
        shutil.rmtree(path)
    (path / "root").mkdir(parents=True, exist_ok=True)
    root_key, root_cert = create_root(federation, now)
    _write_secret(path / "root" / "root.key", root_key.to_pem())
    (path / "root" / "root.crt").write_text(cert_to_pem(root_cert))
    entries = {}
    for node_id in [HUB_ID, *members]:
        home = path / "nodes" / node_id
        home.mkdir(parents=True)
        signing, sealing = SigningKey.generate(), SealingKey.generate()
        cert = issue_certificate(root_key, root_cert, node_id, signing.public_key, now)
        _write_secret(home / "signing.key", signing.to_pem())
        (home / "signing.crt").write_text(cert_to_pem(cert))
        _write_secret(home / "sealing.key", sealing.to_pem())
        _write_secret(home / "broker.password", secrets.token_urlsafe(24).encode())
        _write_secret(home / "tokens.json", json.dumps({r: secrets.token_urlsafe(32) for r in ROLES}).encode())
        user = broker_user_prefix + ("hub" if node_id == HUB_ID else node_id)
        entries[node_id] = NodeEntry(node_id, (cert,), user, HUB_TYPES if node_id == HUB_ID else COUNTRY_TYPES,
                                     sealing.public_bytes())
    directory = Directory(federation, 1, now.replace(microsecond=0) - timedelta(minutes=5),
                          now + timedelta(days=directory_days), entries)
    (path / "directory.signed.json").write_bytes(sign_directory(directory, root_key))
    revocations = RevocationList(federation, 1, now.replace(microsecond=0) - timedelta(minutes=5), frozenset())
    (path / "revocations.signed.json").write_bytes(sign_revocations(revocations, root_key))


def load_federation(path: Path, now: datetime) -> Federation:
    if not (path / "directory.signed.json").exists():
        raise FileNotFoundError(f"no federation in {path}: run 'somex federation init --countries ...' first")
    root_cert = cert_from_pem((path / "root" / "root.crt").read_bytes())
    directory = load_directory((path / "directory.signed.json").read_bytes(), root_cert, now)
    revocations = load_revocations((path / "revocations.signed.json").read_bytes(), root_cert)
    return Federation(path, root_cert, directory, revocations, TrustStore(directory, revocations))


def revoke(path: Path, kid: str, now: datetime) -> None:
    """Add a key id to the root-signed revocation list (an operator action with the root key)."""
    root_cert = cert_from_pem((path / "root" / "root.crt").read_bytes())
    root_key = SigningKey.from_pem((path / "root" / "root.key").read_bytes())
    current = load_revocations((path / "revocations.signed.json").read_bytes(), root_cert)
    updated = RevocationList(current.federation, current.serial + 1, now.replace(microsecond=0),
                             current.revoked | {kid})
    (path / "revocations.signed.json").write_bytes(sign_revocations(updated, root_key))
