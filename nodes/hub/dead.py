"""`somex hub requeue-dead`: ask the running hub to put back what the broker dead-lettered.

The hub keeps every dead letter (its bytes, where it died) and audits it; this records the
operator's request in the audit log (`requeued`), and the running hub's requeue task puts each
one back (Hub.requeue_dead). Run it once the cause is fixed (docs/audit-log.md, "Dead letters").
"""

from __future__ import annotations

from nodes.hub.audit import AuditStore
from nodes.plumbing.config import HubConfig, utcnow
from nodes.plumbing.db import make_engine
from nodes.plumbing.federation import load_federation
from protocol.checkpoint import log_origin
from protocol.timefmt import format_time


def _store(config: HubConfig) -> AuditStore:
    federation = load_federation(config.federation_dir, utcnow())
    origin = log_origin(federation.directory.federation)
    return AuditStore(make_engine(config.db_url), origin, None, origin)


def request_requeue(config: HubConfig, ids: list[int] | None, *, by: str) -> list[int]:
    """Ask for the kept dead letters `ids` (default: all not yet put back); audited. Their ids."""
    return _store(config).request_requeue(ids, format_time(utcnow()), by)


def list_dead_letters(config: HubConfig) -> list[str]:
    return [f"#{r.id} entry {r.seq} {r.message_id or '-'} from {r.broker_user or '-'} died in {r.queue or '-'} "
            f"kept {r.kept_at} " + (f"put back {r.requeued_at}" if r.requeued_at else
                                    "requested" if r.requested_at else "waiting")
            for r in _store(config).dead_letters()]
