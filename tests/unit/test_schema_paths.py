"""protocol/schema.py (issue 24, mut24): a refusal deep inside a body names the field's JSON path,
not the body's root, for every kind of schema."""

from __future__ import annotations

import pytest

from protocol.errors import DecodeError
from protocol.schema import AnyObject, Enum, Int, List, Obj, validate

SCHEMA = Obj(required={"a": AnyObject(), "b": List(Int(), max_items=1), "c": Enum("x", "y"), "o": Obj()})
GOOD = {"a": {}, "b": [], "c": "x", "o": {}}


@pytest.mark.parametrize(("change", "detail"), [
    ({"a": 1}, "$.a: expected an object"),
    ({"b": 1}, "$.b: expected a list"),
    ({"b": [1, 2]}, "$.b: must have 0..1 items"),
    ({"c": "z"}, "$.c: must be one of ['x', 'y']"),
    ({"o": []}, "$.o: expected an object"),
])
def test_a_refusal_names_the_path_of_the_field_at_fault(change: dict, detail: str) -> None:
    validate(SCHEMA, GOOD, "bad_body")
    with pytest.raises(DecodeError) as caught:
        validate(SCHEMA, {**GOOD, **change}, "bad_body")
    assert (caught.value.reason, caught.value.detail) == ("bad_body", detail)
