"""The root-signed federation directory and revocation list, and the trust store built on them.

Wire form: `{"directory": {...}, "sig": {"alg", "kid", "value"}}` (and `"revocations"` likewise),
the whole object in RFC 8785 canonical form, the signature being the root's over a domain string
and the canonical bytes of the inner object. Loading accepts exactly the bytes `sign_*` writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.errors import CertificateError, CryptoError, DirectoryError, SignatureError
from crypto.keys import HybridSealingKey, SigningKey, kid_of, verify_signature
from crypto.pki import (
    cert_from_pem,
    cert_to_pem,
    check_issued_by,
    is_end_entity_signing_cert,
    node_id_of,
    root_public_key,
)
from crypto.witness_policy import WitnessPolicy, parse_witness_policy
from protocol.encoding import decode_base64, encode_base64

DIRECTORY_DOMAIN = b"somex/directory/v1\n"
REVOCATIONS_DOMAIN = b"somex/revocations/v1\n"
HUB_ID = "HUB"
HYBRID_KEY_SIZE = HybridSealingKey.PUBLIC_SIZE
MAX_SIGNED_BYTES = 16 * 1024 * 1024  # far above a directory of every country with rollover certificates

_NODE_ID = re.compile(r"HUB|[A-Z]{3}")
_KID = re.compile(r"[0-9a-f]{64}")
_MAX_SERIAL = 2**53 - 1  # the largest integer RFC 8785 (I-JSON) represents exactly
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def is_node_id(value: object) -> bool:
    """`HUB` or the shape of an ISO 3166-1 alpha-3 code (three capital ASCII letters)."""
    return isinstance(value, str) and _NODE_ID.fullmatch(value) is not None


def _utc_seconds(moment: datetime, what: str) -> datetime:
    """Directory times travel with second precision in UTC; normalise so a round trip is exact."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError("a time must be a string")
    moment = datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    if _time(moment) != text:  # strptime also takes e.g. single-digit months
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time of the form 2026-01-31T12:00:00Z")
    return moment


_b64 = encode_base64


def _unb64(text: object) -> bytes:
    """Strict base64: exactly one text per value (no stray padding bits, no whitespace)."""
    return decode_base64(text, "directory field")


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _sorted_strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} must be a list of non-empty strings")
    if value != sorted(set(value)):
        raise ValueError(f"{what} must be sorted and without duplicates")
    return value


