"""Key ceremonies without I/O: a node's join request, the root's admission, the node's check of it.

A node makes its keys on its own host and sends a **join request** holding nothing secret: a
PKCS#10 CSR (CN = node id) signed by its Ed25519 signing key, its X25519 and hybrid sealing public
keys and its TLS (ECDSA P-256) public key, and contact metadata, the whole signed again by the
signing key, so that the root knows the node holds every key it asks to be listed with.

Wire form: `{"join_request": {...}, "sig": {"alg", "kid", "value"}}` in RFC 8785 canonical form,
the signature over JOIN_DOMAIN and the canonical inner object. The root operator admits it
(`admit`): certificates and a directory with the next serial; the node checks what comes back
(`check_admission`) before installing it. Refusals are JoinError with a reason code
(docs/reason-codes.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from crypto.directory import (
    HUB_ID,
    Directory,
    NodeEntry,
    RevocationList,
    is_node_id,
    load_directory,
    load_revocations,
)
from crypto.errors import CryptoError, JoinError, SignatureError
from crypto.keys import HybridSealingKey, SigningKey, kid_of, verify_signature
from crypto.pki import (
    BACKDATE,
    cert_from_pem,
    cert_to_pem,
    check_issued_by,
    federation_of,
    issue_certificate,
    issue_tls_certificate,
    tls_chain_pem,
    node_id_of,
    root_public_key,
)
from protocol.encoding import decode_base64, encode_base64

JOIN_DOMAIN = b"somex/join-request/v1\n"
MAX_REQUEST_BYTES = 64 * 1024
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
DEFAULT_OVERLAP = timedelta(days=7)  # how long a rotated-out key still verifies (messages in flight)
CONTACT_FIELDS = frozenset({"organisation", "name", "email", "phone"})
_MAX_CONTACT_CHARS = 200
_REQUEST_MEMBERS = {"v", "node_id", "csr", "sealing_key", "hybrid_sealing_key", "tls_public_key", "contact"}
_BUNDLE_MEMBERS = {"node_id", "root_cert", "signing_cert", "tls_cert", "directory", "revocations"}


# -- the join request ---------------------------------------------------------------------------

@dataclass(frozen=True)
class JoinRequest:
    """A verified join request: every key in it is proven held by the node that signed it."""

    node_id: str
    signing_key: Ed25519PublicKey
    sealing_key: bytes  # raw X25519 public key
    hybrid_sealing_key: bytes  # HybridSealingKey.public_bytes()
    tls_public_key: ec.EllipticCurvePublicKey
    contact: Mapping[str, str]
    fingerprint: str  # SHA-256 of the request bytes, read out over a second channel

    @property
    def kid(self) -> str:
        return kid_of(self.signing_key)


def fingerprint(raw: bytes) -> str:
    """SHA-256 of a file, hex in groups of four: what two operators read to each other on the phone."""
    digest = hashlib.sha256(raw).hexdigest()
    return " ".join(digest[i:i + 4] for i in range(0, len(digest), 4))


def make_join_request(node_id: str, signing_key: SigningKey, sealing_public: bytes, hybrid_public: bytes,
                      tls_public_key: ec.EllipticCurvePublicKey, contact: Mapping[str, str] | None = None) -> bytes:
    """The canonical signed join request of a node whose keys are these (it signs with `signing_key`)."""
    if not is_node_id(node_id):
        raise ValueError(f"{node_id!r} is neither HUB nor an ISO 3166-1 alpha-3 code (three capital letters)")
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)]))
           .sign(signing_key.private_key, None))
    tls_pem = tls_public_key.public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    inner = {"v": 1, "node_id": node_id, "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
             "sealing_key": encode_base64(sealing_public), "hybrid_sealing_key": encode_base64(hybrid_public),
             "tls_public_key": tls_pem, "contact": _contact(dict(contact or {}))}
    value = signing_key.sign(JOIN_DOMAIN + rfc8785.dumps(inner))
    return rfc8785.dumps({"join_request": inner,
                          "sig": {"alg": signing_key.alg, "kid": signing_key.kid, "value": encode_base64(value)}})


def load_join_request(raw: bytes) -> JoinRequest:
    """A join request whose CSR and whole-request signatures verify; JoinError otherwise.

    `malformed_request` for anything but the exact canonical bytes this code writes (truncated,
    re-encoded, unknown members), `bad_node_id` for an id that is neither alpha-3 nor HUB,
    `bad_request_signature` for a CSR or request signature that does not verify.
    """
    outer = _canonical_json(raw, MAX_REQUEST_BYTES, "join request", "malformed_request")
    try:
        _members(outer, {"join_request", "sig"}, "join request")
        inner = _members(outer["join_request"], _REQUEST_MEMBERS, "join_request")
        sig = _members(outer["sig"], {"alg", "kid", "value"}, "sig")
        if inner["v"] != 1:
            raise ValueError(f"version {inner['v']!r} is not 1")
        node_id = inner["node_id"]
        csr = x509.load_pem_x509_csr(_text(inner["csr"], "csr").encode("ascii"))
        if csr.public_bytes(serialization.Encoding.PEM).decode("ascii") != inner["csr"]:
            raise ValueError("the CSR is not in canonical PEM form")
        signing_key = csr.public_key()
        tls_key = serialization.load_pem_public_key(_text(inner["tls_public_key"], "tls_public_key").encode("ascii"))
        sealing = decode_base64(inner["sealing_key"], "sealing_key")
        hybrid = decode_base64(inner["hybrid_sealing_key"], "hybrid_sealing_key")
        contact = _contact(inner["contact"])
        value = decode_base64(sig["value"], "sig.value")
    except (ValueError, TypeError, UnicodeError) as exc:
        raise JoinError("malformed_request", f"not a join request: {exc}") from None
    if not is_node_id(node_id):
        raise JoinError("bad_node_id", f"{str(node_id)[:16]!r} is neither HUB nor an ISO 3166-1 alpha-3 code "
                                       "(three capital letters)")
    if not isinstance(signing_key, Ed25519PublicKey):
        raise JoinError("malformed_request", f"the CSR carries a {type(signing_key).__name__}, not an Ed25519 key")
    if not isinstance(tls_key, ec.EllipticCurvePublicKey) or not isinstance(tls_key.curve, ec.SECP256R1):
        raise JoinError("malformed_request", "the TLS public key is not an ECDSA P-256 key")
    if len(sealing) != 32 or len(hybrid) != HybridSealingKey.PUBLIC_SIZE:
        raise JoinError("malformed_request", f"sealing keys must be 32 and {HybridSealingKey.PUBLIC_SIZE} bytes")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != node_id:
        raise JoinError("cert_name_mismatch", f"the CSR names {[n.value for n in names]!r}, the request {node_id}")
    if not csr.is_signature_valid:
        raise JoinError("bad_request_signature", "the CSR is not signed by the key it carries")
    if sig["kid"] != kid_of(signing_key):
        raise JoinError("bad_request_signature", "the request is not signed by the key in its CSR")
    try:
        verify_signature(sig["alg"], signing_key, value, JOIN_DOMAIN + rfc8785.dumps(inner))
    except SignatureError as exc:
        raise JoinError("bad_request_signature", f"the request's signature does not verify ({exc.reason}): "
                                                 "ask the node for a new request") from None
    return JoinRequest(node_id, signing_key, sealing, hybrid, tls_key, contact, fingerprint(raw))


# -- the root's admission -------------------------------------------------------------------------

@dataclass(frozen=True)
class Admission:
    """What the root issues for one request: the node's certificates and the next directory."""

    node_id: str
    signing_cert: x509.Certificate
    tls_cert: x509.Certificate
    tls_ca_cert: x509.Certificate  # the TLS CA that issued tls_cert (certified by the root)
    directory: Directory


