"""Checkpoints of the audit log: signing them (a signed note over the sequencer's tree) and collecting
the witnesses' cosignatures, pruned to what the newest quorum checkpoint and the ones after it
need. Publishing them to the witnesses over the broker is nodes/hub/checkpoint_publisher.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select

from crypto.keys import SigningKey
from crypto.note import sign_note
from nodes.hub.log_storage import LogStorage
from nodes.hub.log_tables import checkpoints, cosignatures, cosigned_checkpoints, witness_latest
from nodes.hub.sequencer import Sequencer
from protocol.checkpoint import Checkpoint, NoteSignature, SignedNote, format_note, parse_note

_CHECKPOINT_CACHE = 8  # hub-signed notes kept in memory: witnesses cosign the newest few


class Checkpoints:
    """Signs checkpoints of `sequencer`'s tree and stores the cosignatures witnesses send back."""

    def __init__(self, storage: LogStorage, sequencer: Sequencer, signer: SigningKey | None,
                 key_name: str) -> None:
        self._engine = storage.engine
        self._sequencer = sequencer
        self.origin, self._signer, self.key_name = storage.origin, signer, key_name
        self._signed_notes: dict[int, SignedNote] = {}  # size -> the hub-signed note (immutable once stored)
        self._latest: dict[str, tuple[int, int]] | None = None  # see _witness_latest

    def sign_checkpoint(self, at: str) -> SignedNote | None:
        """Sign and store a checkpoint of the current tree, unless the last one has this size."""
        if self._signer is None:
            raise RuntimeError("this audit store has no signing key")
        with self._engine.begin() as conn:
            self._sequencer.lock_and_catch_up(conn)
            latest = conn.execute(select(func.max(checkpoints.c.size))).scalar()
            size = self._sequencer.size
            if latest is not None and latest >= size:  # never a checkpoint older than one already signed
                return None
            body = Checkpoint(self.origin, size, self._sequencer.root()).body()
            note = SignedNote(body, (sign_note(body, self.key_name, self._signer),))
            conn.execute(insert(checkpoints), {"size": size, "root": self._sequencer.root(),
                                               "note": format_note(note).decode(), "at": at})
            # Cosignatures are stored by size. No checkpoint of this size or larger was stored, so any
            # held for one were made for another tree (a log cut back and regrown): never serve them
            # with this note (docs/security.md, "The hub's decision without a broker").
            conn.execute(cosignatures.delete().where(cosignatures.c.size >= size))
            conn.execute(cosigned_checkpoints.delete().where(cosigned_checkpoints.c.size >= size))
        self._signed_notes = {k: v for k, v in self._signed_notes.items() if k < size}
        return note

    def signed_checkpoint(self, size: int) -> SignedNote | None:
        """The hub-signed note of checkpoint `size` without cosignatures: what a witness cosigns.
        One key lookup, cached: checking a cosignature must not read the others."""
        note = self._signed_notes.get(size)
        if note is None:
            with self._engine.connect() as conn:
                text_ = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).scalar()
            if text_ is None:
                return None
            note = parse_note(text_.encode())
            if len(self._signed_notes) >= _CHECKPOINT_CACHE:
                self._signed_notes.pop(min(self._signed_notes))
            self._signed_notes[size] = note
        return note

    def latest_cosignature_time(self, witness: str) -> int | None:
        """The time of `witness`'s newest stored cosignature (its own clock), from memory after the
        first call: the hub checks it for every cosignature."""
        latest = self._witness_latest().get(witness)
        return None if latest is None else latest[1]

    def _witness_latest(self) -> dict[str, tuple[int, int]]:
        """witness -> (size, time) of its newest stored cosignature; read once (N rows), then kept
        in step by add_cosignature. Only the active hub stores cosignatures (single active consumer)."""
        if self._latest is None:
            with self._engine.connect() as conn:
                rows = conn.execute(select(witness_latest.c.witness, witness_latest.c.size,
                                           witness_latest.c.timestamp)).all()
            self._latest = {r.witness: (r.size, r.timestamp) for r in rows}
        return self._latest

    def add_cosignature(self, size: int, witness: str, signature: NoteSignature, timestamp: int, rank: int = 0,
                        quorum: int | None = None) -> None:
        self.add_cosignatures([(size, witness, signature, timestamp, rank, quorum)])

    def add_cosignatures(self, batch: Sequence[tuple]) -> None:
        """Store verified cosignatures, (size, witness, signature, time, rank, quorum) each, in one
        transaction of a few statements whatever the batch or the number of witnesses: no scan.

        A checkpoint that reaches its quorum prunes the cosignatures of every older checkpoint
        (each witness's newest stays in `witness_latest`). A cosignature stored already is skipped.
        """
        latest = self._witness_latest()
        fresh: dict[tuple[int, str], dict[str, Any]] = {}
        quorums: dict[int, int] = {}
        for size, witness, signature, timestamp, rank, *rest in batch:
            fresh.setdefault((size, witness), {"size": size, "witness": witness, "rank": rank,
                                               "line": signature.line(), "timestamp": timestamp})
            if rest and rest[0]:
                quorums[size] = rest[0]
        if not fresh:
            return
        sizes, witnesses = {k[0] for k in fresh}, {k[1] for k in fresh}
        with self._engine.begin() as conn:
            stored = conn.execute(select(cosignatures.c.size, cosignatures.c.witness).where(
                cosignatures.c.size.in_(sizes) & cosignatures.c.witness.in_(witnesses))).all()
            for key in stored:
                fresh.pop(tuple(key), None)
            if not fresh:
                return
            rows = list(fresh.values())
            conn.execute(insert(cosignatures), rows)
            added: dict[int, int] = {}
            for row in rows:
                added[row["size"]] = added.get(row["size"], 0) + 1
            counts = dict(conn.execute(select(cosigned_checkpoints.c.size, cosigned_checkpoints.c.cosigners)
                                       .where(cosigned_checkpoints.c.size.in_(added))).all())
            for size, n in added.items():
                if size in counts:
                    conn.execute(cosigned_checkpoints.update().where(cosigned_checkpoints.c.size == size)
                                 .values(cosigners=cosigned_checkpoints.c.cosigners + n))
                else:
                    conn.execute(insert(cosigned_checkpoints), {"size": size, "cosigners": n})
                counts[size] = counts.get(size, 0) + n
            newest: dict[str, dict[str, Any]] = {}
            for row in rows:
                if row["witness"] not in newest or newest[row["witness"]]["size"] < row["size"]:
                    newest[row["witness"]] = row
            moved = [r for w, r in newest.items() if w in latest and latest[w][0] < r["size"]]
            if moved:
                conn.execute(witness_latest.update().where(witness_latest.c.witness == bindparam("w"))
                             .where(witness_latest.c.size < bindparam("s"))
                             .values(size=bindparam("s"), line=bindparam("l"), timestamp=bindparam("t")),
                             [{"w": r["witness"], "s": r["size"], "l": r["line"], "t": r["timestamp"]} for r in moved])
            first = [{k: r[k] for k in ("witness", "size", "line", "timestamp")}
                     for w, r in newest.items() if w not in latest]
            if first:
                conn.execute(insert(witness_latest), first)
            witnessed = [size for size, quorum in quorums.items() if counts.get(size, 0) >= quorum]
            if witnessed:
                conn.execute(cosignatures.delete().where(cosignatures.c.size < max(witnessed)))
                conn.execute(cosigned_checkpoints.delete().where(cosigned_checkpoints.c.size < max(witnessed)))
        for witness, row in newest.items():
            if witness not in latest or latest[witness][0] < row["size"]:
                latest[witness] = (row["size"], row["timestamp"])
