"""A small, strict schema language for message headers and payloads.

Schemas are values (`Obj`, `Str`, `Int`, ...) checked by `validate`, which raises
`DecodeError(reason, detail)` naming the JSON path of the first offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import DecodeError


class Schema:
    def check(self, value: Any, path: str, reason: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _fail(reason: str, path: str, what: str) -> None:
    raise DecodeError(reason, f"{path or '$'}: {what}")


@dataclass(frozen=True)
class Str(Schema):
    max_len: int = 1000
    min_len: int = 0
    pattern: str | None = None
    choices: frozenset[str] | None = None

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, str):
            _fail(reason, path, "expected a string")
        if not self.min_len <= len(value) <= self.max_len:
            _fail(reason, path, f"length must be {self.min_len}..{self.max_len}")
        if self.choices is not None and value not in self.choices:
            _fail(reason, path, f"must be one of {sorted(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            _fail(reason, path, "has the wrong format")


def Enum(*choices: str) -> Str:
    return Str(max_len=max(map(len, choices)), choices=frozenset(choices))


@dataclass(frozen=True)
class Bytes(Schema):
    """Raw bytes: a type whose sealed plaintext is bytes, not JSON (a file chunk), reads as {"data": bytes}."""

    max_len: int
    min_len: int = 1

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, bytes):
            _fail(reason, path, "expected bytes")
        if not self.min_len <= len(value) <= self.max_len:
            _fail(reason, path, f"length must be {self.min_len}..{self.max_len}")


@dataclass(frozen=True)
class Int(Schema):
    minimum: int = 0
    maximum: int = 2**53 - 1

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(reason, path, "expected an integer")
        if not self.minimum <= value <= self.maximum:
            _fail(reason, path, f"must be {self.minimum}..{self.maximum}")


@dataclass(frozen=True)
class Num(Schema):
    minimum: float = -1e308
    maximum: float = 1e308

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            _fail(reason, path, "expected a number")
        if not self.minimum <= value <= self.maximum:
            _fail(reason, path, f"must be {self.minimum}..{self.maximum}")


@dataclass(frozen=True)
class Bool(Schema):
    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, bool):
            _fail(reason, path, "expected true or false")


@dataclass(frozen=True)
class Nullable(Schema):
    inner: Schema

    def check(self, value: Any, path: str, reason: str) -> None:
        if value is not None:
            self.inner.check(value, path, reason)


@dataclass(frozen=True)
class List(Schema):
    item: Schema
    max_items: int = 1000
    min_items: int = 0

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, list):
            _fail(reason, path, "expected a list")
        if not self.min_items <= len(value) <= self.max_items:
            _fail(reason, path, f"must have {self.min_items}..{self.max_items} items")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]", reason)


@dataclass(frozen=True)
class Obj(Schema):
    required: Mapping[str, Schema] = field(default_factory=dict)
    optional: Mapping[str, Schema] = field(default_factory=dict)

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, dict):
            _fail(reason, path, "expected an object")
        for name in value:
            if name not in self.required and name not in self.optional:
                _fail(reason, f"{path}.{name}", "unknown field")
        for name, schema in self.required.items():
            if name not in value:
                _fail(reason, f"{path}.{name}", "missing")
            schema.check(value[name], f"{path}.{name}", reason)
        for name, schema in self.optional.items():
            if name in value:
                schema.check(value[name], f"{path}.{name}", reason)


def validate(schema: Schema, value: Any, reason: str) -> None:
    """Raise DecodeError(reason, '<path>: <what>') unless `value` matches `schema`."""
    schema.check(value, "$", reason)


NODE_ID = Str(min_len=3, max_len=3, pattern=r"[A-Z]{3}")
UUID = Str(min_len=36, max_len=36, pattern=r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA256_HEX = Str(min_len=64, max_len=64, pattern=r"[0-9a-f]{64}")
TIMESTAMP = Str(max_len=32, pattern=r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
DATE = Str(min_len=10, max_len=10, pattern=r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class AnyObject(Schema):
    """A JSON object whose members another schema checks later."""

    def check(self, value: Any, path: str, reason: str) -> None:
        if not isinstance(value, dict):
            _fail(reason, path, "expected an object")
