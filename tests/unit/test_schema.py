"""The schema language every header and payload is checked with (issue 24): each kind of value,
its bounds exactly, and the path and words of a refusal."""

from __future__ import annotations

import pytest

from protocol import messages
from protocol.errors import DecodeError
from protocol.schema import (
    DATE, NODE_ID, SHA256_HEX, TIMESTAMP, UUID, AnyObject, Bool, Bytes, Enum, Int, List, Nullable, Num, Obj, Str, validate,
)


def refusal(schema, value: object) -> str:  # noqa: ANN001
    with pytest.raises(DecodeError) as caught:
        validate(schema, value, "bad_body")
    assert caught.value.reason == "bad_body"
    return caught.value.detail


def test_strings_have_a_length_range_choices_and_a_whole_pattern() -> None:
    text = Str(min_len=2, max_len=4, pattern=r"[a-z]+")
    for ok in ("ab", "abcd"):
        validate(text, ok, "bad_body")
    assert refusal(text, "a") == "$: length must be 2..4"
    assert refusal(text, "abcde") == "$: length must be 2..4"
    assert refusal(text, "ab1") == "$: has the wrong format"
    assert refusal(text, 12) == "$: expected a string"
    validate(Str(), "x" * 1000, "bad_body")
    assert refusal(Str(), "x" * 1001) == "$: length must be 0..1000"
    colour = Enum("red", "green")
    validate(colour, "green", "bad_body")
    assert refusal(colour, "blue") == "$: must be one of ['green', 'red']"
    assert colour.max_len == 5


def test_integers_are_not_booleans_and_stay_in_their_range() -> None:
    small = Int(minimum=1, maximum=3)
    for ok in (1, 3):
        validate(small, ok, "bad_body")
    assert refusal(small, 0) == "$: must be 1..3"
    assert refusal(small, 4) == "$: must be 1..3"
    assert refusal(small, True) == "$: expected an integer"
    assert refusal(small, 2.0) == "$: expected an integer"
    validate(Int(), 2**53 - 1, "bad_body")
    assert refusal(Int(), 2**53) == f"$: must be 0..{2**53 - 1}"
    assert refusal(Int(), -1) == f"$: must be 0..{2**53 - 1}"


def test_numbers_accept_ints_and_floats_in_range_but_not_booleans() -> None:
    unit = Num(minimum=0.0, maximum=1.0)
    for ok in (0, 0.5, 1.0):
        validate(unit, ok, "bad_body")
    assert refusal(unit, 1.5) == "$: must be 0.0..1.0"
    assert refusal(unit, -0.1) == "$: must be 0.0..1.0"
    assert refusal(unit, False) == "$: expected a number"
    assert refusal(unit, "1") == "$: expected a number"
    validate(Num(), 1e308, "bad_body")
    assert refusal(Num(), -1.7e308).startswith("$: must be ")


def test_booleans_nullables_and_any_object() -> None:
    validate(Bool(), False, "bad_body")
    assert refusal(Bool(), 0) == "$: expected true or false"
    validate(Nullable(Int()), None, "bad_body")
    assert refusal(Nullable(Int()), "x") == "$: expected an integer"
    validate(AnyObject(), {"anything": [1]}, "bad_body")
    assert refusal(AnyObject(), []) == "$: expected an object"


def test_lists_bound_their_length_and_name_the_bad_item() -> None:
    pair = List(Int(), min_items=1, max_items=2)
    validate(pair, [1, 2], "bad_body")
    validate(pair, [1], "bad_body")
    assert refusal(pair, []) == "$: must have 1..2 items"
    assert refusal(pair, [1, 2, 3]) == "$: must have 1..2 items"
    assert refusal(pair, [1, "2"]) == "$[1]: expected an integer"
    assert refusal(pair, (1,)) == "$: expected a list"
    validate(List(Int()), [0] * 1000, "bad_body")
    assert refusal(List(Int()), [0] * 1001) == "$: must have 0..1000 items"


