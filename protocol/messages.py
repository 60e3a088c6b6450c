"""The envelope's own fields and the registry of message types (computed from protocol/catalog.py).

A type not registered is refused with `unknown_type`.
"""

from __future__ import annotations

from protocol.catalog import REGISTRY
from protocol.errors import DecodeError
from protocol.message_class import MessageType
from protocol.schema import NODE_ID, SHA256_HEX, TIMESTAMP, UUID, AnyObject, Enum, Int, List, Obj, Str

MAX_MESSAGE_BYTES = max(t.max_bytes for t in REGISTRY.values())  # the largest bound of any type: checked before parsing

ENVELOPE_FIELDS = Obj(
    required={
        "v": Int(minimum=1, maximum=1),
        "id": UUID,
        "type": Str(max_len=64, pattern=r"[a-z]+(\.[a-z]+)*"),
        "sender": NODE_ID,
        "recipients": List(Str(min_len=1, max_len=3, pattern=r"[A-Z]{3}|\*"), min_items=1, max_items=250),
        "created": TIMESTAMP,
        "expires": TIMESTAMP,
        "handling": AnyObject(),
        "header": AnyObject(),
        "body_digest": SHA256_HEX,
        "sig": AnyObject(),
    }
)
OPTIONAL_ENVELOPE_FIELDS = {"thread": Str(min_len=1, max_len=128, pattern=r"[A-Za-z0-9._:/-]+"), "reply_to": UUID}
SIGNATURE = Obj(
    required={
        "alg": Str(max_len=32, pattern=r"[a-z0-9-]+"),
        "kid": SHA256_HEX,
        "value": Str(max_len=8192, pattern=r"[A-Za-z0-9+/]+={0,2}"),
    }
)
HANDLING = Obj(
    required={"code": Enum("H0", "H1", "H2", "H3")},
    optional={"retention_days": Int(minimum=1, maximum=36500), "condition": Str(max_len=2000)},
)


def lookup(name: str) -> MessageType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DecodeError("unknown_type", f"no message type {name[:64]!r}") from None


__all__ = ["ENVELOPE_FIELDS", "HANDLING", "MAX_MESSAGE_BYTES", "OPTIONAL_ENVELOPE_FIELDS",
           "REGISTRY", "SIGNATURE", "MessageType", "lookup"]
