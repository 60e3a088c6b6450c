"""Strict decoding of bytes that travel as text (signatures, sealed payloads, proofs, keys, attachments).

Base64 has more than one text for most byte strings: the unused low bits of the last character
before `=` padding are ignored by ordinary decoders (`AB==` and `AA==` are both b"\\x00"), padding
may be missing or superfluous, and lenient decoders skip characters outside the alphabet. Where a
digest or a signature covers the text, every extra spelling is a second message with the same
meaning: a replay under a new digest, a fork of a signed note. So each decoder here accepts
exactly one text per byte string, the one the matching encoder writes, and refuses any other
with `NonCanonicalEncoding` (a ValueError, so callers map it to their own reason code).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable


class NonCanonicalEncoding(ValueError):
    """Text that is not the one canonical encoding of any byte string."""


def encode_base64(data: bytes) -> str:
    """Standard alphabet, padded (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def encode_base64url(data: bytes) -> str:
    """URL-safe alphabet, no padding (RFC 4648 section 5, as in JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_base64(text: object, what: str = "value") -> bytes:
    """The bytes of canonical standard base64 (padded, zero padding bits, nothing else in it)."""
    data = _decode(text, what, lambda t: base64.b64decode(t, validate=True))
    if encode_base64(data) != text:
        raise NonCanonicalEncoding(f"{what} is not canonical base64 (padding bits or padding)")
    return data


def decode_base64url(text: object, what: str = "value") -> bytes:
    """The bytes of canonical unpadded base64url (zero padding bits, no '=', nothing else in it)."""
    data = _decode(text, what, lambda t: base64.b64decode(t + "=" * (-len(t) % 4), altchars=b"-_", validate=True))
    if encode_base64url(data) != text:
        raise NonCanonicalEncoding(f"{what} is not canonical unpadded base64url")
    return data


def _decode(text: object, what: str, decoder: Callable[[str], bytes]) -> bytes:
    if not isinstance(text, str):
        raise NonCanonicalEncoding(f"{what} is not a string")
    if not text.isascii():
        raise NonCanonicalEncoding(f"{what} is not base64 (non-ASCII characters)")
    try:
        return decoder(text)
    except (binascii.Error, ValueError):
        raise NonCanonicalEncoding(f"{what} is not base64") from None
