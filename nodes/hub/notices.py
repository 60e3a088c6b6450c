"""What the hub signs about a message it handled: the `hub.rejection` a refused sender receives (with
the audit entry recording it) and the log receipt header every forward carries.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta

from crypto.keys import SigningKey
from crypto.signing import sign_envelope
from nodes.hub.entry import ISSUED, AuditEntry
from protocol import envelope as wire
from protocol import policy
from protocol.envelope import Envelope
from protocol.ids import is_uuid7
from protocol.receipts import LogReceipt
from protocol.timefmt import format_time

REJECTION_TTL = timedelta(days=7)


def rejection_notice(refused: AuditEntry, reason: str, detail: str, to: str, key: SigningKey, now: datetime,
                     message_id: str) -> tuple[Envelope, AuditEntry]:
    """The signed `hub.rejection` telling `to` why `refused` was not delivered, and its own audit entry."""
    of = _uuid_or_none(refused.message_id)
    rejection = sign_envelope(wire.build(
        message_id=message_id, type="hub.rejection", sender=policy.HUB_ID, recipients=[to], created=now,
        ttl=REJECTION_TTL, reply_to=of,
        body={"reason": reason, "detail": detail[:2000], "at": format_time(now),
              "of": of, "of_type": (refused.type or "")[:64] or None},
    ), key)
    entry = AuditEntry(verdict=ISSUED, digest=rejection.digest(), received_at=rejection.created,
                       message_id=rejection.id, type=rejection.type, sender=policy.HUB_ID, recipients=(to,),
                       kid=rejection.sig.kid if rejection.sig else None, reason=reason, marks_seen=True)
    return rejection, entry


def log_receipt(entry: AuditEntry, message_id: str, at: str, key: SigningKey) -> str:
    """The signed log receipt header of a forward: this message is entry `entry.seq` of the log."""
    receipt = LogReceipt(message_id, entry.seq, entry.leaf_hash.hex(), entry.digest, at, kid=key.kid)
    return replace(receipt, sig=base64.b64encode(key.sign(receipt.signing_input())).decode()).to_header()


def _uuid_or_none(value: str | None) -> str | None:
    return value if value and is_uuid7(value) else None
