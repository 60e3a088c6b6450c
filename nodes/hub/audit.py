"""The hub's audit log: an append-only Merkle log (RFC 6962) of every message decision.

Three parts with narrow interfaces: storage (nodes/hub/log_storage.py: entries, proofs,
checkpoints and cosignatures as stored), the sequencer (nodes/hub/sequencer.py: numbers and
commits each batch under the log's write lock) and checkpoints (nodes/hub/checkpoints.py: signs
them, collects cosignatures). `AuditStore` is the three together, as the relay uses them; the
web part reads through `LogReader` only. Forward completion is recorded apart from the entries,
so that entries are never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from crypto.keys import SigningKey
from nodes.hub.checkpoints import Checkpoints
from nodes.hub.entry import (
    ACCEPTED, DEAD_LETTERED, ISSUED, LEAF_FIELDS, REJECTED, REQUEUED, UNROUTABLE, AuditEntry, SeenMessage,
    decode_leaf,
)
from nodes.hub.log_storage import LogReader, LogStorage
from nodes.hub.sequencer import Sequencer
from nodes.hub.log_tables import (
    LOG_WRITE_LOCK, NODE_KEY_SHIFT, checkpoints, cosignatures, cosigned_checkpoints, dead_letters, entries, forwarded,
    metadata, node_key, parked_forwards, seen, tree_nodes, witness_latest,
)
from protocol.checkpoint import NoteSignature, SignedNote

class AuditStore(LogStorage):
    """The log's storage with its sequencer and checkpoint signer: what the relay appends through."""

    def __init__(self, engine: Engine, origin: str = "somex audit log", signer: SigningKey | None = None,
                 key_name: str = "somex-hub") -> None:
        super().__init__(engine, origin, key_name)
        self.sequencer = Sequencer(self)
        self.checkpointing = Checkpoints(self, self.sequencer, signer, key_name)

    @property
    def size(self) -> int:
        return self.sequencer.size

    def root(self) -> bytes:
        return self.sequencer.root()

    def append(self, batch: Sequence[AuditEntry], dead_letter: dict[str, Any] | None = None,
               forwarded: Mapping[int, str] | None = None) -> None:
        self.sequencer.append(batch, dead_letter, forwarded)

    def request_requeue(self, ids: Sequence[int] | None, at: str, by: str) -> list[int]:
        return self.sequencer.request_requeue(ids, at, by)

    def sign_checkpoint(self, at: str) -> SignedNote | None:
        return self.checkpointing.sign_checkpoint(at)

    def signed_checkpoint(self, size: int) -> SignedNote | None:
        return self.checkpointing.signed_checkpoint(size)

    def latest_cosignature_time(self, witness: str) -> int | None:
        return self.checkpointing.latest_cosignature_time(witness)

    def add_cosignature(self, size: int, witness: str, signature: NoteSignature, timestamp: int, rank: int = 0,
                        quorum: int | None = None) -> None:
        self.checkpointing.add_cosignature(size, witness, signature, timestamp, rank, quorum)

    def add_cosignatures(self, batch: Sequence[tuple]) -> None:
        self.checkpointing.add_cosignatures(batch)

__all__ = [
    "ACCEPTED", "DEAD_LETTERED", "ISSUED", "LEAF_FIELDS", "LOG_WRITE_LOCK", "NODE_KEY_SHIFT", "REJECTED", "REQUEUED",
    "UNROUTABLE", "AuditEntry", "AuditStore", "LogReader", "LogStorage", "SeenMessage", "checkpoints", "cosignatures",
    "cosigned_checkpoints", "dead_letters", "decode_leaf", "entries", "forwarded", "metadata", "node_key",
    "parked_forwards", "seen", "tree_nodes", "witness_latest",
]
