"""A national node as a witness of the hub's audit log.

On each `hub.checkpoint`: verify the hub's signature, check consistency with the last checkpoint
this node accepted (its own record), persist the new one, and cosign it back to the hub — all in
the transaction that stores the message. An inconsistent checkpoint is never cosigned: it raises
an alarm in the logs and in the node's API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Column, Connection, Integer, LargeBinary, String, Table, Text, insert, select

from crypto.note import NoteVerifier, cosign_note
from crypto.signing import VerifiedEnvelope
from crypto.witness import WitnessError, Witnessed, check_checkpoint
from nodes.national.store import metadata
from nodes.runtime.config import utcnow
from protocol.envelope import Envelope
from protocol.policy import HUB_ID
from protocol.timefmt import format_time

if TYPE_CHECKING:
    from nodes.national.node import NationalNode

log = structlog.get_logger("somex.witness")

witnessed = Table(
    "witnessed_checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("at", String(32), nullable=False),
)
alarms = Table(
    "alarms", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text),
    Column("at", String(32), nullable=False),
)


def last_witnessed(conn: Connection) -> Witnessed | None:
    row = conn.execute(select(witnessed.c.size, witnessed.c.root).order_by(witnessed.c.size.desc()).limit(1)).first()
    return None if row is None else Witnessed(row.size, row.root)


def witness_checkpoint(node: NationalNode, conn: Connection, verified: VerifiedEnvelope,
                       body: Mapping[str, Any] | None) -> Sequence[Envelope]:
    from nodes.hub.relay import log_origin

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
    conn.execute(insert(witnessed), {"size": checkpoint.size, "root": checkpoint.root_hash,
                                     "note": body["note"], "at": now})
    signature = cosign_note(checkpoint.body(), node.country, node.creds.signing_key, int(utcnow().timestamp()))
    log.info("checkpoint witnessed", size=checkpoint.size, message_id=verified.id)
    return [node.build("witness.cosign", [HUB_ID], body={"size": checkpoint.size, "signature": signature.line().rstrip("\n")})]


def open_alarms(node: NationalNode) -> list[dict[str, Any]]:
    with node.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(alarms).order_by(alarms.c.seq))]


def latest_witnessed(node: NationalNode) -> dict[str, Any] | None:
    with node.store.engine.connect() as conn:
        row = conn.execute(select(witnessed).order_by(witnessed.c.size.desc()).limit(1)).first()
    return None if row is None else {"size": row.size, "root": row.root.hex(), "at": row.at}
