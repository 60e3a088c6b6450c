"""Audit bundles for offline verification (`somex audit verify`): the whole log or a selection.

A bundle is cut at the newest checkpoint that `quorum` witnesses cosigned (the verifier requires
a quorum on a checkpoint covering every entry): entries after it are left for a later export.
"""

from __future__ import annotations

import base64
from typing import Any

from crypto.audit_bundle import FORMAT
from nodes.hub.log_storage import LogReader
from protocol.checkpoint import format_note


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


def export_bundle(store: LogReader, directory_raw: bytes, *, quorum: int = 0, revocations_raw: bytes | None = None,
                  thread: str | None = None,
                  since: str | None = None, until: str | None = None, message_id: str | None = None) -> dict[str, Any]:
    """Everything up to the newest checkpoint `quorum` witnesses cosigned (the newest checkpoint
    if none has them yet: the verifier then says so); with a filter, the matching entries with proofs."""
    latest = store.latest_checkpoint()
    if latest is None:
        raise LookupError("the hub has signed no checkpoint yet; try again in a few seconds")
    size = store.newest_cosigned(quorum) or latest[0]
    sizes = store.checkpoint_sizes(size)
    notes = [format_note(store.checkpoint(s)).decode() for s in sizes]  # type: ignore[arg-type]
    consistency = [{"from": a, "to": b, "hashes": _b64(store.consistency_proof(a, b))} for a, b in zip(sizes, sizes[1:])]
    # "scope" describes the export for people; the verifier ignores it and checks every entry.
    bundle: dict[str, Any] = {"format": FORMAT, "origin": store.origin, "directory": directory_raw.decode(),
                              "checkpoints": notes, "consistency": consistency}
    if revocations_raw is not None:  # the verifier then neither requires nor counts a revoked witness
        bundle["revocations"] = revocations_raw.decode()
    if not (thread or since or until or message_id):
        leaves = store.leaves(0, size)
        bundle["scope"] = {"kind": "full", "size": size}
        bundle["entries"] = [{"index": seq, "leaf": base64.b64encode(leaf).decode()} for seq, leaf in leaves]
        bundle["leaf_hashes"] = _b64(store.leaf_hashes(0, size))
        return bundle
    selected = [e for e in store.trail(thread=thread, since=since, until=until, message_id=message_id, limit=100_000)
                if e["seq"] < size]
    bundle["scope"] = {"kind": "selection", "size": size, "thread": thread, "since": since, "until": until,
                       "message_id": message_id}
    bundle["entries"] = [{"index": e["seq"], "leaf": base64.b64encode(store.entry(e["seq"])["leaf"]).decode(),
                          "size": size, "proof": _b64(store.inclusion_proof(e["seq"], size))} for e in selected]
    return bundle
