"""Live federation documents at the hub: the root's new directory or revocation list, handed over by
the hub operator, is verified against the root, applied by the hub without restart, audited, and
broadcast to every node as `hub.directory` / `hub.revocations` (which each node verifies again).

The hub adds nothing of its own to the document: it carries the root-signed bytes. A hub that
withheld a publication would be seen by the nodes' `revocations_overdue` alarm (docs/pki.md).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from crypto.directory import Directory
from crypto.signing import sign_envelope
from nodes.hub.entry import ISSUED, AuditEntry
from nodes.hub.forwarding import Copies
from nodes.plumbing.config import new_message_id, utcnow
from nodes.plumbing.federation_state import accept_publication
from protocol import envelope as wire
from protocol import policy
from protocol.receipts import HEADER as LOG_HEADER
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.hub.hub_core import HubCore

log = structlog.get_logger("somex.hub")

# Long enough for a node that is down for maintenance to find it in its inbox when it returns.
PUBLICATION_TTL = timedelta(days=30)


async def publish_federation_document(hub: HubCore, raw: bytes) -> dict[str, Any]:
    """Apply and broadcast one root-signed document; DirectoryError (nothing changed) if the hub
    refuses it. Returns what was published (kind, serial, message id, recipients)."""
    async with hub.publication_lock:
        def accept() -> Any:
            with hub.store.engine.begin() as conn:
                return accept_publication(conn, hub.federation, raw, utcnow(), policy.HUB_ID)

        federation, document = await asyncio.to_thread(accept)
        hub.federation = federation  # from here on every decision uses the new documents
        kind = "directory" if isinstance(document, Directory) else "revocations"
        recipients = federation.directory.node_ids()
        now = utcnow()
        env = sign_envelope(wire.build(
            message_id=new_message_id(), type=f"hub.{kind}", sender=policy.HUB_ID, recipients=["*"],
            created=now, ttl=PUBLICATION_TTL, body={"document": raw.decode("utf-8")},
        ), hub.signing_key)
        entry = AuditEntry(verdict=ISSUED, digest=env.digest(), received_at=env.created, message_id=env.id,
                           type=env.type, sender=policy.HUB_ID, recipients=tuple(recipients),
                           kid=env.sig.kid if env.sig else None, marks_seen=True,
                           detail=f"root-signed {kind} serial {document.serial}")
        async with hub.log_lock:
            await asyncio.to_thread(hub.store.append, [entry])
        receipt = hub.log_receipt(entry, env.id, env.created)
        body = wire.encode(env)
        copies = Copies(entry.seq, tuple(recipients), env.id, body, {LOG_HEADER: receipt})  # the broker copies it
        bound = log.bind(message_id=env.id, kind=kind, serial=document.serial, seq=entry.seq)
        try:
            parked = await hub.forward([copies])
            hub.alarm_parked(parked)  # full inboxes (inbox_full)
        except Exception as exc:  # noqa: BLE001 - applied and audited: park every copy, retried later
            bound.warning("publication not sent yet: parked at the hub", error=str(exc))
            parked = copies.each()
        if parked:
            await asyncio.to_thread(hub.forwarder.park, parked, format_time(now))
        await asyncio.to_thread(hub.store.mark_forwarded, {entry.seq} if len(parked) < len(recipients) else set(),
                                format_time(utcnow()))
        bound.info("federation document published", recipients=recipients, parked=[f.to for f in parked])
        return {"kind": kind, "serial": document.serial, "message_id": env.id, "recipients": recipients}
