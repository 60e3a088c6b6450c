"""The inbox's check of one delivered message: a function over plain values (the message's bytes,
its log-receipt header, the federation in force, the time), unit-tested without a broker. The
node (nodes/national/node.py) feeds it what the broker delivered, then stores and dispatches.

Order: decode → signature against the directory → addressed to this node → sender may send this
type to these recipients → the hub's signed log receipt for exactly this message (not for a
checkpoint, the hub's own statement) → the body (opened if sealed) against the type's rules → for
a federation document, the root's signature and a higher serial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crypto.directory import check_publication, publication_kind
from crypto.keys import verify_signature
from crypto.signing import VerifiedEnvelope, verify_envelope
from protocol import envelope as wire
from protocol import policy
from protocol.encoding import decode_base64
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.receipts import HEADER as LOG_HEADER
from protocol.receipts import LogReceipt, parse_log_receipt

PUBLICATION_TYPES = frozenset({"hub.directory", "hub.revocations"})


@dataclass(frozen=True)
class Delivery:
    """What the broker handed over, as plain values."""

    raw: bytes
    log_receipt: str | bytes | None  # the hub's log-receipt header, if any
    message_id: str | None = None  # the AMQP property: names a message that cannot be decoded

    @classmethod
    def of(cls, body: bytes, headers: Mapping[str, Any] | None, message_id: str | None) -> Delivery:
        header = (headers or {}).get(LOG_HEADER)
        return cls(body, header if header is None or isinstance(header, (str, bytes)) else str(header), message_id)


@dataclass(frozen=True)
class Checked:
    verified: VerifiedEnvelope
    receipt: LogReceipt | None
    body: Any


def check(delivery: Delivery, *, country: str, federation: Any, now: datetime,
          opener: Callable[[Envelope], dict[str, Any]],
          heard_from_hub: Callable[[str], None] = lambda at: None) -> Checked:
    """The checked message, or DecodeError / ProtocolError / CryptoError with a reason code.
    `opener`: the node's (reads a clear or sealed body); `heard_from_hub(at)`: told the time of a
    genuine log receipt, even if a later check refuses the message."""
    env = wire.decode(delivery.raw)
    verified = verify_envelope(env, federation.trust, now)
    if not policy.is_for(env, country):
        raise ProtocolError("misrouted", f"{env.id} is not addressed to {country}")
    directory = federation.directory
    policy.resolve_recipients(env, allowed_types=directory.node(env.sender).allowed_types,
                              countries=directory.node_ids())
    receipt = None
    if env.type != "hub.checkpoint":
        receipt = check_log_receipt(delivery.log_receipt, verified, federation.trust, now)
        heard_from_hub(receipt.at)
    body = opener(env)
    policy.check_body(env, body)
    if env.type in PUBLICATION_TYPES:  # the root's signature and a higher serial, checked here again
        document = body["document"].encode("utf-8")
        if f"hub.{publication_kind(document)}" != env.type:
            raise ProtocolError("bad_body", f"a {env.type} message carrying another kind of document")
        check_publication(document, federation.root_cert, federation.directory, federation.revocations, now)
    return Checked(verified, receipt, body)


def check_log_receipt(header: str | bytes | None, verified: VerifiedEnvelope, trust: Any, now: datetime) -> LogReceipt:
    """The hub's signed receipt that `verified` is in its log."""
    if header is None:
        raise ProtocolError("missing_log_receipt", "a message must come through the hub's log")
    receipt = parse_log_receipt(header)
    signer, key = trust.signer(receipt.kid, now)
    if signer != policy.HUB_ID:
        raise ProtocolError("bad_log_receipt", f"log receipt signed by {signer}, not the hub")
    verify_signature("ed25519", key, decode_base64(receipt.sig, "log receipt signature"), receipt.signing_input())
    if receipt.message_id != verified.id or receipt.digest != verified.digest:
        raise ProtocolError("bad_log_receipt", "log receipt is for another message")
    return receipt


__all__ = ["Checked", "Delivery", "PUBLICATION_TYPES", "check", "check_log_receipt"]
