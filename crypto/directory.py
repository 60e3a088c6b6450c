"""The root-signed federation directory and revocation list, and the trust store built on them.

Wire form: `{"directory": {...}, "sig": {"alg", "kid", "value"}}`, the signature being the root's
over a domain string and the RFC 8785 canonical bytes of the inner object.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.errors import CryptoError, DirectoryError, SignatureError
from crypto.keys import SigningKey, kid_of, verify_signature
from crypto.pki import cert_from_pem, cert_to_pem, check_issued_by, check_validity, node_id_of

DIRECTORY_DOMAIN = b"somex/directory/v1\n"
REVOCATIONS_DOMAIN = b"somex/revocations/v1\n"
HUB_ID = "HUB"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    from datetime import UTC

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class NodeEntry:
    node_id: str
    certificates: tuple[x509.Certificate, ...]  # newest last; several during a key rollover
    broker_user: str
    allowed_types: frozenset[str]
    sealing_key: bytes  # X25519 public key, raw 32 bytes

    def as_json(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "certificates": [cert_to_pem(c) for c in self.certificates],
                "broker_user": self.broker_user, "allowed_types": sorted(self.allowed_types),
                "sealing_key": base64.b64encode(self.sealing_key).decode()}


@dataclass(frozen=True)
class Directory:
    federation: str
    serial: int
    issued: datetime
    expires: datetime
    nodes: Mapping[str, NodeEntry]
    _by_user: dict[str, NodeEntry] = field(default_factory=dict, compare=False, repr=False)
    _by_kid: dict[str, tuple[NodeEntry, x509.Certificate]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for entry in self.nodes.values():
            self._by_user[entry.broker_user] = entry
            for cert in entry.certificates:
                public_key = cert.public_key()
                if isinstance(public_key, Ed25519PublicKey):
                    self._by_kid[kid_of(public_key)] = (entry, cert)

    def node(self, node_id: str) -> NodeEntry:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise DirectoryError("unknown_node", f"{node_id[:8]!r} is not in the directory") from None

    def node_ids(self, exclude_hub: bool = True) -> list[str]:
        return sorted(n for n in self.nodes if not (exclude_hub and n == HUB_ID))

    def by_broker_user(self, user: str) -> NodeEntry | None:
        return self._by_user.get(user)

    def key_for(self, kid: str) -> tuple[NodeEntry, x509.Certificate]:
        try:
            return self._by_kid[kid]
        except KeyError:
            raise SignatureError("unknown_key", f"no certificate in the directory has key {kid[:16]}…") from None

    def as_json(self) -> dict[str, Any]:
        return {"federation": self.federation, "serial": self.serial, "issued": _time(self.issued),
                "expires": _time(self.expires), "nodes": [self.nodes[n].as_json() for n in sorted(self.nodes)]}


@dataclass(frozen=True)
class RevocationList:
    federation: str
    serial: int
    issued: datetime
    revoked: frozenset[str]  # key ids

    def as_json(self) -> dict[str, Any]:
        return {"federation": self.federation, "serial": self.serial, "issued": _time(self.issued),
                "revoked": sorted(self.revoked)}


def _sign(inner_name: str, inner: dict[str, Any], domain: bytes, root_key: SigningKey) -> bytes:
    value = root_key.sign(domain + rfc8785.dumps(inner))
    return json.dumps({inner_name: inner, "sig": {"alg": root_key.alg, "kid": root_key.kid,
                                                  "value": base64.b64encode(value).decode()}}, indent=1).encode()


def _open(raw: bytes, inner_name: str, domain: bytes, root_cert: x509.Certificate) -> dict[str, Any]:
    try:
        outer = json.loads(raw)
        inner, sig = outer[inner_name], outer["sig"]
        if set(outer) != {inner_name, "sig"} or not isinstance(inner, dict):
            raise ValueError("unexpected members")
        value = base64.b64decode(sig["value"], validate=True)
        alg = sig["alg"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise DirectoryError("malformed", f"not a signed {inner_name}: {exc}") from None
    root_key = root_cert.public_key()
    assert isinstance(root_key, Ed25519PublicKey)
    try:
        verify_signature(alg, root_key, value, domain + rfc8785.dumps(inner))
    except SignatureError:
        raise DirectoryError("bad_signature", f"the {inner_name} is not signed by the federation root") from None
    return inner


def sign_directory(directory: Directory, root_key: SigningKey) -> bytes:
    return _sign("directory", directory.as_json(), DIRECTORY_DOMAIN, root_key)


def load_directory(raw: bytes, root_cert: x509.Certificate, now: datetime | None) -> Directory:
    """A verified directory. `now=None` skips the validity window (offline audit of old bundles)."""
    inner = _open(raw, "directory", DIRECTORY_DOMAIN, root_cert)
    try:
        nodes = {}
        for n in inner["nodes"]:
            certs = tuple(cert_from_pem(p) for p in n["certificates"])
            for cert in certs:
                check_issued_by(cert, root_cert)
                if node_id_of(cert) != n["node_id"]:
                    raise DirectoryError("malformed", f"certificate of {node_id_of(cert)} listed for {n['node_id']}")
            nodes[n["node_id"]] = NodeEntry(n["node_id"], certs, n["broker_user"], frozenset(n["allowed_types"]),
                                            base64.b64decode(n["sealing_key"]))
        directory = Directory(inner["federation"], int(inner["serial"]), _parse_time(inner["issued"]),
                              _parse_time(inner["expires"]), nodes)
    except CryptoError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise DirectoryError("malformed", f"directory content: {exc}") from None
    if now is None:
        return directory
    if now < directory.issued:
        raise DirectoryError("not_yet_valid", f"issued {inner['issued']}")
    if now >= directory.expires:
        raise DirectoryError("expired", f"the directory expired {inner['expires']}: ask the root for a new one")
    return directory


def sign_revocations(revocations: RevocationList, root_key: SigningKey) -> bytes:
    return _sign("revocations", revocations.as_json(), REVOCATIONS_DOMAIN, root_key)


def load_revocations(raw: bytes, root_cert: x509.Certificate) -> RevocationList:
    inner = _open(raw, "revocations", REVOCATIONS_DOMAIN, root_cert)
    try:
        return RevocationList(inner["federation"], int(inner["serial"]), _parse_time(inner["issued"]),
                              frozenset(inner["revoked"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DirectoryError("malformed", f"revocation list content: {exc}") from None


class TrustStore:
    """Resolves a key id to its node and public key: in the directory, unrevoked, in validity."""

    def __init__(self, directory: Directory, revocations: RevocationList) -> None:
        self.directory = directory
        self.revocations = revocations
        self._cache: dict[str, tuple[str, Ed25519PublicKey, x509.Certificate]] = {}

    def signer(self, kid: str, now: datetime) -> tuple[str, Ed25519PublicKey]:
        cached = self._cache.get(kid)
        if cached is None:
            entry, cert = self.directory.key_for(kid)
            public_key = cert.public_key()
            assert isinstance(public_key, Ed25519PublicKey)
            cached = self._cache[kid] = (entry.node_id, public_key, cert)
        node_id, public_key, cert = cached
        if kid in self.revocations.revoked:
            raise SignatureError("revoked_key", f"key {kid[:16]}… of {node_id} was revoked by the root")
        check_validity(cert, now)
        return node_id, public_key