def test_objects_refuse_unknown_and_missing_members_and_check_optional_ones() -> None:
    schema = Obj(required={"a": Int()}, optional={"b": Obj(required={"c": Str(max_len=1)})})
    validate(schema, {"a": 1}, "bad_body")
    validate(schema, {"a": 1, "b": {"c": "x"}}, "bad_body")
    assert refusal(schema, {"a": 1, "z": 2}) == "$.z: unknown field"
    assert refusal(schema, {"b": {"c": "x"}}) == "$.a: missing"
    assert refusal(schema, {"a": 1, "b": {"c": "xy"}}) == "$.b.c: length must be 0..1"
    assert refusal(schema, {"a": 1, "b": {}}) == "$.b.c: missing"
    assert refusal(schema, "a") == "$: expected an object"
    with pytest.raises(DecodeError) as caught:
        schema.check({"a": "1"}, "", "bad_header")
    assert (caught.value.reason, caught.value.detail) == ("bad_header", ".a: expected an integer")
    with pytest.raises(DecodeError) as caught:
        Int().check("1", "", "bad_header")
    assert caught.value.detail == "$: expected an integer"  # an empty path reads as the root


@pytest.mark.parametrize(("schema", "good", "bad"), [
    (NODE_ID, "ITA", ["it", "ita", "ITAL", "IT1"]),
    (UUID, "0190f0e0-0000-7000-8000-000000000004", ["0190F0E0-0000-7000-8000-000000000004", "0190f0e0"]),
    (SHA256_HEX, "ab" * 32, ["AB" * 32, "ab" * 31, "ab" * 33]),
    (TIMESTAMP, "2026-11-22T12:00:00.123456Z", ["2026-11-22T12:00:00", "2026-11-22 12:00:00Z",
                                                 "2026-11-22T12:00:00.1234567Z"]),
    (DATE, "2026-11-22", ["2026-11-2", "22-11-2026", "2026/11/22"]),
])
def test_the_common_field_formats(schema, good: str, bad: list[str]) -> None:  # noqa: ANN001
    validate(schema, good, "bad_body")
    for value in bad:
        refusal(schema, value)


def test_an_unknown_message_type_is_named_cut_to_64_characters() -> None:
    assert messages.lookup("note").name == "note"
    with pytest.raises(DecodeError) as caught:
        messages.lookup("x" * 100)
    assert (caught.value.reason, caught.value.detail) == ("unknown_type", f"no message type {'x' * 64!r}")


def test_numbers_and_booleans_inside_an_object_are_named_by_their_path() -> None:
    schema = Obj(required={"n": Num(maximum=1.0), "b": Bool()})
    assert refusal(schema, {"n": "x", "b": True}) == "$.n: expected a number"
    assert refusal(schema, {"n": 2.0, "b": True}) == "$.n: must be -1e+308..1.0"
    assert refusal(schema, {"n": 1.0, "b": "yes"}) == "$.b: expected true or false"
    assert refusal(Obj(required={"d": Nullable(DATE)}), {"d": 5}) == "$.d: expected a string"


def test_bytes_are_bounded_exactly_and_anything_else_is_refused_naming_the_path() -> None:
    validate(Bytes(max_len=3), b"a", "bad_body")
    validate(Bytes(max_len=3), b"abc", "bad_body")
    validate(Bytes(max_len=3, min_len=0), b"", "bad_body")
    assert refusal(Bytes(max_len=3), b"") == "$: length must be 1..3"
    assert refusal(Bytes(max_len=3), b"abcd") == "$: length must be 1..3"
    assert refusal(Bytes(max_len=3, min_len=2), b"a") == "$: length must be 2..3"
    for value in ("abc", bytearray(b"abc"), None, 3):
        assert refusal(Bytes(max_len=3), value) == "$: expected bytes"
    assert refusal(Obj(required={"data": Bytes(max_len=2)}), {"data": b"abc"}) == "$.data: length must be 1..2"
    assert refusal(Obj(required={"data": Bytes(max_len=2)}), {"data": "ab"}) == "$.data: expected bytes"
    with pytest.raises(DecodeError) as caught:
        validate(Bytes(max_len=2), "ab", "bad_header")
    assert caught.value.reason == "bad_header"
