"""RFC 8785 (JCS) canonical JSON, with a fast path for the objects somex signs.

For objects without floats, with ASCII keys and integers within ±(2^53 - 1), Python's
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes exactly the JCS
bytes (same escapes, same key order); everything else goes through the `rfc8785` package.
tests/unit/test_canonical.py checks the two agree.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from protocol.errors import DecodeError

_MAX_SAFE_INT = 2**53 - 1


def _fast_path_applies(value: Any) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _fast_path_applies(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_fast_path_applies(v) for v in value)
    return False  # floats and anything else


def canonical_json(value: Any) -> bytes:
    """The JCS bytes of `value`; DecodeError `not_canonical` for what JCS cannot write (a lone
    surrogate, an integer beyond ±(2^53 - 1), a non-finite float, a non-JSON type, nesting deeper
    than Python recurses)."""
    try:
        fast = _fast_path_applies(value)
    except RecursionError:  # deeper than Python recurses: rfc8785 cannot write it either (below)
        fast = False
    if fast:
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogates: let rfc8785 refuse them
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, RecursionError) as exc:
        raise DecodeError("not_canonical", f"no RFC 8785 form: {str(exc)[:200]}") from None
