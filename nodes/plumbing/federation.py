"""A federation's files on disk and how a hub or node loads them. They are made by the key
ceremonies (nodes/app/ceremony.py) and changed by the root operator's actions
(nodes/app/root_operator.py: revoke a key, re-sign the directory), both the application's.

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

from crypto.directory import (
    HUB_ID,
    Directory,
    RevocationList,
    TrustStore,
    load_directory,
    load_revocations,
)
from crypto.errors import CertificateError
from crypto.keys import HybridSealingKey, SealingKey, SigningKey, kid_of
from crypto.pki import cert_from_pem
from crypto.tokens import is_token_digest
from protocol.catalog import COUNTRY_TYPES, HUB_TYPES  # the default allowed_types of a directory entry

# "operator": the hub operator's token for publishing the root's documents (POST /api/federation/publish).
# "carrier": an airline or ship's border check (I-Checkit's model): hit / no-hit and whom to call, never the record.
ROLES = ("focal", "feed", "auditor", "operator", "carrier")

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
