"""The registry of message types: who may send each, its size bound, header and body schemas.

Later issues fill in the payloads of their classes; a type not registered here is refused with
`unknown_type`.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import mla, person
from protocol.alerts import ALERT, ALERT_BATCH, HIT
from protocol.cases import CASE_JIT, CASE_MESSAGE, CASE_PERMISSION, CASE_SHARE, CASE_WITHDRAW
from protocol.errors import DecodeError
from protocol.schema import (
    NODE_ID, SHA256_HEX, TIMESTAMP, UUID, AnyObject, Enum, Int, List, Nullable, Obj, Schema, Str,
)

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 1 * MiB
MAX_MESSAGE_BYTES = 32 * MiB  # the largest bound of any type: checked before parsing


@dataclass(frozen=True)
class MessageType:
    name: str
    sender_role: str  # "node" or "hub"
    header: Schema
    body: Schema  # for sealed types: the schema of the plaintext, checked by the recipient
    sealed: bool = False
    broadcast: bool = False  # may be addressed to "*"
    receipted: bool = False  # the recipient answers with a signed `receipt`
    to_hub: bool = False  # addressed to the hub itself (recipients == ["HUB"]), never forwarded
    max_bytes: int = DEFAULT_MAX_BYTES


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

REASON = Str(max_len=64, pattern=r"[a-z0-9_]+")

_TYPES = [
    MessageType(
        "note", "node", header=Obj(),
        body=Obj(required={"text": Str(max_len=20000)}), receipted=True,
    ),
    MessageType("alert.document", "node", header=Obj(), broadcast=True, body=ALERT),
    MessageType("mla.request", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=mla.REQUEST_HEADER, body=mla.REQUEST),
    MessageType("mla.status", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=mla.EVENT_HEADER, body=mla.EVENT),
    MessageType("mla.response", "node", sealed=True, receipted=True, max_bytes=32 * MiB,
                header=mla.EVENT_HEADER, body=mla.EVENT),
    MessageType("case.share", "node", sealed=True, receipted=True, max_bytes=8 * MiB,
                header=Obj(optional={"reference": Str(max_len=128)}), body=CASE_SHARE),
    MessageType("case.withdraw", "node", sealed=True, receipted=True,
                header=Obj(optional={"reference": Str(max_len=128)}), body=CASE_WITHDRAW),
    MessageType("case.permission", "node", receipted=True, header=Obj(), body=CASE_PERMISSION),
    MessageType("case.jit", "node", sealed=True, receipted=True, header=Obj(), body=CASE_JIT),
    MessageType("case.message", "node", sealed=True, receipted=True, header=Obj(), body=CASE_MESSAGE),
    MessageType(
        "receipt", "node", header=Obj(),
        # kind `refused`: stored but its effect refused (reason: a code of docs/reason-codes.md)
        body=Obj(required={"of": UUID, "digest": SHA256_HEX,
                           "kind": Enum("delivered", "retrieved", "refused"), "at": TIMESTAMP},
                 optional={"reason": REASON}),
    ),
    MessageType(
        "hub.rejection", "hub", header=Obj(),
        body=Obj(required={"reason": REASON, "detail": Str(max_len=2000), "at": TIMESTAMP},
                 optional={"of": Nullable(UUID), "of_type": Nullable(Str(max_len=64))}),
    ),
    MessageType(
        "hub.checkpoint", "hub", header=Obj(), broadcast=True,
        # proofs: consistency proofs (base64 hashes) to this checkpoint from recent earlier sizes
        body=Obj(required={"note": Str(max_len=65536),
                           "proofs": List(Obj(required={"from": Int(), "hashes": List(Str(max_len=44), max_items=64)}),
                                          max_items=16)}),
    ),
    # A root-signed federation document (crypto/directory.py wire form, as text) the hub relays to
    # every node; each node verifies the root's signature itself and applies it without restart.
    MessageType("hub.directory", "hub", header=Obj(), broadcast=True, max_bytes=17 * MiB,
                body=Obj(required={"document": Str(max_len=16 * MiB)})),
    MessageType("hub.revocations", "hub", header=Obj(), broadcast=True, max_bytes=17 * MiB,
                body=Obj(required={"document": Str(max_len=16 * MiB)})),
    MessageType(
        "witness.cosign", "node", header=Obj(), to_hub=True,
        body=Obj(required={"size": Int(), "signature": Str(max_len=512)}),
    ),
    # Up to 1,000 alerts (≤ ~2.5 KiB each on the wire, worst case) under one signature.
    MessageType("alert.document.batch", "node", header=Obj(), broadcast=True, body=ALERT_BATCH,
                max_bytes=4 * MiB),
    MessageType("alert.hit", "node", header=Obj(), body=HIT),
    MessageType("person.alert", "node", header=Obj(), broadcast=True, body=person.PERSON_ALERT),
    MessageType("person.hit", "node", header=Obj(), body=person.PERSON_HIT),
]

REGISTRY: dict[str, MessageType] = {t.name: t for t in _TYPES}


def lookup(name: str) -> MessageType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DecodeError("unknown_type", f"no message type {name[:64]!r}") from None
