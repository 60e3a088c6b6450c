"""Sealed payloads: one content key, AES-256-GCM over the plaintext, the key wrapped with HPKE
(RFC 9180, `cryptography`'s hpke) for each recipient, the sender's own copy included.

Wire form (a string, the envelope's `sealed` member):
    base64url(JCS(header)) "." base64url(ciphertext)
header = {"v": 1, "suite": ..., "nonce": b64url, "keys": {node_id: b64url(HPKE enc || wrapped key)}}
Binary form (bytes, beside the envelope in a frame: protocol/frame.py), the same header and ciphertext:
    JCS(header) "\n" ciphertext

The AEAD's associated data is the domain, the header bytes and a caller-given `context` (for an
envelope: its type, id and sender), so a sealed payload cut from one message and pasted into
another, or a key list edited in transit, fails to open. Each wrap's HPKE `info` names the
recipient, so a wrap cannot be moved to another recipient's slot either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import CryptoError
from crypto.keys import hybrid_public_key
from protocol.encoding import NonCanonicalEncoding, decode_base64url, encode_base64url
from protocol.envelope import parse_json
from protocol.errors import DecodeError

if TYPE_CHECKING:
    from crypto.directory import NodeEntry

SEAL_DOMAIN = b"somex/seal/v1\n"
X25519 = "x25519-hkdf-sha256-aes256gcm"
MLKEM768_X25519 = "mlkem768x25519-hkdf-sha256-aes256gcm"  # hybrid post-quantum
SUITES = {
    X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
MAX_RECIPIENTS = 250


class SealError(CryptoError):
    """A sealed payload that cannot be opened.

    Reasons: `bad_seal` (malformed, tampered, or bound to another message), `not_sealed_for_us`
    (no key wrapped for this node), `unsupported_suite`, `no_hybrid_key` (a recipient publishes no
    hybrid post-quantum key).
    """


_b64 = encode_base64url


def _unb64(text: Any, what: str) -> bytes:
    try:
        return decode_base64url(text, what)
    except NonCanonicalEncoding as exc:
        raise SealError("bad_seal", str(exc)) from None


def _wrap_info(context: bytes, node_id: str) -> bytes:
    return SEAL_DOMAIN + b"key\n" + context + b"\n" + node_id.encode("ascii")


def seal(plaintext: bytes, recipients: Mapping[str, Any], context: bytes, *, suite: str = X25519) -> str:
    """Seal `plaintext` for every node in `recipients` (node id → HPKE public key of `suite`).

    Include the sender itself in `recipients` to keep a copy it can open.
    """
    header, ciphertext = _seal(plaintext, recipients, context, suite)
    return _b64(header) + "." + _b64(ciphertext)


def seal_bytes(plaintext: bytes, recipients: Mapping[str, Any], context: bytes, *, suite: str = X25519) -> bytes:
    """`seal`, in the binary form (no base64: a framed type's sealed bytes)."""
    header, ciphertext = _seal(plaintext, recipients, context, suite)
    return header + b"\n" + ciphertext


def _seal(plaintext: bytes, recipients: Mapping[str, Any], context: bytes, suite: str) -> tuple[bytes, bytes]:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}")
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"a sealed payload needs 1..{MAX_RECIPIENTS} recipients")
    content_key, nonce = AESGCM.generate_key(256), os.urandom(12)
    hpke_suite = SUITES[suite]
    keys = {node_id: _b64(hpke_suite.encrypt(content_key, public_key, info=_wrap_info(context, node_id)))
            for node_id, public_key in sorted(recipients.items())}
    header = json.dumps({"v": 1, "suite": suite, "nonce": _b64(nonce), "keys": keys},
                        sort_keys=True, separators=(",", ":")).encode()  # ASCII: ensure_ascii
    return header, AESGCM(content_key).encrypt(nonce, plaintext, SEAL_DOMAIN + header + b"\n" + context)


def sealed_recipients(sealed: str | bytes) -> tuple[str, ...]:
    """The node ids a sealed payload has a key for (readable by anyone: they are not secret)."""
    return tuple(sorted(_parse_header(sealed)[1]["keys"]))