def admit(request: JoinRequest, root_key: SigningKey, root_cert: x509.Certificate,
          tls_ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], current: Directory | None,
          now: datetime, *, broker_user: str, allowed_types: frozenset[str], rotation: bool = False,
          overlap: timedelta = DEFAULT_OVERLAP, directory_days: int = 365) -> Admission:
    """Certificates for `request` (its signing certificate from the root, its TLS certificate from
    the root's TLS CA `tls_ca`) and `current` with it added, serial + 1.

    With `rotation`, the member's new key is listed beside its old ones, whose certificates are
    re-issued to end `overlap` from now (or sooner, if they did): messages signed by an old key
    still verify until then (those in flight), and are refused as `cert_expired` after it, with no
    further publication needed.

    JoinError: `already_member` (a new member under an id the directory has, without rotation),
    `not_a_member` (a rotation for an id it has not), `hub_first` (the first admission must be the
    hub: a directory lists it), `key_reused` (a signing key the directory already lists).
    """
    if current is None and request.node_id != HUB_ID:
        raise JoinError("hub_first", "a federation's first admission is its hub: admit the hub's request first")
    nodes = dict(current.nodes) if current else {}
    if rotation and request.node_id not in nodes:
        raise JoinError("not_a_member", f"{request.node_id} is not a member: admit it without --rotation")
    if not rotation and request.node_id in nodes:
        raise JoinError("already_member", f"{request.node_id} is already a member: a new key for it is a "
                                          "rotation (--rotation), anything else is an impostor")
    if current is not None:
        try:
            holder, _ = current.key_for(request.kid)
        except CryptoError:
            pass
        else:
            raise JoinError("key_reused", f"this signing key is already listed for {holder.node_id}: "
                                          "the node must generate a new one")
    signing_cert = issue_certificate(root_key, root_cert, request.node_id, request.signing_key, now)
    tls_cert = issue_tls_certificate(*tls_ca, request.node_id, request.tls_public_key, now)
    old = nodes.get(request.node_id)
    retiring = tuple(_until(c, now + overlap, root_key, root_cert, now) for c in old.certificates
                     if c.not_valid_after_utc > now) if old else ()  # ended ones are dropped
    nodes[request.node_id] = NodeEntry(
        request.node_id, (*retiring, signing_cert),
        old.broker_user if old else broker_user, old.allowed_types if old else allowed_types,
        request.sealing_key, request.hybrid_sealing_key)
    expires = max(now + timedelta(days=directory_days), current.expires if current else now)
    directory = Directory(federation_of(root_cert), current.serial + 1 if current else 1, now - BACKDATE,
                          expires, nodes)
    return Admission(request.node_id, signing_cert, tls_cert, tls_ca[1], directory)


