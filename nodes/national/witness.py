"""A national node as a witness of the hub's audit log.

On each `hub.checkpoint`: verify the hub's signature, check consistency with the last checkpoint
this node accepted (its own record), persist the new one, and cosign it back to the hub — all in
the transaction that stores the message. Only the witnesses of the directory's witness policy
cosign, at most once per `cosign_interval` window (crypto/witness.py). An inconsistent checkpoint is never cosigned: it raises
an alarm in the logs and in the node's API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, insert, select

from crypto.note import NoteVerifier, cosign_note, cosignature_timestamp
from crypto.signing import VerifiedEnvelope
from crypto.witness import (
    WitnessError, Witnessed, check_checkpoint, cosign_interval, cosign_window, directory_witnesses,
)
from nodes.national.store import alarms, witnessed
from nodes.plumbing.config import utcnow
from protocol.checkpoint import format_note, log_origin, parse_note
from protocol.envelope import Envelope
from protocol.policy import HUB_ID
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.parts import NodeBasics, Signer

log = structlog.get_logger("somex.witness")


def last_witnessed(conn: Connection) -> Witnessed | None:
    row = conn.execute(select(witnessed.c.size, witnessed.c.root).order_by(witnessed.c.size.desc()).limit(1)).first()
    return None if row is None else Witnessed(row.size, row.root)


def witness_checkpoint(node: Signer, conn: Connection, verified: VerifiedEnvelope,
                       body: Mapping[str, Any] | None) -> Sequence[Envelope]:
    assert body is not None
    directory = node.federation.directory
    origin = log_origin(directory.federation)
    # Every key of the hub valid now: during a rotation's overlap it may still sign with the old one.
    hub_keys = [NoteVerifier(origin, k) for k in node.federation.trust.valid_keys(HUB_ID, utcnow())]
    proofs = {p["from"]: p["hashes"] for p in body["proofs"]}
    last = last_witnessed(conn)
    now = format_time(utcnow())
    try:
        checkpoint = check_checkpoint(body["note"].encode(), origin=origin,
                                      log_key=hub_keys, last=last, proofs=proofs)
    except WitnessError as exc:
        conn.execute(insert(alarms), {"kind": "checkpoint", "reason": exc.reason, "detail": exc.detail, "at": now})
        log.error("ALARM: refusing a checkpoint of the hub's audit log", reason=exc.reason, detail=exc.detail,
                  message_id=verified.id, last_size=last.size if last else None,
                  action="the hub may have rewritten or truncated its log: tell the auditors, keep this node's data")
        return ()
    if last is not None and checkpoint.size == last.size:
        return ()
    revoked = node.federation.revocations.revoked
    if node.country not in directory_witnesses(directory, revoked):
        return ()  # checked above for the alarm; cosigning is the policy's witnesses' business
    timestamp = int(utcnow().timestamp())
    interval = cosign_interval(directory, revoked)
    if interval and last is not None:
        previous = _my_cosignature_time(conn, last.size, node.country)
        if previous is not None and cosign_window(timestamp, interval) <= cosign_window(previous, interval):
            # One cosignature (one log entry) per window: the next window's first checkpoint is
            # checked against `last` with the proof the hub sends from each witness's cosigned size.
            return ()
    signature = cosign_note(checkpoint.body(), node.country, node.creds.signing_key, timestamp)
    # Kept with this node's own cosignature: what it serves to peer witnesses (witness_peers.py).
    cosigned = format_note(parse_note(body["note"].encode()).with_signature(signature)).decode()
    conn.execute(insert(witnessed), {"size": checkpoint.size, "root": checkpoint.root_hash,
                                     "note": cosigned, "at": now})
    log.info("checkpoint witnessed", size=checkpoint.size, root=checkpoint.root_hash.hex(), message_id=verified.id)
    return [node.build("witness.cosign", [HUB_ID], body={"size": checkpoint.size, "signature": signature.line().rstrip("\n")})]


def _my_cosignature_time(conn: Connection, size: int, country: str) -> int | None:
    note = conn.execute(select(witnessed.c.note).where(witnessed.c.size == size)).scalar()
    mine = [s for s in parse_note(note.encode()).signatures if s.name == country] if note else []
    return cosignature_timestamp(mine[-1]) if mine else None


def open_alarms(node: NodeBasics) -> list[dict[str, Any]]:
    with node.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(alarms).order_by(alarms.c.seq))]


def latest_cosigned_note(node: NodeBasics) -> tuple[int, str] | None:
    """(size, signed note) of the newest checkpoint this node cosigned."""
    with node.store.engine.connect() as conn:
        row = conn.execute(select(witnessed.c.size, witnessed.c.note).order_by(witnessed.c.size.desc()).limit(1)).first()
    return None if row is None else (row.size, row.note)


def raise_alarm(node: NodeBasics, kind: str, reason: str, detail: str) -> None:
    with node.store.engine.begin() as conn:
        conn.execute(insert(alarms), {"kind": kind, "reason": reason, "detail": detail, "at": format_time(utcnow())})


def latest_witnessed(node: NodeBasics) -> dict[str, Any] | None:
    with node.store.engine.connect() as conn:
        row = conn.execute(select(witnessed).order_by(witnessed.c.size.desc()).limit(1)).first()
    return None if row is None else {"size": row.size, "root": row.root.hex(), "at": row.at}
