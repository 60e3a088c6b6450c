"""The fast canonical-JSON path writes exactly what RFC 8785 (the rfc8785 package) writes."""

from __future__ import annotations

import json
from pathlib import Path

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.canonical import canonical_json

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "jcs" / "vectors.json").read_text())["vectors"]

scalars = (st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=30)
           | st.floats(allow_nan=False, allow_infinity=False))
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                         | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)


@settings(max_examples=500)
@given(documents)
def test_fast_path_equals_rfc8785(document) -> None:  # noqa: ANN001
    try:
        expected = rfc8785.dumps(document)
    except Exception:  # noqa: BLE001 - rfc8785 refuses some inputs (lone surrogates): so must we
        try:
            canonical_json(document)
        except Exception:  # noqa: BLE001
            return
        raise AssertionError("canonical_json accepted what RFC 8785 refuses") from None
    assert canonical_json(document) == expected


def test_published_vectors() -> None:
    for vector in VECTORS:
        assert canonical_json(json.loads(vector["input"])) == vector["output"].encode("utf-8")