def _until(cert: x509.Certificate, end: datetime, root_key: SigningKey, root_cert: x509.Certificate,
           now: datetime) -> x509.Certificate:
    """`cert` re-issued to end at `end`, unless it ends sooner already (or has ended)."""
    if cert.not_valid_after_utc <= end:
        return cert
    public_key = cert.public_key()
    assert isinstance(public_key, Ed25519PublicKey)  # a directory lists only Ed25519 signing certificates
    return issue_certificate(root_key, root_cert, node_id_of(cert), public_key, now, not_after=end)


def make_bundle(admission: Admission, root_cert: x509.Certificate, signed_directory: bytes,
                signed_revocations: bytes) -> bytes:
    """The admission bundle the node installs: its certificates, the root certificate and the signed
    federation documents (everything in it is public; its integrity comes from the root's signatures)."""
    return rfc8785.dumps({"admission": {
        "node_id": admission.node_id, "root_cert": cert_to_pem(root_cert),
        "signing_cert": cert_to_pem(admission.signing_cert), "tls_cert": tls_chain_pem(admission.tls_cert, admission.tls_ca_cert).decode("ascii"),
        "directory": signed_directory.decode("utf-8"), "revocations": signed_revocations.decode("utf-8")}})


# -- the node's check of what it is given ----------------------------------------------------------

@dataclass(frozen=True)
class CheckedAdmission:
    root_cert: x509.Certificate
    signing_cert: x509.Certificate
    tls_cert: x509.Certificate
    tls_ca_cert: x509.Certificate
    directory: Directory
    revocations: RevocationList
    signed_directory: bytes
    signed_revocations: bytes