def _parse(sealed: str | bytes) -> tuple[bytes, dict[str, Any], bytes | memoryview]:
    header_bytes, header, body = _parse_header(sealed)
    return header_bytes, header, _unb64(body, "ciphertext") if isinstance(body, str) else body


def _parse_header(sealed: str | bytes) -> tuple[bytes, dict[str, Any], str | memoryview]:
    """The header, and the ciphertext: its text not decoded (up to ~7 MiB for a file chunk), or in
    the binary form a view of its bytes."""
    if isinstance(sealed, bytes):  # the header is JSON, which never holds a raw newline: the first one ends it
        if (newline := sealed.find(b"\n")) < 0:
            raise SealError("bad_seal", "a sealed payload in bytes is header, newline, ciphertext")
        header_bytes, body = sealed[:newline], memoryview(sealed)[newline + 1:]
        return header_bytes, _checked_header(header_bytes), body
    # find, not split: the header is a few hundred characters, the ciphertext's text is sliced once
    if not isinstance(sealed, str) or (dot := sealed.find(".")) < 0 or sealed.rfind(".") != dot:
        raise SealError("bad_seal", "a sealed payload is header.ciphertext")
    header_bytes = _unb64(sealed[:dot], "header")
    return header_bytes, _checked_header(header_bytes), sealed[dot + 1:]


def _checked_header(header_bytes: bytes) -> dict[str, Any]:
    try:
        header = parse_json(header_bytes, what="seal header")  # strict: bounded nesting
    except DecodeError as exc:
        raise SealError("bad_seal", f"the header is not JSON: {exc.detail}") from None
    if (not isinstance(header, dict) or set(header) != {"v", "suite", "nonce", "keys"} or header["v"] != 1
            or not isinstance(header["keys"], dict) or not header["keys"]):
        raise SealError("bad_seal", "the header is not {v: 1, suite, nonce, keys}")
    return header


def open_sealed(sealed: str | bytes, node_id: str, private_key: Any, context: bytes) -> bytes:
    """The plaintext, if `sealed` has a key for `node_id` that `private_key` opens; else SealError."""
    header_bytes, header, ciphertext = _parse(sealed)
    hpke_suite = SUITES.get(header["suite"]) if isinstance(header["suite"], str) else None
    if hpke_suite is None:
        raise SealError("unsupported_suite", f"suite {str(header['suite'])[:64]!r} is not accepted")
    wrapped = header["keys"].get(node_id)
    if wrapped is None:
        raise SealError("not_sealed_for_us", f"sealed for {sorted(header['keys'])[:10]}, not for {node_id}")
    nonce = _unb64(header["nonce"], "nonce")
    try:
        content_key = hpke_suite.decrypt(_unb64(wrapped, "wrapped key"), private_key,
                                         info=_wrap_info(context, node_id))
        return AESGCM(content_key).decrypt(nonce, ciphertext, SEAL_DOMAIN + header_bytes + b"\n" + context)
    except (InvalidTag, ValueError, TypeError):
        raise SealError("bad_seal", "the sealed payload does not open: tampered, or bound to another message") from None


def sealed_suite(sealed: str | bytes) -> str:
    """The suite a sealed payload names (not secret), so the recipient picks the matching key."""
    suite = _parse_header(sealed)[1]["suite"]
    if not isinstance(suite, str):
        raise SealError("bad_seal", "the suite is not a string")
    return suite


def recipient_key(entry: NodeEntry, suite: str) -> Any:
    """The HPKE public key of a directory entry for `suite`; SealError if the entry publishes none."""
    if suite == X25519:
        return X25519PublicKey.from_public_bytes(entry.sealing_key)
    if suite == MLKEM768_X25519:
        if entry.hybrid_sealing_key is None:
            raise SealError("no_hybrid_key", f"{entry.node_id} publishes no ML-KEM-768 + X25519 sealing key")
        return hybrid_public_key(entry.hybrid_sealing_key)
    raise SealError("unsupported_suite", f"suite {suite[:64]!r} is not accepted")
