"""The hub's log receipt: signed evidence that a message was accepted into the audit log.

It travels with every forwarded message as the AMQP header `x-somex-log` (JSON), so sender and
recipient can later demand the entry's inclusion proof.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from protocol.canonical import canonical_json

from protocol.encoding import NonCanonicalEncoding, decode_base64
from protocol.envelope import parse_json
from protocol.errors import DecodeError
from protocol.schema import SHA256_HEX, TIMESTAMP, UUID, Int, Obj, Str, validate

LOG_RECEIPT_DOMAIN = b"somex/log-receipt/v1\n"
HEADER = "x-somex-log"

_SCHEMA = Obj(required={
    "message_id": UUID, "index": Int(), "leaf_hash": SHA256_HEX, "digest": SHA256_HEX, "at": TIMESTAMP,
    "kid": SHA256_HEX, "sig": Str(max_len=8192, pattern=r"[A-Za-z0-9+/]+={0,2}"),
})


@dataclass(frozen=True, slots=True)
class LogReceipt:
    message_id: str
    index: int  # position of the message's entry in the hub's audit log
    leaf_hash: str  # RFC 6962 leaf hash of that entry: what an inclusion proof proves
    digest: str  # Envelope.digest() of the message
    at: str  # when the hub accepted it
    kid: str = ""
    sig: str = ""  # base64 signature by the hub's key over signing_input()

    def signing_input(self) -> bytes:
        return LOG_RECEIPT_DOMAIN + canonical_json(
            {"message_id": self.message_id, "index": self.index, "leaf_hash": self.leaf_hash,
             "digest": self.digest, "at": self.at}
        )

    def to_header(self) -> str:
        return json.dumps({"message_id": self.message_id, "index": self.index, "leaf_hash": self.leaf_hash,
                           "digest": self.digest,
                           "at": self.at, "kid": self.kid, "sig": self.sig}, separators=(",", ":"))


def parse_log_receipt(text: str | bytes) -> LogReceipt:
    try:
        obj = parse_json(text, what="log receipt")  # strict: bounded nesting, no duplicate members
    except DecodeError as exc:
        raise DecodeError("bad_log_receipt", exc.detail or exc.reason) from None
    validate(_SCHEMA, obj, "bad_log_receipt")
    try:
        decode_base64(obj["sig"], "log receipt signature")
    except NonCanonicalEncoding as exc:  # one text per receipt: it is evidence, compared byte for byte
        raise DecodeError("bad_log_receipt", str(exc)) from None
    return LogReceipt(**obj)
