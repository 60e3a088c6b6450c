"""UUIDv7 message ids (RFC 9562): time-ordered, so database indexes stay append-mostly.

Pure: the caller supplies the clock reading and the random bytes.
"""

from __future__ import annotations

import re

_UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def uuid7(unix_ms: int, rand: bytes) -> str:
    """Layout: 48-bit milliseconds | version 7 | 12 random bits | variant 0b10 | 62 random bits."""
    if len(rand) < 10:
        raise ValueError("uuid7 needs 10 random bytes")
    rand_a = int.from_bytes(rand[:2], "big") & 0x0FFF
    rand_b = int.from_bytes(rand[2:10], "big") & (2**62 - 1)
    value = (unix_ms & (2**48 - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid7(text: str) -> bool:
    return _UUID7.fullmatch(text) is not None
