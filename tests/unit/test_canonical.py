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


# -- the fast path's boundaries (issue 24): each value on the wrong side must still get its JCS form --

import pytest  # noqa: E402

from protocol.errors import DecodeError  # noqa: E402

SAFE = 2**53 - 1


@pytest.mark.parametrize("value", [SAFE, -SAFE, [SAFE], {"a": -SAFE}, (SAFE, -SAFE)])
def test_integers_up_to_two_to_the_53_minus_one_are_written_as_digits(value) -> None:  # noqa: ANN001
    assert canonical_json(value) == rfc8785.dumps(value)
    assert str(SAFE).encode() in canonical_json(value)


@pytest.mark.parametrize("value", [SAFE + 1, -SAFE - 1, [SAFE + 1], {"a": -SAFE - 1}, (1, SAFE + 1), 2**64])
def test_an_integer_beyond_the_safe_range_has_no_canonical_form(value) -> None:  # noqa: ANN001
    with pytest.raises(DecodeError) as caught:
        canonical_json(value)
    assert caught.value.reason == "not_canonical"
    assert caught.value.detail.startswith("no RFC 8785 form: ")


def test_keys_are_ordered_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is D83D DE00 in UTF-16: before U+FFFF, although its code point is larger
    document = {"\uffff": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(document) == '{"a":3,"\U0001f600":2,"\uffff":1}'.encode()
    assert canonical_json({"k": document}) == rfc8785.dumps({"k": document})
    assert canonical_json([document]) == rfc8785.dumps([document])


def test_floats_are_written_the_ecmascript_way() -> None:
    assert canonical_json({"a": 1.0, "b": 1e21, "c": -0.0}) == b'{"a":1,"b":1e+21,"c":0}'
    assert canonical_json([0.5]) == b"[0.5]"


def test_scalars_and_tuples_take_the_fast_path_with_the_same_bytes() -> None:
    assert canonical_json(None) == b"null"
    assert canonical_json(True) == b"true"
    assert canonical_json("é\n") == '"é\\n"'.encode()
    assert canonical_json(("b", 1)) == b'["b",1]'


@pytest.mark.parametrize("value", [{"a": b"bytes"}, {1: "a"}, [object()]])
def test_what_is_not_json_has_no_canonical_form(value) -> None:  # noqa: ANN001
    with pytest.raises(DecodeError) as caught:
        canonical_json(value)
    assert caught.value.reason == "not_canonical"


def test_a_value_nested_deeper_than_python_recurses_is_refused_with_the_typed_error() -> None:
    value: list = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(DecodeError) as caught:
        canonical_json(value)
    assert caught.value.reason == "not_canonical"


def test_a_refusals_detail_is_cut_at_200_characters() -> None:
    class Named:
        pass

    Named.__qualname__ = "N" * 500  # rfc8785 names the unsupported type in its message
    with pytest.raises(DecodeError) as caught:
        canonical_json({"a": Named()})
    assert len(caught.value.detail) == len("no RFC 8785 form: ") + 200


def test_what_somex_signs_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's promise: strings, null, booleans, safe integers, lists and objects with ASCII keys
    are written without the (slower) rfc8785 package; only the rest goes through it."""
    def not_here(value: object) -> bytes:
        raise AssertionError("rfc8785 was used for a value the fast path writes")

    document = {"s": "é", "n": None, "t": True, "f": False, "max": SAFE, "min": -SAFE, "list": [1, "a", [None]]}
    expected = rfc8785.dumps(document)
    monkeypatch.setattr("protocol.canonical.rfc8785.dumps", not_here)
    assert canonical_json(document) == expected
    for scalar in ("x", None, True, SAFE, -SAFE, 0):
        canonical_json(scalar)
    with pytest.raises(AssertionError):
        canonical_json({"a": 0.5})