def _members(obj: object, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError(f"{what} must be an object")
    if set(obj) != names:
        extra, missing = sorted(set(obj) - names), sorted(names - set(obj))
        raise ValueError(f"{what}: unknown members {extra}, missing members {missing}")
    return obj


@dataclass(frozen=True)
class NodeEntry:
    """One member of the federation as the root vouches for it."""

    node_id: str
    certificates: tuple[x509.Certificate, ...]  # newest last; several during a key rollover
    broker_user: str
    allowed_types: frozenset[str]
    sealing_key: bytes  # X25519 public key, raw 32 bytes
    hybrid_sealing_key: bytes | None = None  # ML-KEM-768 + X25519 (crypto.keys.HybridSealingKey), optional

    def __post_init__(self) -> None:
        if not is_node_id(self.node_id):
            raise ValueError(f"node id {str(self.node_id)[:16]!r} is neither HUB nor three capital letters")
        object.__setattr__(self, "certificates", tuple(self.certificates))
        object.__setattr__(self, "allowed_types", frozenset(self.allowed_types))
        if not self.certificates:
            raise ValueError(f"{self.node_id} has no certificate")
        if not self.broker_user:
            raise ValueError(f"{self.node_id} has no broker user")
        if not isinstance(self.sealing_key, bytes) or len(self.sealing_key) != 32:
            raise ValueError(f"{self.node_id}: a sealing key is a raw 32-byte X25519 public key")
        if self.hybrid_sealing_key is not None and (not isinstance(self.hybrid_sealing_key, bytes)
                                                    or len(self.hybrid_sealing_key) != HYBRID_KEY_SIZE):
            raise ValueError(f"{self.node_id}: a hybrid sealing key is {HYBRID_KEY_SIZE} bytes")

    def as_json(self) -> dict[str, Any]:
        entry = {"node_id": self.node_id, "certificates": [cert_to_pem(c) for c in self.certificates],
                 "broker_user": self.broker_user, "allowed_types": sorted(self.allowed_types),
                 "sealing_key": _b64(self.sealing_key)}
        if self.hybrid_sealing_key is not None:  # absent, not null: older directories stay byte-identical
            entry["hybrid_sealing_key"] = _b64(self.hybrid_sealing_key)
        return entry


@dataclass(frozen=True)
class Directory:
    """Every node of a federation, signed by its root, valid from `issued` until `expires`."""

    federation: str
    serial: int
    issued: datetime
    expires: datetime
    nodes: Mapping[str, NodeEntry]  # includes HUB
    witness_policy: WitnessPolicy | None = None  # None: the defaults of crypto/witness.py
    _by_user: Mapping[str, NodeEntry] = field(init=False, repr=False, compare=False)
    _by_kid: Mapping[str, tuple[NodeEntry, x509.Certificate]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.federation:
            raise ValueError("a directory needs a federation name")
        if not isinstance(self.serial, int) or isinstance(self.serial, bool) or not 0 <= self.serial <= _MAX_SERIAL:
            raise ValueError("a directory serial is an integer from 0 to 2**53-1")
        object.__setattr__(self, "issued", _utc_seconds(self.issued, "issued"))
        object.__setattr__(self, "expires", _utc_seconds(self.expires, "expires"))
        if self.expires <= self.issued:
            raise ValueError("a directory must expire after it is issued")
        nodes = dict(self.nodes)
        if HUB_ID not in nodes:
            raise ValueError("a directory must list the hub")
        by_user: dict[str, NodeEntry] = {}
        by_kid: dict[str, tuple[NodeEntry, x509.Certificate]] = {}
        for node_id, entry in nodes.items():
            if entry.node_id != node_id:
                raise ValueError(f"entry for {entry.node_id} listed under {node_id}")
            if by_user.setdefault(entry.broker_user, entry) is not entry:
                raise ValueError(f"broker user {entry.broker_user!r} belongs to two nodes")
            for cert in entry.certificates:
                public_key = cert.public_key()
                if not isinstance(public_key, Ed25519PublicKey):
                    raise TypeError(f"a certificate of {node_id} does not carry an Ed25519 key")
                if by_kid.setdefault(kid_of(public_key), (entry, cert))[0] is not entry:
                    raise ValueError(f"one key is listed for two nodes ({node_id})")
        object.__setattr__(self, "nodes", MappingProxyType(nodes))
        if self.witness_policy is not None:
            strangers = [w for w in self.witness_policy.witnesses or () if w == HUB_ID or w not in nodes]
            if strangers:
                raise ValueError(f"witness_policy names {strangers[:3]}, not national nodes of this directory")
        object.__setattr__(self, "_by_user", MappingProxyType(by_user))
        object.__setattr__(self, "_by_kid", MappingProxyType(by_kid))

    def node(self, node_id: str) -> NodeEntry:
        try:
            return self.nodes[node_id]
        except (KeyError, TypeError):
            raise DirectoryError("unknown_node", f"{str(node_id)[:16]!r} is not in the directory") from None

    def node_ids(self, exclude_hub: bool = True) -> list[str]:
        return sorted(n for n in self.nodes if not (exclude_hub and n == HUB_ID))

    def by_broker_user(self, user: str) -> NodeEntry | None:
        return self._by_user.get(user)

    def key_for(self, kid: str) -> tuple[NodeEntry, x509.Certificate]:
        try:
            return self._by_kid[kid]
        except (KeyError, TypeError):
            raise DirectoryError("unknown_key", f"no certificate in the directory has key {str(kid)[:16]!r}") \
                from None

    def as_json(self) -> dict[str, Any]:
        stated = {"federation": self.federation, "serial": self.serial, "issued": _time(self.issued),
                  "expires": _time(self.expires), "nodes": [self.nodes[n].as_json() for n in sorted(self.nodes)]}
        if self.witness_policy is not None:  # absent, not null: older directories stay byte-identical
            stated["witness_policy"] = self.witness_policy.as_json()
        return stated


@dataclass(frozen=True)
class RevocationList:
    """The key ids the root has revoked; a higher serial replaces a lower one. The root promises a
    newer list by `next_update`: a holder past it may be missing a revocation and raises an alarm."""

    federation: str
    serial: int
    issued: datetime
    next_update: datetime
    revoked: frozenset[str]  # key ids (kid_of)

    def __post_init__(self) -> None:
        if not self.federation:
            raise ValueError("a revocation list needs a federation name")
        if not isinstance(self.serial, int) or isinstance(self.serial, bool) or not 0 <= self.serial <= _MAX_SERIAL:
            raise ValueError("a revocation list serial is an integer from 0 to 2**53-1")
        object.__setattr__(self, "issued", _utc_seconds(self.issued, "issued"))
        object.__setattr__(self, "next_update", _utc_seconds(self.next_update, "next_update"))
        if self.next_update <= self.issued:
            raise ValueError("a revocation list's next_update must follow its issue")
        object.__setattr__(self, "revoked", frozenset(self.revoked))
        bad = [k for k in self.revoked if not isinstance(k, str) or not _KID.fullmatch(k)]
        if bad:
            raise ValueError(f"not key ids (64 lowercase hex digits): {bad[:3]}")

    def as_json(self) -> dict[str, Any]:
        return {"federation": self.federation, "serial": self.serial, "issued": _time(self.issued),
                "next_update": _time(self.next_update), "revoked": sorted(self.revoked)}


# -- signed wire form --------------------------------------------------------------------------

def _sign(inner_name: str, inner: dict[str, Any], domain: bytes, root_key: SigningKey) -> bytes:
    value = root_key.sign(domain + rfc8785.dumps(inner))
    return rfc8785.dumps({inner_name: inner, "sig": {"alg": root_key.alg, "kid": root_key.kid, "value": _b64(value)}})


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a member appears twice")
    return obj


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _open(raw: bytes, inner_name: str, domain: bytes, root_cert: x509.Certificate) -> dict[str, Any]:
    """The inner object, once the bytes are canonical and signed by the root; else DirectoryError."""
    root_key = root_public_key(root_cert)
    try:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) > MAX_SIGNED_BYTES:
            raise ValueError(f"expected at most {MAX_SIGNED_BYTES} bytes")
        outer = json.loads(bytes(raw).decode("utf-8"), object_pairs_hook=_no_duplicates,
                           parse_constant=_no_constant)
        _members(outer, {inner_name, "sig"}, f"signed {inner_name}")
        inner, sig = outer[inner_name], _members(outer["sig"], {"alg", "kid", "value"}, "sig")
        if not isinstance(inner, dict):
            raise TypeError(f"{inner_name} must be an object")
        if rfc8785.dumps(outer) != raw:
            raise ValueError("not in RFC 8785 canonical form")
        value = _unb64(sig["value"])
    except (ValueError, TypeError, RecursionError, rfc8785.CanonicalizationError) as exc:
        raise DirectoryError("malformed", f"not a signed {inner_name}: {exc}") from None
    if sig["kid"] != kid_of(root_key):
        raise DirectoryError("bad_signature", f"the {inner_name} is signed by key {str(sig['kid'])[:16]!r}, "
                                              "not by the federation root")
    try:
        verify_signature(sig["alg"], root_key, value, domain + rfc8785.dumps(inner))
    except SignatureError as exc:
        raise DirectoryError("bad_signature", f"the {inner_name} is not signed by the federation root "
                                              f"({exc.reason})") from None
    return inner


def _canonical_cert(pem: str) -> x509.Certificate:
    """A certificate in the one PEM text this code writes (no stray base64 bits, no extra text)."""
    cert = cert_from_pem(pem)
    if cert_to_pem(cert) != pem:
        raise ValueError("a certificate is not in canonical PEM form")
    return cert


def _node_entry(obj: object, root_cert: x509.Certificate) -> NodeEntry:
    optional = {"hybrid_sealing_key"} & set(obj) if isinstance(obj, dict) else set()
    n = _members(obj, {"node_id", "certificates", "broker_user", "allowed_types", "sealing_key", *optional}, "node")
    node_id = _str(n["node_id"], "node_id")
    if not is_node_id(node_id):
        raise ValueError(f"node id {node_id[:16]!r} is neither HUB nor three capital letters")
    if not isinstance(n["certificates"], list):
        raise TypeError(f"{node_id}: certificates must be a list")
    certs = tuple(_canonical_cert(_str(p, "certificate")) for p in n["certificates"])
    for cert in certs:
        try:
            check_issued_by(cert, root_cert)
        except CertificateError as exc:
            raise DirectoryError(exc.reason, f"a certificate of {node_id}: {exc.detail}") from None
        if not is_end_entity_signing_cert(cert):
            raise ValueError(f"a certificate of {node_id} is not an end-entity signing certificate")
        if node_id_of(cert) != node_id:  # the root signed it, but for another node: not this node's key
            raise DirectoryError("cert_name_mismatch",
                                 f"a certificate of {node_id_of(cert)[:16]!r} is listed for {node_id}")
    return NodeEntry(node_id, certs, _str(n["broker_user"], "broker_user"),
                     frozenset(_sorted_strings(n["allowed_types"], "allowed_types")), _unb64(n["sealing_key"]),
                     _unb64(n["hybrid_sealing_key"]) if optional else None)


def sign_directory(directory: Directory, root_key: SigningKey) -> bytes:
    """The canonical signed wire form of `directory` (an offline operation with the root key)."""
    return _sign("directory", directory.as_json(), DIRECTORY_DOMAIN, root_key)


def load_directory(raw: bytes, root_cert: x509.Certificate, now: datetime | None) -> Directory:
    """A directory verified against the root, every certificate in it issued by the root.

    `now=None` skips only the validity window: for offline audit of old bundles, and for the
    root operator re-signing an expired directory. Everything else raises DirectoryError.
    """
    inner = _open(raw, "directory", DIRECTORY_DOMAIN, root_cert)
    try:
        optional = {"witness_policy"} & set(inner)
        d = _members(inner, {"federation", "serial", "issued", "expires", "nodes", *optional}, "directory")
        if not isinstance(d["serial"], int) or not isinstance(d["nodes"], list):
            raise TypeError("serial must be an integer and nodes a list")
        entries = [_node_entry(n, root_cert) for n in d["nodes"]]
        ids = [e.node_id for e in entries]
        if ids != sorted(set(ids)):
            raise ValueError("nodes must be sorted by node_id, each once")
        directory = Directory(_str(d["federation"], "federation"), d["serial"], _parse_time(d["issued"]),
                              _parse_time(d["expires"]), {e.node_id: e for e in entries},
                              parse_witness_policy(d["witness_policy"]) if optional else None)
    except CryptoError:
        raise
    except (ValueError, TypeError) as exc:
        raise DirectoryError("malformed", f"directory content: {exc}") from None
    if now is not None:
        check_directory_window(directory, now)
    return directory


def check_directory_window(directory: Directory, now: datetime) -> None:
    """DirectoryError "not_yet_valid" / "expired" outside [issued, expires)."""
    _utc_seconds(now, "now")  # refuses a naive datetime
    if now < directory.issued:
        raise DirectoryError("not_yet_valid", f"issued {_time(directory.issued)}", valid_from=directory.issued)
    if now >= directory.expires:
        raise DirectoryError("expired", f"the directory expired {_time(directory.expires)}: ask the root for a new one",
                             valid_until=directory.expires)


def sign_revocations(revocations: RevocationList, root_key: SigningKey) -> bytes:
    """The canonical signed wire form of a revocation list (an offline operation with the root key)."""
    return _sign("revocations", revocations.as_json(), REVOCATIONS_DOMAIN, root_key)


def load_revocations(raw: bytes, root_cert: x509.Certificate) -> RevocationList:
    """A revocation list verified against the root; DirectoryError otherwise."""
    inner = _open(raw, "revocations", REVOCATIONS_DOMAIN, root_cert)
    try:
        r = _members(inner, {"federation", "serial", "issued", "next_update", "revoked"}, "revocations")
        if not isinstance(r["serial"], int):
            raise TypeError("serial must be an integer")
        return RevocationList(_str(r["federation"], "federation"), r["serial"], _parse_time(r["issued"]),
                              _parse_time(r["next_update"]), frozenset(_sorted_strings(r["revoked"], "revoked")))
    except (ValueError, TypeError) as exc:
        raise DirectoryError("malformed", f"revocation list content: {exc}") from None


# -- succession and freshness: an old, genuinely signed document must not come back ----------------

@dataclass(frozen=True)
class HeldDocument:
    """What a node or hub last accepted of one federation document: its serial and digest."""

    serial: int
    digest: str


def document_digest(document: Directory | RevocationList) -> str:
    """SHA-256 (hex) of the document's canonical content: two documents with one serial must match."""
    return hashlib.sha256(rfc8785.dumps(document.as_json())).hexdigest()


def check_succession(kind: str, held: HeldDocument | None, offered: Directory | RevocationList) -> None:
    """DirectoryError unless `offered` may replace `held`: a higher serial, or the very same document.

    `stale_<kind>` for a lower serial (an older list put back: a revoked key would sign again),
    `serial_reused` for a different document under the serial already held.
    """
    if held is None:
        return
    if offered.serial < held.serial:
        raise DirectoryError(f"stale_{kind}", f"{kind} serial {offered.serial} is older than serial {held.serial} "
                                              "already accepted here: install the newest one the root published")
    if offered.serial == held.serial and document_digest(offered) != held.digest:
        raise DirectoryError("serial_reused", f"a different {kind} with serial {held.serial}, which is already "
                                              "accepted here: the root must publish a higher serial")


def publication_kind(raw: bytes) -> str:
    """"directory" or "revocations": which signed document `raw` claims to be (its canonical first
    member names it); DirectoryError "malformed" for anything else."""
    for kind in ("directory", "revocations"):
        if isinstance(raw, (bytes, bytearray)) and bytes(raw).startswith(b'{"' + kind.encode() + b'":'):
            return kind
    raise DirectoryError("malformed", "neither a signed directory nor a signed revocation list")


def check_publication(raw: bytes, root_cert: x509.Certificate, directory: Directory, revocations: RevocationList,
                      now: datetime) -> Directory | RevocationList:
    """A published directory or revocation list that may replace the one in use, or DirectoryError:
    `malformed`, `bad_signature` (not signed by the root), `expired`/`not_yet_valid`,
    `wrong_federation`, or `stale_<kind>` for a serial not higher than the one in use (a replay or
    a rollback: the root publishes every change under a new serial)."""
    kind = publication_kind(raw)
    document: Directory | RevocationList
    if kind == "directory":
        document, held = load_directory(raw, root_cert, now), directory
    else:
        document, held = load_revocations(raw, root_cert), revocations
    if document.federation != held.federation:
        raise DirectoryError("wrong_federation", f"a {kind} of {document.federation[:64]!r}, not of "
                                                 f"{held.federation!r}")
    if document.serial <= held.serial:
        raise DirectoryError(f"stale_{kind}", f"{kind} serial {document.serial} is not higher than serial "
                                              f"{held.serial} in use here: nothing changed")
    return document


def revocations_overdue(revocations: RevocationList, now: datetime) -> bool:
    """Past `next_update`: a newer list should exist, so a revocation may be missing here."""
    return now >= revocations.next_update


# -- what verifiers use ------------------------------------------------------------------------

class _Signer(NamedTuple):
    node_id: str
    public_key: Ed25519PublicKey
    not_before: datetime
    not_after: datetime


class TrustStore:
    """Resolves a key id to its node and public key: listed, issued by the root, unrevoked, in validity.

    The first lookup of a kid checks its certificate against the root and caches the result; later
    lookups cost two dict/set probes and the validity-window comparison. Unknown kids are not cached
    (a peer could otherwise grow the cache at will).
    """

    def __init__(self, directory: Directory, revocations: RevocationList, root_cert: x509.Certificate) -> None:
        if revocations.federation != directory.federation:
            raise ValueError(f"revocations of {revocations.federation!r} for directory of {directory.federation!r}")
        self.directory = directory
        self.revocations = revocations
        self.root_cert = root_cert
        self._signers: dict[str, _Signer] = {}

    def signer(self, kid: str, now: datetime) -> tuple[str, Ed25519PublicKey]:
        """(node id, public key) for `kid` at `now`, or a CryptoError with the reason."""
        if now >= self.directory.expires:
            raise DirectoryError("directory_expired", f"the directory expired {_time(self.directory.expires)}")
        found = self._signers.get(kid)
        if found is None:
            found = self._resolve(kid)
        if kid in self.revocations.revoked:
            raise SignatureError("revoked_key", f"key {kid[:16]}… of {found.node_id} was revoked by the root")
        if now < found.not_before:
            raise CertificateError("cert_not_yet_valid", f"key {kid[:16]}… of {found.node_id} is valid from "
                                                         f"{found.not_before.isoformat()}", valid_from=found.not_before)
        if now > found.not_after:
            raise CertificateError("cert_expired", f"key {kid[:16]}… of {found.node_id} expired "
                                                   f"{found.not_after.isoformat()}", valid_until=found.not_after)
        return found.node_id, found.public_key

    def valid_keys(self, node_id: str, now: datetime) -> list[Ed25519PublicKey]:
        """The public keys of `node_id` this store accepts at `now` (several during a rotation's
        overlap), oldest first: for checking what a node signs outside envelopes (checkpoints,
        cosignatures), where no kid names the key."""
        keys = []
        for cert in self.directory.node(node_id).certificates:
            try:
                keys.append(self.signer(kid_of(cert.public_key()), now)[1])
            except CryptoError:
                continue
        return keys

    def _resolve(self, kid: str) -> _Signer:
        if kid in self.revocations.revoked:
            raise SignatureError("revoked_key", f"key {kid[:16]}… was revoked by the root")
        try:
            entry, cert = self.directory.key_for(kid)
        except DirectoryError as exc:
            raise SignatureError("unknown_key", exc.detail) from None
        check_issued_by(cert, self.root_cert)
        public_key = cert.public_key()
        assert isinstance(public_key, Ed25519PublicKey)  # Directory admits only Ed25519 certificates
        found = self._signers[kid] = _Signer(entry.node_id, public_key, cert.not_valid_before_utc,
                                             cert.not_valid_after_utc)
        return found
