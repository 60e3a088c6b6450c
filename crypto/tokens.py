"""API bearer tokens: 256-bit random secrets of which a node keeps only the SHA-256 digest.

A plain (unsalted, fast) hash is enough because the tokens are random, not chosen by people: no
dictionary or brute force reaches 2**256, and a fast hash keeps the per-request check cheap
(docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

_DIGEST = re.compile(r"[0-9a-f]{64}")


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What a node stores for a token: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def is_token_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def role_for(presented: str, digests: Mapping[str, str]) -> str | None:
    """The role whose stored digest matches the presented token, or None.

    Every stored digest is compared, each in constant time, so timing reveals neither which role
    nor how much of a digest matched.
    """
    digest = token_digest(presented).encode()
    found = None
    for role, stored in digests.items():
        if hmac.compare_digest(digest, stored.encode()):
            found = role
    return found