def check_admission(raw: bytes, node_id: str, signing_key: Ed25519PublicKey, sealing_key: bytes,
                    hybrid_sealing_key: bytes, tls_public_key: ec.EllipticCurvePublicKey, now: datetime,
                    root_fingerprint: Callable[[x509.Certificate], None]) -> CheckedAdmission:
    """The bundle, once it is for exactly this node's keys, from the root `root_fingerprint` accepts
    (it raises JoinError `unknown_root` otherwise), and its directory lists these keys for this node.

    JoinError `malformed_bundle`, `bundle_mismatch` (another node's or other keys),
    `cert_name_mismatch`; DirectoryError for a directory or revocation list the root did not sign.
    """
    outer = _canonical_json(raw, MAX_BUNDLE_BYTES, "admission bundle", "malformed_bundle")
    try:
        b = _members(_members(outer, {"admission"}, "bundle")["admission"], _BUNDLE_MEMBERS, "admission")
        root_cert, signing_cert = (cert_from_pem(_text(b[k], k)) for k in ("root_cert", "signing_cert"))
        tls_chain = x509.load_pem_x509_certificates(_text(b["tls_cert"], "tls_cert").encode("ascii"))
        if len(tls_chain) != 2:
            raise ValueError("tls_cert holds the TLS certificate and the TLS CA's, nothing else")
        tls_cert, tls_ca_cert = tls_chain
        signed_directory = _text(b["directory"], "directory").encode("utf-8")
        signed_revocations = _text(b["revocations"], "revocations").encode("utf-8")
        root_public_key(root_cert)
        root_cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, CryptoError, InvalidSignature) as exc:
        raise JoinError("malformed_bundle", f"not an admission bundle: {exc}") from None
    root_fingerprint(root_cert)
    if b["node_id"] != node_id:
        raise JoinError("bundle_mismatch", f"the bundle is for {str(b['node_id'])[:16]!r}, this node is {node_id}")
    directory = load_directory(signed_directory, root_cert, now)
    revocations = load_revocations(signed_revocations, root_cert)
    check_issued_by(tls_ca_cert, root_cert)
    try:
        tls_cert.verify_directly_issued_by(tls_ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise JoinError("bundle_mismatch", "the TLS certificate is not from the federation's TLS CA") from None
    for cert in (signing_cert, tls_cert):
        if cert is signing_cert:
            check_issued_by(cert, root_cert)
        if node_id_of(cert) != node_id:
            raise JoinError("cert_name_mismatch", f"a certificate for {node_id_of(cert)[:16]!r} in {node_id}'s bundle")
    if kid_of(signing_cert.public_key()) != kid_of(signing_key):
        raise JoinError("bundle_mismatch", "the signing certificate is not for this node's signing key")
    if _spki(tls_cert.public_key()) != _spki(tls_public_key):
        raise JoinError("bundle_mismatch", "the TLS certificate is not for this node's TLS key")
    entry = directory.node(node_id)
    if signing_cert not in entry.certificates:
        raise JoinError("bundle_mismatch", f"the directory does not list this signing certificate for {node_id}")
    if entry.sealing_key != sealing_key or entry.hybrid_sealing_key != hybrid_sealing_key:
        raise JoinError("bundle_mismatch", f"the directory lists other sealing keys for {node_id}: "
                                           "nobody could seal to this node")
    return CheckedAdmission(root_cert, signing_cert, tls_cert, tls_ca_cert, directory, revocations,
                            signed_directory, signed_revocations)


def root_fingerprint_of(root_cert: x509.Certificate) -> str:
    return fingerprint(root_cert.fingerprint(hashes.SHA256()))


# -- helpers ---------------------------------------------------------------------------------------

def _spki(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a member appears twice")
    return obj


def _canonical_json(raw: bytes, limit: int, what: str, reason: str) -> Any:
    """The parsed object, if `raw` is at most `limit` bytes of RFC 8785 canonical JSON."""
    try:
        if not isinstance(raw, (bytes, bytearray)) or len(raw) > limit:
            raise ValueError(f"expected at most {limit} bytes")
        obj = json.loads(bytes(raw).decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_constant=lambda name: (_ for _ in ()).throw(ValueError(f"{name} is not JSON")))
        if rfc8785.dumps(obj) != raw:
            raise ValueError("not in RFC 8785 canonical form (re-encoded or edited)")
    except (ValueError, TypeError, RecursionError, rfc8785.CanonicalizationError) as exc:
        raise JoinError(reason, f"not a {what}: {exc}") from None
    return obj


def _members(obj: object, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError(f"{what} must be an object")
    if set(obj) != names:
        raise ValueError(f"{what}: unknown members {sorted(set(obj) - names)}, missing {sorted(names - set(obj))}")
    return obj


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string")
    return value


def _contact(contact: object) -> dict[str, str]:
    if not isinstance(contact, dict) or not set(contact) <= CONTACT_FIELDS:
        raise ValueError(f"contact must be an object with some of {sorted(CONTACT_FIELDS)}")
    for key, value in contact.items():
        if not isinstance(value, str) or not 0 < len(value) <= _MAX_CONTACT_CHARS or not value.isprintable():
            raise ValueError(f"contact {key} must be printable text of 1 to {_MAX_CONTACT_CHARS} characters")
    return contact
