"""The audit log's tables (SQLAlchemy Core): entries, tree nodes, spent ids, forwards, parked and
dead letters, checkpoints and cosignatures. Read by nodes/hub/log_storage.py, written by the
sequencer (entries) and the checkpoint publisher (checkpoints, cosignatures).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

entries = Table(
    "audit_entries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("leaf", LargeBinary, nullable=False),  # canonical JSON: what the tree commits to
    # Copies of leaf members for queries (the leaf is authoritative):
    Column("message_id", String(36), index=True),
    Column("type", String(64), index=True),
    Column("sender", String(8), index=True),
    Column("recipients", Text, nullable=False),
    Column("thread", String(128), index=True),
    Column("verdict", String(16), nullable=False, index=True),
    Column("received_at", String(32), nullable=False, index=True),
)
# A perfect subtree (level, index) is stored under one integer key, level·2^40 + index, so that a
# proof's batch lookup is a plain primary-key IN (SQLite scans for row-value IN lists).
NODE_KEY_SHIFT = 40
tree_nodes = Table(
    "merkle_nodes", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)


def node_key(level: int, index: int) -> int:
    return level << NODE_KEY_SHIFT | index
seen = Table(
    "seen_messages", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
)
forwarded = Table(
    "forwarded", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
)
# Forwards the broker refused because the recipient's inbox was full: kept here, retried, alarmed.
parked_forwards = Table(
    "parked_forwards", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False, index=True),
    Column("recipient", String(8), nullable=False, index=True),
    Column("message_id", String(36), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("parked_at", String(32), nullable=False),
)
# Whatever the broker dead-lettered or could not route: kept with its bytes, until put back
# (`somex hub requeue-dead`, audited `requeued`); docs/audit-log.md, "Dead letters".
dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False, index=True),  # its dead_lettered / unroutable entry
    Column("message_id", String(36)),
    Column("broker_user", String(128)),
    Column("queue", String(255)),  # where it died (x-death), e.g. hub.in or node.IDN.inbox
    Column("routing_key", String(255)),
    Column("raw", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),  # JSON: what the hub can replay (its log receipt)
    Column("kept_at", String(32), nullable=False),
    Column("requested_at", String(32)),  # requeue asked for (the running hub puts it back)
    Column("requeued_at", String(32)),
)
checkpoints = Table(
    "checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the hub-signed note
    Column("at", String(32), nullable=False),
)
# Cosignatures of the checkpoints still waiting for their quorum and of the newest one that has it;
# older ones are pruned (the newest quorum checkpoint vouches for every earlier one through the
# consistency proofs a bundle carries). `rank` is the witness's place in the policy order: a served
# checkpoint carries the first MAX_SERVED_COSIGNATURES by rank.
cosignatures = Table(
    "checkpoint_cosignatures", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("witness", String(8), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("line", Text, nullable=False),  # the note signature line
    Column("timestamp", BigInteger, nullable=False),
    Index("checkpoint_cosignatures_by_rank", "size", "rank"),
)
# How many witnesses cosigned each checkpoint in `cosignatures`: the quorum is found by key, not by count.
cosigned_checkpoints = Table(
    "cosigned_checkpoints", metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("cosigners", Integer, nullable=False),
)
# Each witness's newest cosignature, kept whatever is pruned: one row per witness.
witness_latest = Table(
    "witness_latest", metadata,
    Column("witness", String(8), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

# PostgreSQL advisory lock held by whichever hub is appending: an active hub and its standby (or
# the dead-letter watchers of both) never interleave appends (docs/audit-log.md, "Standby hub").
LOG_WRITE_LOCK = 0x736F6D6578  # "somex"
