"""Strict decoding of bytes that travel as text (signatures, sealed payloads, proofs, keys, attachments).

Base64 has more than one text for most byte strings: the unused low bits of the last character
before `=` padding are ignored by ordinary decoders (`AB==` and `AA==` are both b"\\x00"), padding
may be missing or superfluous, and lenient decoders skip characters outside the alphabet. Where a
digest or a signature covers the text, every extra spelling is a second message with the same
meaning: a replay under a new digest, a fork of a signed note. So each decoder here accepts
exactly one text per byte string, the one the matching encoder writes, and refuses any other
with `NonCanonicalEncoding` (a ValueError, so callers map it to their own reason code).

How, without a second pass over a large text (a file chunk's ciphertext is ~7.5 MiB):
`binascii.a2b_base64(strict_mode=True)` refuses any character outside the alphabet, missing,
misplaced padding; what it still lets through is unused bits set in the last group and '=' after a
whole group (`AAAA==`), so only that group (the last 1-2 bytes) is encoded again and compared with
the text's end, and the text's length with the data's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

# base64url -> the standard alphabet for a2b_base64; '+' and '/' are not base64url text: '!' (in
# neither alphabet) makes the strict decoder refuse them. '=' passes: its text is not canonical.
_URLSAFE_AS_STANDARD = bytes.maketrans(b"-_+/", b"+/!!")


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
    data = _strict(_ascii(text, what), what)
    if not _last_group_is(encode_base64, data, text):
        raise NonCanonicalEncoding(f"{what} is not canonical base64 (padding bits or padding)")
    return data


def decode_base64url(text: object, what: str = "value") -> bytes:
    """The bytes of canonical unpadded base64url (zero padding bits, no '=', nothing else in it)."""
    ascii_text = _ascii(text, what)
    data = _strict(ascii_text.encode().translate(_URLSAFE_AS_STANDARD) + b"=" * (-len(ascii_text) % 4), what)
    if not _last_group_is(encode_base64url, data, ascii_text):
        raise NonCanonicalEncoding(f"{what} is not canonical unpadded base64url")
    return data


def _ascii(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise NonCanonicalEncoding(f"{what} is not a string")
    if not text.isascii():
        raise NonCanonicalEncoding(f"{what} is not base64 (non-ASCII characters)")
    return text


def _strict(text: str | bytes, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        raise NonCanonicalEncoding(f"{what} is not base64") from None


def _last_group_is(encode: Callable[[bytes], str], data: bytes, text: str) -> bool:
    """Whether the text ends as `encode` writes the data's last, partial group (whole groups of three
    bytes have no unused bits: the strict decoder checked them), with nothing after it."""
    tail = encode(data[len(data) - len(data) % 3:])
    return text.endswith(tail) and len(text) == len(data) // 3 * 4 + len(tail)
